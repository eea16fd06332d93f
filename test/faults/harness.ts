// Fault suite harness: the real CLI as a child process, bystanders timing their echoes, RSS, stderr, one verdict per case.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';

import { WebSocket } from 'ws';

import { CAPACITY_MESSAGE } from '../../src/index.js';
import { ReceivedText } from '../support/received-text.js';
import type {
  BystanderTransport,
  LatencyStats,
  MemoryStats,
  ProbeReply,
  ProbeRequest,
  ProbeSettings,
} from './probe.js';
import { OPCODE, TelnetTerminal, upgrade, wsFrame } from './wire.js';
import { CLI, ROOT, ensureBuilt } from '../support/build.js';

/** Every endpoint of the server under test: the four transports, and telnet over TLS. */
export type Endpoint = BystanderTransport | 'telnet_tls';
export type Ports = Record<Endpoint, number>;

export const TRANSPORTS: readonly BystanderTransport[] = ['telnet', 'tcp', 'websocket', 'ws_telnet'];
export const ENDPOINTS: readonly Endpoint[] = [...TRANSPORTS, 'telnet_tls'];
/** WebSocket upgrade paths, as the server config below sets them. */
export const WS_PATHS = { websocket: '/ws', ws_telnet: '/ws_telnet' } as const;

/** What every case must keep to, from the reliability issue. Never loosened to make a case pass. */
export const THRESHOLDS = { p99Ms: 250, peakRssBytes: 200 * 1024 * 1024 } as const;

/** The limits every server under test runs with (config keys in src/config/schema.ts). */
export const LIMITS = {
  maxConnections: 100,
  connectionTimeoutS: 60,
  maxOutputBuffer: 1024 * 1024,
  handshakeTimeoutS: 2,
  maxLineLength: 4096,
  maxMessageSize: 1024 * 1024,
} as const;

