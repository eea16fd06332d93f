// The load generator: its own process on its own core (run.ts pins it), so the server under test
// has a core to itself. It runs one request from run.ts at a time, over IPC, and answers with numbers.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { connectClient } from './clients.js';
import type { BenchClient } from './clients.js';
import { cpuMs, rssKb } from './proc-stats.js';
import type {
  ConnectRequest,
  ConnectResult,
  CpuUse,
  EchoRequest,
  EchoResult,
  IdleRequest,
  IdleResult,
  IdleStep,
  LoadReply,
  LoadRequest,
  LoadResult,
  TargetAddress,
  Timing,
} from './load-requests.js';

/** Long enough to be told apart from the prompt and the welcome, as a typed sentence is. */
const PADDING = 'the quick brown fox jumps over the lazy dog';
const WELCOME = /Welcome[^\n]*\n/;
const OPEN_TIMEOUT_MS = 10_000;
/** Connections being opened at once while idle connections are set up. */
const OPEN_CONCURRENCY = 200;
/** Sessions that run once through the code idle sessions use, before the baseline RSS is read. */
const IDLE_WARMUP_SESSIONS = 100;
/** One connection in this many is asked for an echo after the last idle step: held means answering. */
const PROBE_EVERY = 100;

/** A client and what it waits for: the welcome, then each `Echo: <line>` in the order sent. */
class EchoSession {
  /** Called once per reply found, in order, with the time its line was sent. */
  onReply: (sentAt: number, now: number) => void = () => undefined;
  /** Called once if the connection ends without close(). */
  onLost: () => void = () => undefined;
  isLost = false;
  #client: BenchClient | undefined;
  #buffer = '';
  #expected: string[] = [];
  #sentAt: number[] = [];
  #head = 0;
  /** Lines queued while replies are read, so that every reply to one read is answered in one write. */
  #outbox: string[] | undefined;
  #isWelcomed = false;
  #welcomed: () => void = () => undefined;
  #lost: () => void = () => undefined;

  async open(target: TargetAddress): Promise<void> {
    // Waited for before the client exists: the welcome may come in the same read as the upgrade's answer.
    const welcome = new Promise<boolean>((resolve) => {
      this.#welcomed = () => resolve(true);
      this.#lost = () => resolve(false);
    });
    this.#client = await connectClient(target, {
      onText: (text) => this.#receive(text),
      onLost: () => {
        this.isLost = true;
        this.#lost();
        this.onLost();
      },
    });
    if (!(await withTimeout(welcome, OPEN_TIMEOUT_MS, false))) {
      this.close();
      throw new Error(this.isLost ? 'closed before the welcome' : `no welcome within ${OPEN_TIMEOUT_MS} ms`);
    }
  }

  /** Lines sent and not answered yet. */
  get unanswered(): number {
    return this.#expected.length - this.#head;
  }

  send(lines: readonly string[]): void {
    const now = performance.now();
    for (const line of lines) {
      this.#expected.push(`Echo: ${line}\r\n`);
      this.#sentAt.push(now);
    }
    if (this.#outbox !== undefined) this.#outbox.push(...lines);
    else this.#client?.sendLines(lines);
  }

  close(): void {
    this.#client?.close();
  }

  #receive(text: string): void {
    this.#buffer += text;
    if (!this.#isWelcomed) {
      const welcome = WELCOME.exec(this.#buffer);
      if (welcome === null) return;
      this.#isWelcomed = true;
      this.#buffer = this.#buffer.slice(welcome.index + welcome[0].length);
      this.#welcomed();
    }
    const now = performance.now();
    this.#outbox = [];
    let from = 0;
    while (this.#head < this.#expected.length) {
      const expected = this.#expected[this.#head]!;
      const at = this.#buffer.indexOf(expected, from);
      if (at === -1) break;
      from = at + expected.length;
      const sentAt = this.#sentAt[this.#head]!;
      this.#head++;
      this.onReply(sentAt, now);
    }
    if (from > 0) this.#buffer = this.#buffer.slice(from);
    if (this.#head > 1024) {
      this.#expected = this.#expected.slice(this.#head);
      this.#sentAt = this.#sentAt.slice(this.#head);
      this.#head = 0;
    }
    const lines = this.#outbox;
    this.#outbox = undefined;
    if (lines.length > 0) this.#client?.sendLines(lines);
  }
}

