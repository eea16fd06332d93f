// What run.ts asks the load generator to do over IPC, and what it answers.

/** How a client speaks to a target: as the browser page, telnet, nc or ssh would for that transport. */
export type ClientProtocol = 'tcp' | 'telnet' | 'websocket' | 'ws_telnet' | 'ssh';

/** One server to load: where it listens, how to speak to it, and its process (for CPU and RSS). */
export interface TargetAddress {
  protocol: ClientProtocol;
  port: number;
  /** WebSocket path; ignored by tcp, telnet and ssh. */
  path: string;
  pid: number;
}

/**
 * How long targets measured together run: each has `warmupMs` uncounted, then they take turns in
 * slices of about `sliceMs` until each has run `durationMs`. Only one target is loaded at a time;
 * slices short against the machine's slow spells make every target see the same machine.
 */
export interface Timing {
  warmupMs: number;
  durationMs: number;
  sliceMs: number;
}

/** Clients that each keep `depth` lines in flight: 1 is closed-loop, more is pipelined. */
export interface EchoRequest extends Timing {
  kind: 'echo';
  /** Measured together, in slices; the answer has one result per target, in this order. */
  targets: TargetAddress[];
  clients: number;
  depth: number;
}

/** Workers that connect, read the welcome and close, over and over. */
export interface ConnectRequest extends Timing {
  kind: 'connect';
  /** As for EchoRequest. */
  targets: TargetAddress[];
  concurrency: number;
}

/** Idle connections opened in steps, the server's RSS read at each step. */
export interface IdleRequest {
  kind: 'idle';
  target: TargetAddress;
  steps: readonly number[];
  /** Waited before the baseline RSS is read. */
  settleMs: number;
  /** Waited after each step's connections open, before its RSS is read. */
  stepSettleMs: number;
}

export type LoadRequest = EchoRequest | ConnectRequest | IdleRequest;

/** CPU the server and the load generator spent during the measured window (its slices). */
export interface CpuUse {
  /** Server CPU time over the window, in ms (user + system, at the kernel's clock-tick resolution). */
  serverMs: number;
  clientMs: number;
}

export interface EchoResult {
  kind: 'echo';
  roundTrips: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpu: CpuUse;
  seconds: number;
}

export interface ConnectResult {
  kind: 'connect';
  connects: number;
  perSecond: number;
  errors: number;
  cpu: CpuUse;
  seconds: number;
}

export interface IdleStep {
  connections: number;
  rssKb: number;
  kbPerConnection: number;
}

export interface IdleResult {
  kind: 'idle';
  baselineRssKb: number;
  steps: IdleStep[];
  /** Connections still open, and answering, after the last step's hold. */
  held: number;
  errors: number;
}

export type LoadResult = EchoResult | ConnectResult | IdleResult;

/** One result per target: an idle request has one target, echo and connect requests list theirs. */
export type LoadReply = { ok: true; results: LoadResult[] } | { ok: false; error: string };