const HANDLER = `${join(ROOT, 'examples', 'echo-server', 'handler.ts')}:EchoTelnetHandler`;
const PROBE = join(import.meta.dirname, 'probe.ts');
const MIB = 1024 * 1024;
/** Bystander cadence and memory sampling, as the issue asks: every ~50 ms. */
const BYSTANDER_INTERVAL_MS = 50;
const SAMPLE_INTERVAL_MS = 50;
const START_TIMEOUT_MS = 20_000;
/** A graceful stop takes the 5 s grace period and 1 s for onDisconnect at most (protocol-server.ts). */
const STOP_TIMEOUT_MS = 8000;
const NEW_CLIENT_TIMEOUT_MS = 5000;
/** A new client's first prompt, or the line that turns it away at capacity (then retried). */
const PROMPT_OR_REFUSAL = new RegExp(`> |${CAPACITY_MESSAGE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
/** What in the server's stderr means a fault got further than one session. */
const FATAL_PATTERNS = [/uncaught exception/i, /unhandled rejection/i];
/** A stack frame, raw or inside a JSON string ("\n    at f (file:1:2)"). */
const STACK_FRAME = /(^|\n|\\n)\s*at .+(:\d+:\d+\)?|\(native\)|<anonymous>)/;

const SERVER_SETTINGS = {
  host: '127.0.0.1',
  port: 0,
  handler_class: HANDLER,
  max_connections: LIMITS.maxConnections,
  max_connections_per_ip: 0,
  connection_timeout: LIMITS.connectionTimeoutS,
  max_session_time: 0,
  max_output_buffer: LIMITS.maxOutputBuffer,
  handshake_timeout: LIMITS.handshakeTimeoutS,
  max_line_length: LIMITS.maxLineLength,
  max_message_size: LIMITS.maxMessageSize,
  ping_interval: 30,
  ping_timeout: 10,
  // Rate limits and bans stay off: every client of this suite is 127.0.0.1.
  max_connection_rate_per_ip: 0,
  ban_after: 0,
};

// One folder per test process (config, certificate, the server's stderr), removed at exit.
let workDir: string | undefined;
let certificate: { cert: string; key: string } | undefined;
const running = new Set<ChildProcess>();
process.once('exit', () => {
  // A case that failed half-way must not leave a server behind: each is ended by its own PID.
  for (const child of running) if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  if (workDir !== undefined && process.env.FAULTS_KEEP === undefined) rmSync(workDir, { recursive: true, force: true });
});

function folder(): string {
  workDir ??= mkdtempSync(join(tmpdir(), 'chuk-faults-'));
  return workDir;
}

/** A throwaway self-signed certificate for 127.0.0.1, made with openssl once per test process. */
function tlsFiles(): { cert: string; key: string } {
  if (certificate !== undefined) return certificate;
  const cert = join(folder(), 'cert.pem');
  const key = join(folder(), 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'].concat([
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore' },
  );
  certificate = { cert, key };
  return certificate;
}

/** How a server process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The CLI serving the echo sample on every endpoint, as a child process of the test. */
export class ServerUnderTest {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly ports: Ports;
  readonly exited: Promise<Exit>;
  readonly #stderrPath: string;
  #stdout: string;

  constructor(child: ChildProcess, ports: Ports, stderrPath: string, stdout: string, exited: Promise<Exit>) {
    this.child = child;
    this.pid = child.pid!;
    this.ports = ports;
    this.#stderrPath = stderrPath;
    this.#stdout = stdout;
    this.exited = exited;
    child.stdout!.on('data', (chunk: Buffer) => (this.#stdout += chunk.toString()));
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get stdout(): string {
    return this.#stdout;
  }

  /** Everything the server logged (JSON lines, -v). */
  stderr(): string {
    return readFileSync(this.#stderrPath, 'utf8');
  }

  signal(signal: NodeJS.Signals): void {
    if (this.isRunning) process.kill(this.pid, signal);
  }

  /** The exit within `timeoutMs`, or undefined after killing the process (by its PID) for not exiting. */
  async exitWithin(timeoutMs: number): Promise<Exit | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolveLate) => (timer = setTimeout(() => resolveLate(undefined), timeoutMs)));
    const exit = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (exit === undefined && this.isRunning) {
      process.kill(this.pid, 'SIGKILL');
      await this.exited;
    }
    return exit;
  }

  /** SIGTERM, as a service manager stops it; undefined when it had to be killed. */
  stop(timeoutMs = STOP_TIMEOUT_MS): Promise<Exit | undefined> {
    this.signal('SIGTERM');
    return this.exitWithin(timeoutMs);
  }
}

/**
 * Starts `node dist/cli.js -c <config> -v` on 127.0.0.1, every port 0, and reads the ports from
 * its "<name>: <transport> server listening on <url>" lines. Its stderr goes to a file, so a
 * test busy with its own work can never fill a pipe and stall the server's synchronous log writes.
 */
export async function startServer(
  name: string,
  maxConnections: number = LIMITS.maxConnections,
): Promise<ServerUnderTest> {
  ensureBuilt();
  const dir = folder();
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const pem = tlsFiles();
  const settings = { ...SERVER_SETTINGS, max_connections: maxConnections };
  const config = {
    servers: {
      telnet: { ...settings, transport: 'telnet' },
      tcp: { ...settings, transport: 'tcp' },
      websocket: { ...settings, transport: 'websocket', ws_path: WS_PATHS.websocket },
      ws_telnet: { ...settings, transport: 'ws_telnet', ws_path: WS_PATHS.ws_telnet },
      telnet_tls: { ...settings, transport: 'telnet', use_ssl: true, ssl_cert: pem.cert, ssl_key: pem.key },
    },
  };
  const configPath = join(dir, `${slug}.yaml`);
  // JSON is YAML: the config is written as it is built.
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const stderrPath = join(dir, `${slug}.stderr.log`);
  const stderrFd = openSync(stderrPath, 'w');
  const child = spawn(process.execPath, [...serverFlags(slug), CLI, '-c', configPath, '-v'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', stderrFd],
  });
  closeSync(stderrFd);
  running.add(child);
  const exited = new Promise<Exit>((resolveExit) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolveExit({ code, signal });
    }),
  );
  let stdout = '';
  const ports = await new Promise<Partial<Ports>>((resolvePorts, reject) => {
    const found: Partial<Ports> = {};
    const timer = setTimeout(() => fail(`not listening after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      if (child.exitCode === null) child.kill('SIGKILL');
      reject(new Error(`server for "${name}" ${why}\nstdout: ${stdout}\nstderr: ${readFileSync(stderrPath, 'utf8')}`));
    };
    const onData = (chunk: Buffer): void => {
      stdout += chunk.toString();
      for (const match of stdout.matchAll(/^(\w+): \w+ server listening on (\S+)$/gm)) {
        found[match[1] as Endpoint] = Number(new URL(match[2]!).port);
      }
      if (ENDPOINTS.every((endpoint) => found[endpoint] !== undefined)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolvePorts(found);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`));
  });
  return new ServerUnderTest(child, ports as Ports, stderrPath, stdout, exited);
}

/**
 * Node flags for the server, for diagnosis. FAULTS_CPU_PROF=<dir> profiles every server process
 * into <dir>/<case>/, written when it exits; Node's own file names are kept, as they carry the
 * thread id and tsx's loader thread writes a profile too. FAULTS_SERVER_FLAGS adds any others
 * (say --trace-gc, which the server prints on its stdout).
 */
function serverFlags(slug: string): string[] {
  const flags = (process.env.FAULTS_SERVER_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const dir = process.env.FAULTS_CPU_PROF;
  if (dir === undefined || dir === '') return flags;
  const caseDir = resolve(dir, slug);
  mkdirSync(caseDir, { recursive: true });
  return [...flags, '--cpu-prof', `--cpu-prof-dir=${caseDir}`];
}

/** The bystanders and the memory sampler, running in a worker thread while the fault runs. */
export class Probe {
  #worker: Worker;
  #replies: ProbeReply[] = [];
  #wake: (() => void) | undefined;
  #latency: Record<BystanderTransport, LatencyStats> | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: ProbeReply) => {
      this.#replies.push(reply);
      this.#wake?.();
    });
    worker.on('error', (err) => {
      this.#replies.push({ type: 'failed', message: `probe worker: ${err.message}` });
      this.#wake?.();
    });
  }

  /** Connects the bystanders and starts sampling; resolves once they are warm and timing. */
  static async start(server: ServerUnderTest): Promise<Probe> {
    const settings: ProbeSettings = {
      pid: server.pid,
      ports: Object.fromEntries(TRANSPORTS.map((name) => [name, server.ports[name]])) as ProbeSettings['ports'],
      intervalMs: BYSTANDER_INTERVAL_MS,
      sampleMs: SAMPLE_INTERVAL_MS,
    };
    // Workers do not inherit tsx's --import; the eval'd entry loads the TypeScript probe through it.
    const entry = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(PROBE)}, ${JSON.stringify(
      import.meta.url,
    )}));`;
    const probe = new Probe(new Worker(entry, { eval: true, workerData: settings }));
    const reply = await probe.#next(['ready', 'failed'], 15_000);
    if (reply.type === 'failed') {
      await probe.#worker.terminate();
      throw new Error(reply.message);
    }
    return probe;
  }

  /** Stops the bystanders (idempotent) and returns their round trips. */
  async stopBystanders(): Promise<Record<BystanderTransport, LatencyStats>> {
    if (this.#latency !== undefined) return this.#latency;
    this.#send({ type: 'stop-bystanders' });
    const reply = await this.#next(['latency', 'failed'], 10_000);
    if (reply.type !== 'latency') throw new Error(reply.type === 'failed' ? reply.message : 'no latency');
    this.#latency = reply.latency;
    return reply.latency;
  }

  /** Stops sampling and the worker; returns the memory seen over the whole case. */
  async stop(): Promise<MemoryStats> {
    this.#send({ type: 'stop' });
    const reply = await this.#next(['memory', 'failed'], 10_000);
    await this.#worker.terminate();
    if (reply.type !== 'memory') throw new Error(reply.type === 'failed' ? reply.message : 'no memory stats');
    return reply.memory;
  }

  #send(request: ProbeRequest): void {
    this.#worker.postMessage(request);
  }

  async #next<T extends ProbeReply['type']>(types: T[], timeoutMs: number): Promise<Extract<ProbeReply, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#replies.findIndex((reply) => (types as string[]).includes(reply.type));
      if (index !== -1) return this.#replies.splice(index, 1)[0] as Extract<ProbeReply, { type: T }>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`probe: no ${types.join('/')} within ${timeoutMs} ms`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.#wake = () => {
          clearTimeout(timer);
          wake();
        };
      });
    }
  }
}