process.on('message', (request: LoadRequest) => {
  run(request).then(
    (results) => reply({ ok: true, results }),
    (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// run.ts gone (killed, Ctrl-C) means nobody will read the answer.
process.on('disconnect', () => process.exit(0));

function reply(message: LoadReply): void {
  process.send?.(message);
}

function run(request: LoadRequest): Promise<LoadResult[]> {
  switch (request.kind) {
    case 'echo':
      return echo(request);
    case 'connect':
      return connectRate(request);
    case 'idle':
      return idle(request).then((result) => [result]);
  }
}

/** Round trips with `depth` lines in flight per client, on each target in turn. */
async function echo(request: EchoRequest): Promise<EchoResult[]> {
  const opened: Array<{ sessions: EchoSession[]; errors: number }> = [];
  try {
    for (const target of request.targets) {
      const { sessions, errors } = await openSessions(target, request.clients);
      opened.push({ sessions, errors });
      if (sessions.length < request.clients)
        throw new Error(`${request.clients - sessions.length} of ${request.clients} clients could not connect`);
    }
    const loads = opened.map(({ sessions }, index) => new EchoLoad(request.targets[index]!, sessions, request.depth));
    const spent = await takeTurns(loads, request);
    return loads.map((load, index) => {
      const latencies = load.latencies.sort((a, b) => a - b);
      const { seconds, cpu } = spent[index]!;
      return {
        kind: 'echo',
        roundTrips: latencies.length,
        perSecond: latencies.length / seconds,
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
        errors: opened[index]!.errors + load.lost,
        cpu,
        seconds,
      };
    });
  } finally {
    for (const { sessions } of opened) closeAll(sessions);
  }
}

/** Connections that each read the welcome and close, `concurrency` at a time, on each target in turn. */
async function connectRate(request: ConnectRequest): Promise<ConnectResult[]> {
  const loads = request.targets.map((target) => new ConnectLoad(target, request.concurrency));
  const spent = await takeTurns(loads, request);
  return loads.map((load, index) => {
    const { seconds, cpu } = spent[index]!;
    return {
      kind: 'connect',
      connects: load.connects,
      perSecond: load.connects / seconds,
      errors: load.errors,
      cpu,
      seconds,
    };
  });
}

/** A target's clients, loading it only while it is its turn. */
interface Load {
  readonly target: TargetAddress;
  /** Loads the target for `ms`, then stops and waits until nothing sent is unanswered. */
  run(ms: number, isCounted: boolean): Promise<void>;
}

/**
 * Warms the targets up in turns (see native-loadgen.c), then loads them in turns, backwards every
 * other round, until each has had `durationMs`: per target, the time its slices took (each up to
 * its last answer) and the CPU both processes spent in them.
 */
async function takeTurns(loads: readonly Load[], timing: Timing): Promise<Array<{ seconds: number; cpu: CpuUse }>> {
  for (let warmed = 0; warmed < timing.warmupMs; warmed += timing.sliceMs) {
    for (const load of loads) await load.run(Math.min(timing.sliceMs, timing.warmupMs - warmed), false);
  }
  const spent = loads.map(() => ({ seconds: 0, cpu: { serverMs: 0, clientMs: 0 } }));
  const rounds = Math.max(1, Math.round(timing.durationMs / timing.sliceMs));
  const order = loads.map((_, index) => index);
  for (let round = 0; round < rounds; round++) {
    for (const index of order) {
      const load = loads[index]!;
      const window = startWindow(load.target.pid);
      await load.run(timing.durationMs / rounds, true);
      const { seconds, cpu } = window.end();
      const total = spent[index]!;
      total.seconds += seconds;
      total.cpu.serverMs += cpu.serverMs;
      total.cpu.clientMs += cpu.clientMs;
    }
    order.reverse();
  }
  return spent;
}

/** Echo clients that send only in their target's turn, each keeping `depth` lines in flight. */
class EchoLoad implements Load {
  readonly target: TargetAddress;
  /** Round-trip times of the answers counted, in ms. */
  readonly latencies: number[] = [];
  readonly #sessions: readonly EchoSession[];
  readonly #nextLines: Array<() => string>;
  readonly #depth: number;
  #isSending = false;
  #isCounted = false;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(target: TargetAddress, sessions: readonly EchoSession[], depth: number) {
    this.target = target;
    this.#sessions = sessions;
    this.#depth = depth;
    this.#nextLines = sessions.map((session, index) => {
      let sequence = 0;
      const nextLine = (): string => `${index} ${sequence++} ${PADDING}`;
      session.onReply = (sentAt, now) => {
        this.#inFlight--;
        if (this.#isCounted) this.latencies.push(now - sentAt);
        if (this.#isSending) {
          session.send([nextLine()]);
          this.#inFlight++;
        } else if (this.#inFlight === 0) this.#drained?.();
      };
      session.onLost = () => {
        this.#inFlight -= session.unanswered;
        if (this.#inFlight === 0) this.#drained?.();
      };
      return nextLine;
    });
  }

  /** Clients whose connection ended during the measurement. */
  get lost(): number {
    return this.#sessions.filter((session) => session.isLost).length;
  }

  async run(ms: number, isCounted: boolean): Promise<void> {
    this.#isCounted = isCounted;
    this.#isSending = true;
    this.#sessions.forEach((session, index) => {
      if (session.isLost) return;
      session.send(Array.from({ length: this.#depth }, this.#nextLines[index]!));
      this.#inFlight += this.#depth;
    });
    await sleep(ms);
    this.#isSending = false;
    if (this.#inFlight === 0) return;
    const drained = new Promise<boolean>((resolve) => (this.#drained = () => resolve(true)));
    const isDrained = await withTimeout(drained, OPEN_TIMEOUT_MS, false);
    this.#drained = undefined;
    if (!isDrained)
      throw new Error(`${this.#inFlight} lines still unanswered ${OPEN_TIMEOUT_MS} ms after the load stopped`);
  }
}

/** Workers that connect, read the welcome and close, over and over in their target's turn. */
class ConnectLoad implements Load {
  readonly target: TargetAddress;
  connects = 0;
  errors = 0;
  readonly #concurrency: number;

  constructor(target: TargetAddress, concurrency: number) {
    this.target = target;
    this.#concurrency = concurrency;
  }

  async run(ms: number, isCounted: boolean): Promise<void> {
    let isRunning = true;
    const worker = async (): Promise<void> => {
      while (isRunning) {
        const session = new EchoSession();
        try {
          await session.open(this.target);
          session.close();
          if (isCounted) this.connects++;
        } catch {
          this.errors++;
          // A refusing server would otherwise be hammered in a tight loop.
          await sleep(10);
        }
      }
    };
    const workers = Array.from({ length: this.#concurrency }, worker);
    await sleep(ms);
    isRunning = false;
    await Promise.all(workers);
  }
}

/** Idle connections opened step by step; the server's RSS at each step against before the first. */
async function idle(request: IdleRequest): Promise<IdleResult> {
  const { pid } = request.target;
  // Code compiled and caches filled on first use are not per-connection memory.
  const warm = await openSessions(request.target, IDLE_WARMUP_SESSIONS);
  await Promise.all(warm.sessions.map((session, index) => answers(session, `warm ${index} ${PADDING}`)));
  closeAll(warm.sessions);
  await sleep(request.settleMs);
  const baselineRssKb = rssKb(pid);
  const sessions: EchoSession[] = [];
  const steps: IdleStep[] = [];
  let errors = 0;
  try {
    for (const connections of request.steps) {
      const opened = await openSessions(request.target, connections - sessions.length);
      sessions.push(...opened.sessions);
      errors += opened.errors;
      if (sessions.length < connections) break;
      await sleep(request.stepSettleMs);
      const rss = rssKb(pid);
      steps.push({ connections, rssKb: rss, kbPerConnection: (rss - baselineRssKb) / connections });
    }
    const alive = sessions.filter((session) => !session.isLost);
    errors += sessions.length - alive.length;
    const probes = alive.filter((_, index) => index % PROBE_EVERY === 0);
    const answered = await Promise.all(probes.map((session, index) => answers(session, `probe ${index} ${PADDING}`)));
    const silent = answered.filter((isAnswered) => !isAnswered).length;
    return { kind: 'idle', baselineRssKb, steps, held: alive.length - silent, errors: errors + silent };
  } finally {
    closeAll(sessions);
  }
}

async function answers(session: EchoSession, line: string): Promise<boolean> {
  const reply = new Promise<boolean>((resolve) => (session.onReply = () => resolve(true)));
  session.send([line]);
  return withTimeout(reply, OPEN_TIMEOUT_MS, false);
}

/** `promise`, or `fallback` once `ms` have passed; the timer is cleared either way. */
async function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => (timer = setTimeout(resolve, ms, fallback)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens `count` sessions, each welcomed, at most OPEN_CONCURRENCY at a time. */
async function openSessions(
  target: TargetAddress,
  count: number,
): Promise<{ sessions: EchoSession[]; errors: number }> {
  const sessions: EchoSession[] = [];
  let errors = 0;
  let next = 0;
  const opener = async (): Promise<void> => {
    while (next < count) {
      next++;
      const session = new EchoSession();
      try {
        await session.open(target);
        sessions.push(session);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, opener));
  return { sessions, errors };
}

function closeAll(sessions: readonly EchoSession[]): void {
  for (const session of sessions) session.close();
}

/** Times a window and the CPU the server and this process spend in it. */
function startWindow(serverPid: number): { end(): { seconds: number; cpu: CpuUse } } {
  const started = performance.now();
  const serverStart = cpuMs(serverPid);
  const clientStart = process.cpuUsage();
  return {
    end: () => {
      const seconds = (performance.now() - started) / 1000;
      const client = process.cpuUsage(clientStart);
      return {
        seconds,
        cpu: { serverMs: cpuMs(serverPid) - serverStart, clientMs: (client.user + client.system) / 1000 },
      };
    },
  };
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
