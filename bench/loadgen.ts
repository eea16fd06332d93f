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
      },
    });
    if (!(await withTimeout(welcome, OPEN_TIMEOUT_MS, false))) {
      this.close();
      throw new Error(this.isLost ? 'closed before the welcome' : `no welcome within ${OPEN_TIMEOUT_MS} ms`);
    }
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
    (result) => reply({ ok: true, result }),
    (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// run.ts gone (killed, Ctrl-C) means nobody will read the answer.
process.on('disconnect', () => process.exit(0));

function reply(message: LoadReply): void {
  process.send?.(message);
}

function run(request: LoadRequest): Promise<LoadResult> {
  switch (request.kind) {
    case 'echo':
      return echo(request);
    case 'connect':
      return connectRate(request);
    case 'idle':
      return idle(request);
  }
}

/** Round trips with `depth` lines in flight per client, counted over a window after a warm-up. */
async function echo(request: EchoRequest): Promise<EchoResult> {
  const { sessions, errors: openErrors } = await openSessions(request.target, request.clients);
  if (sessions.length < request.clients) {
    closeAll(sessions);
    throw new Error(`${request.clients - sessions.length} of ${request.clients} clients could not connect`);
  }
  const latencies: number[] = [];
  const phase: Phase = { isMeasuring: false, isRunning: true };
  sessions.forEach((session, index) => {
    let sequence = 0;
    const nextLine = (): string => `${index} ${sequence++} ${PADDING}`;
    session.onReply = (sentAt, now) => {
      if (phase.isMeasuring) latencies.push(now - sentAt);
      if (phase.isRunning) session.send([nextLine()]);
    };
    session.send(Array.from({ length: request.depth }, nextLine));
  });
  const { seconds, cpu } = await measure(request, phase);
  const lost = sessions.filter((session) => session.isLost).length;
  closeAll(sessions);
  latencies.sort((a, b) => a - b);
  return {
    kind: 'echo',
    roundTrips: latencies.length,
    perSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    errors: openErrors + lost,
    cpu,
    seconds,
  };
}

/** Connections that each read the welcome and close, `concurrency` at a time. */
async function connectRate(request: ConnectRequest): Promise<ConnectResult> {
  const phase: Phase = { isMeasuring: false, isRunning: true };
  let connects = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (phase.isRunning) {
      const session = new EchoSession();
      try {
        await session.open(request.target);
        session.close();
        if (phase.isMeasuring) connects++;
      } catch {
        errors++;
        // A refusing server would otherwise be hammered in a tight loop.
        await sleep(10);
      }
    }
  };
  const workers = Array.from({ length: request.concurrency }, worker);
  const { seconds, cpu } = await measure(request, phase);
  await Promise.all(workers);
  return { kind: 'connect', connects, perSecond: connects / seconds, errors, cpu, seconds };
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
      await sleep(request.settleMs);
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

/** Times a window and the CPU both processes spent in it. */
/** Where a load run is: counting only while measuring, and going on while running. */
interface Phase {
  isMeasuring: boolean;
  isRunning: boolean;
}

/** Warms up, measures for the request's duration, then ends the run: the window's length and CPU. */
async function measure(
  request: { warmupMs: number; durationMs: number; target: { pid: number } },
  phase: Phase,
): Promise<{ seconds: number; cpu: CpuUse }> {
  await sleep(request.warmupMs);
  const window = startWindow(request.target.pid);
  phase.isMeasuring = true;
  await sleep(request.durationMs);
  phase.isMeasuring = false;
  const measured = window.end();
  phase.isRunning = false;
  return measured;
}

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