/** A line client of any endpoint, as a user sees it: text in, lines out. */
export interface LineClient {
  readonly endpoint: Endpoint;
  readonly received: ReceivedText;
  send(line: string): void;
  /** Resolves once closed, with the WebSocket close code where there was a close frame. */
  readonly closed: Promise<{ code?: number }>;
  destroy(): void;
}

/** Connects a well-behaved client (a telnet one answers negotiation like a terminal). */
export async function connectClient(endpoint: Endpoint, port: number, timeoutMs = 5000): Promise<LineClient> {
  const received = new ReceivedText();
  if (endpoint === 'websocket' || endpoint === 'ws_telnet') {
    const isTelnet = endpoint === 'ws_telnet';
    const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATHS[endpoint]}`, { handshakeTimeout: timeoutMs });
    const terminal = new TelnetTerminal();
    ws.on('message', (data: Buffer) => {
      if (!isTelnet) return received.add(data.toString('utf8'));
      const decoded = terminal.push(data);
      for (const reply of decoded.replies) ws.send(reply);
      received.add(decoded.text);
    });
    ws.on('error', () => undefined);
    const closed = new Promise<{ code?: number }>((resolveClose) =>
      ws.once('close', (code: number) => resolveClose({ code })),
    );
    await new Promise((resolveOpen, reject) => {
      ws.once('open', resolveOpen);
      ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
      ws.once('error', reject);
    });
    return {
      endpoint,
      received,
      send: (line) => ws.send(isTelnet ? Buffer.from(`${line}\r\n`) : line),
      closed,
      destroy: () => ws.terminate(),
    };
  }
  const socket =
    endpoint === 'telnet_tls'
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect(port, '127.0.0.1');
  const terminal = endpoint === 'tcp' ? undefined : new TelnetTerminal();
  const text = new TextDecoder();
  socket.on('data', (chunk: Buffer) => {
    if (terminal === undefined) return received.add(text.decode(chunk, { stream: true }));
    const decoded = terminal.push(chunk);
    for (const reply of decoded.replies) socket.write(reply);
    received.add(decoded.text);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<{ code?: number }>((resolveClose) => socket.once('close', () => resolveClose({})));
  await withTimeout(
    new Promise((resolveOpen, reject) =>
      socket.once(endpoint === 'telnet_tls' ? 'secureConnect' : 'connect', resolveOpen).once('error', reject),
    ),
    timeoutMs,
    `${endpoint} connect`,
  );
  return {
    endpoint,
    received,
    send: (line) => void socket.write(`${line}\r\n`),
    closed,
    destroy: () => socket.destroy(),
  };
}

/**
 * A new client on every endpoint is served: it gets a prompt and the echo of a line. A refusal
 * at capacity (sessions of the fault still closing) is retried until the deadline.
 */
export async function checkNewClients(ports: Ports): Promise<string[]> {
  const problems = await Promise.all(
    ENDPOINTS.map(async (endpoint) => {
      const deadline = Date.now() + NEW_CLIENT_TIMEOUT_MS;
      let lastError = '';
      while (Date.now() < deadline) {
        let client: LineClient | undefined;
        try {
          client = await connectClient(endpoint, ports[endpoint], deadline - Date.now());
          await client.received.waitFor(PROMPT_OR_REFUSAL, { timeoutMs: Math.max(1, deadline - Date.now()) });
          if (client.received.text.includes(CAPACITY_MESSAGE)) throw new Error('refused at capacity');
          client.send(`new-${endpoint}`);
          await client.received.waitFor(`Echo: new-${endpoint}`, { timeoutMs: Math.max(1, deadline - Date.now()) });
          return undefined;
        } catch (err) {
          lastError = (err as Error).message.slice(0, 200);
          await sleep(200);
        } finally {
          client?.destroy();
        }
      }
      return `a new ${endpoint} client was not served: ${lastError}`;
    }),
  );
  return problems.filter((problem): problem is string => problem !== undefined);
}

/** What the server's stderr shows: fatal lines (uncaught, unhandled, stack traces) and a tally. */
export interface StderrReport {
  lines: number;
  fatal: string[];
  /** Distinct warning and error messages with their counts, for the report. */
  messages: Record<string, number>;
}

/** Reads the server's JSON log lines (and anything else it wrote) for signs of an escaped fault. */
export function inspectStderr(stderr: string): StderrReport {
  const report: StderrReport = { lines: 0, fatal: [], messages: {} };
  for (const line of stderr.split('\n')) {
    if (line.trim() === '') continue;
    report.lines += 1;
    if (FATAL_PATTERNS.some((pattern) => pattern.test(line)) || STACK_FRAME.test(line)) {
      if (report.fatal.length < 5) report.fatal.push(line.slice(0, 600));
    }
    let entry: { level?: number; msg?: string } | undefined;
    try {
      entry = JSON.parse(line) as { level?: number; msg?: string };
    } catch {
      entry = undefined;
    }
    const message =
      entry === undefined ? `(not JSON) ${line.slice(0, 80)}` : (entry.level ?? 0) >= 40 ? entry.msg : undefined;
    if (message !== undefined) report.messages[message] = (report.messages[message] ?? 0) + 1;
  }
  return report;
}

/** Sockets a fault opened, all destroyed when the fault is over (however it ended). */
export class Attackers {
  #sockets = new Set<net.Socket>();
  #others: Array<() => void> = [];

  /** Tracks `socket`, swallowing its errors: resets and refusals are what faults are made of. */
  track<T extends net.Socket>(socket: T): T {
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.#sockets.delete(socket));
    return socket;
  }

  /** Something else to end with the fault (a WebSocket client). */
  onEnd(end: () => void): void {
    this.#others.push(end);
  }

  get open(): number {
    return this.#sockets.size;
  }

  /** A TCP connection to 127.0.0.1:`port`, resolved once connected. */
  async connect(port: number, timeoutMs = 5000): Promise<net.Socket> {
    const socket = this.track(net.connect(port, '127.0.0.1'));
    // Each write leaves at once, as from a client that types or floods: no Nagle delay on our side.
    socket.setNoDelay(true);
    await withTimeout(
      new Promise((resolveOpen, reject) => socket.once('connect', resolveOpen).once('error', reject)),
      timeoutMs,
      `connect to ${port}`,
    );
    return socket;
  }

  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    for (const end of this.#others.splice(0)) end();
  }
}

/** A raw connection: the socket to write to, and the TCP socket under it (the same one but for TLS). */
export interface RawConnection {
  endpoint: Endpoint;
  socket: net.Socket;
  tcp: net.Socket;
}

/**
 * Opens `endpoint` at the byte level, paused: a TCP socket (telnet ones answer no negotiation),
 * a TLS one after its handshake, or a WebSocket upgraded by hand so that any frame can follow.
 */
export async function openRaw(attackers: Attackers, endpoint: Endpoint, port: number): Promise<RawConnection> {
  if (endpoint === 'websocket' || endpoint === 'ws_telnet') {
    const { socket, rest } = await upgrade(port, WS_PATHS[endpoint]);
    // Frames that came with the 101 response (the welcome) are read again by whoever reads next.
    if (rest.length > 0) socket.unshift(rest);
    return { endpoint, socket: attackers.track(socket), tcp: socket };
  }
  const tcp = await attackers.connect(port);
  tcp.pause();
  if (endpoint !== 'telnet_tls') return { endpoint, socket: tcp, tcp };
  const socket = attackers.track(tls.connect({ socket: tcp, rejectUnauthorized: false }));
  await withTimeout(
    new Promise((resolveOpen, reject) => socket.once('secureConnect', resolveOpen).once('error', reject)),
    5000,
    'TLS handshake',
  );
  socket.pause();
  return { endpoint, socket, tcp };
}

/** `lines` as the endpoint's client bytes: CR LF lines, or one masked frame per line. */
export function encodeLines(endpoint: Endpoint, lines: readonly string[]): Buffer {
  if (endpoint === 'websocket') return Buffer.concat(lines.map((line) => wsFrame(line)));
  if (endpoint === 'ws_telnet')
    return Buffer.concat(lines.map((line) => wsFrame(`${line}\r\n`, { opcode: OPCODE.binary })));
  return Buffer.from(lines.map((line) => `${line}\r\n`).join(''));
}

/** Writes `data`, waiting for the socket to drain; false once the socket has closed. */
export async function writeAll(socket: net.Socket, data: Buffer): Promise<boolean> {
  if (socket.destroyed || !socket.writable) return false;
  if (socket.write(data)) return true;
  return new Promise((resolveWrite) => {
    const done = (isOpen: boolean) => (): void => {
      socket.off('drain', drained);
      socket.off('close', closed);
      resolveWrite(isOpen);
    };
    const drained = done(true);
    const closed = done(false);
    socket.once('drain', drained);
    socket.once('close', closed);
  });
}

/** What a fault gets: the server, its ports, a place for its sockets, and a way to record findings. */
export interface FaultContext {
  server: ServerUnderTest;
  ports: Ports;
  probe: Probe;
  attackers: Attackers;
  /** Records a failed expectation of the fault itself; the case fails at the end, with its report. */
  expect(condition: boolean, failure: string): void;
  /** A line for the case's report (what the fault did, what the server did). */
  note(text: string): void;
}

/** Options of one case. */
export interface CaseOptions {
  /** The fault ends the server itself (shutdown): no new client is expected afterwards, exit 0 is. */
  endsServer?: boolean;
  /** Bound of the fault itself; the case fails past it. Default 40 s. */
  faultTimeoutMs?: number;
  /** Sessions each server takes; default LIMITS.maxConnections. */
  maxConnections?: number;
}

/** One row of the suite's results. */
export interface CaseReport {
  name: string;
  passed: boolean;
  seconds: number;
  latency: Record<BystanderTransport, LatencyStats> | undefined;
  memory: MemoryStats | undefined;
  isAliveAtEnd: boolean;
  exit: Exit | undefined;
  stderr: StderrReport;
  notes: string[];
  failures: string[];
}

/**
 * Runs one fault against a fresh server with bystanders on every transport, then judges it:
 * p99 bystander latency ≤ 250 ms on every transport, peak RSS < 200 MB, alive and serving a
 * new client at the end (or exited 0, for a fault that ends it), and no uncaught exception,
 * unhandled rejection or stack trace on stderr. Every verdict is reported, then asserted.
 */
export async function runFaultCase(
  t: TestContext,
  name: string,
  fault: (context: FaultContext) => Promise<void>,
  options: CaseOptions = {},
): Promise<CaseReport> {
  const started = Date.now();
  const failures: string[] = [];
  // Latency depends on the machine: the load other processes put on it is part of the record.
  const notes: string[] = [
    `host load average at start: ${readFileSync('/proc/loadavg', 'utf8').split(' ', 3).join(' ')}`,
  ];
  const attackers = new Attackers();
  const server = await startServer(name, options.maxConnections);
  let probe: Probe | undefined;
  let latency: CaseReport['latency'];
  let memory: MemoryStats | undefined;
  let isAliveAtEnd = false;
  let exit: Exit | undefined;
  let faultStartedAt = Date.now();
  const phases: Record<string, number> = {};
  let phaseStart = Date.now();
  const phase = (label: string): void => {
    phases[label] = Date.now() - phaseStart;
    phaseStart = Date.now();
  };
  phases.start = Date.now() - started;
  try {
    probe = await Probe.start(server);
    phase('probe');
    const context: FaultContext = {
      server,
      ports: server.ports,
      probe,
      attackers,
      expect: (condition, failure) => void (condition || failures.push(failure)),
      note: (text) => void notes.push(text),
    };
    faultStartedAt = Date.now();
    await withTimeout(fault(context), options.faultTimeoutMs ?? 40_000, `the fault "${name}"`);
  } catch (err) {
    failures.push(`fault did not complete: ${(err as Error).message}`);
  } finally {
    phase('fault');
    attackers.destroyAll();
    latency = await probe?.stopBystanders().catch((err: Error) => void failures.push(err.message));
    phase('bystanders');
    if (options.endsServer) {
      exit = await server.exitWithin(STOP_TIMEOUT_MS);
      memory = await probe?.stop().catch((err: Error) => void failures.push(err.message));
    } else {
      isAliveAtEnd = server.isRunning;
      if (isAliveAtEnd) failures.push(...(await checkNewClients(server.ports)));
      phase('new clients');
      memory = await probe?.stop().catch((err: Error) => void failures.push(err.message));
      exit = await server.stop();
    }
    phase('stop');
  }
  const slowest = TRANSPORTS.map((transport) => latency?.[transport])
    .filter((stats): stats is LatencyStats => stats?.slowestSentAt !== undefined)
    .sort((a, b) => b.max - a.max)[0];
  if (slowest !== undefined && Number.isFinite(slowest.max)) {
    notes.push(
      `slowest echo: ${formatMs(slowest.max)}, sent ${slowest.slowestSentAt! - faultStartedAt} ms into the fault`,
    );
  }
  notes.push(
    `phases (ms): ${Object.entries(phases)
      .map(([label, ms]) => `${label} ${ms}`)
      .join(', ')}`,
  );

  if (options.endsServer) {
    if (exit === undefined) failures.push(`the server did not exit within ${STOP_TIMEOUT_MS} ms`);
    else if (exit.code !== 0) failures.push(`the server exited with ${exit.code ?? exit.signal}, not 0`);
  } else if (!isAliveAtEnd) {
    failures.push(`the server process died during the fault (${server.child.exitCode ?? server.child.signalCode})`);
  } else if (exit === undefined) {
    failures.push(`the server did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM and was killed`);
  }
  for (const transport of TRANSPORTS) {
    const stats = latency?.[transport];
    if (stats === undefined) continue;
    if (stats.dropped !== undefined) failures.push(`${transport} bystander was disconnected: ${stats.dropped}`);
    if (stats.p99 > THRESHOLDS.p99Ms) {
      failures.push(`${transport} bystander p99 ${formatMs(stats.p99)} > ${THRESHOLDS.p99Ms} ms (${stats.lost} lost)`);
    }
  }
  if (memory !== undefined && memory.peakRssBytes >= THRESHOLDS.peakRssBytes) {
    failures.push(`peak RSS ${(memory.peakRssBytes / MIB).toFixed(1)} MB ≥ ${THRESHOLDS.peakRssBytes / MIB} MB`);
  }
  const stderr = inspectStderr(server.stderr());
  for (const line of stderr.fatal) failures.push(`stderr: ${line}`);

  const report: CaseReport = {
    name,
    passed: failures.length === 0,
    seconds: (Date.now() - started) / 1000,
    latency: latency ?? undefined,
    memory: memory ?? undefined,
    isAliveAtEnd,
    exit,
    stderr,
    notes,
    failures,
  };
  publish(t, report);
  if (failures.length > 0) throw new Error(`${name}:\n  ${failures.join('\n  ')}`);
  return report;
}

/** The case's row in the test output, and in FAULTS_REPORT (JSON lines) when set. */
function publish(t: TestContext, report: CaseReport): void {
  const p99 = TRANSPORTS.map((transport) => {
    const stats = report.latency?.[transport];
    if (stats === undefined) return `${transport} -`;
    // Below 100 samples the 99th percentile is the slowest one: the count says how to read it.
    return `${transport} ${formatMs(stats.p99)} (n=${stats.sent}${stats.lost > 0 ? `, ${stats.lost} lost` : ''})`;
  }).join(', ');
  const rss = report.memory === undefined ? '-' : `${(report.memory.peakRssBytes / MIB).toFixed(1)} MB`;
  t.diagnostic(`p99: ${p99}; peak RSS ${rss}; ${report.passed ? 'PASS' : 'FAIL'} in ${report.seconds.toFixed(1)} s`);
  for (const note of report.notes) t.diagnostic(note);
  const warnings = Object.entries(report.stderr.messages).map(([message, count]) => `${message} ×${count}`);
  if (warnings.length > 0) t.diagnostic(`server warnings: ${warnings.join('; ').slice(0, 500)}`);
  const file = process.env.FAULTS_REPORT;
  if (file !== undefined && file !== '') appendFileSync(file, `${JSON.stringify(report)}\n`);
}

function formatMs(ms: number): string {
  return Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : 'never';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** `promise`, or a rejection naming `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The seed of every random fault: FAULTS_SEED, or a fixed one. */
export const SEED = Number(process.env.FAULTS_SEED ?? 0x5eed);

/** Resolves once `socket` has closed, with how long it took; undefined if not within `ms`. */
export async function closedWithin(socket: net.Socket, ms: number): Promise<number | undefined> {
  const started = Date.now();
  if (socket.closed) return 0;
  const closed = new Promise<number>((resolveClose) => socket.once('close', () => resolveClose(Date.now() - started)));
  return withTimeout(closed, ms, 'close').catch(() => undefined);
}

/** Runs `task` over `items`, at most `width` at a time. */
export async function inBatches<T>(
  items: readonly T[],
  width: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  await Promise.all(lanes);
}
