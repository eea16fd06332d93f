// Fault suite probe, run in a worker thread: one bystander per transport timing its echoes, and the server's memory.
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

import { WebSocket } from 'ws';

import { TelnetTerminal } from './wire.js';

/** The transports a bystander uses, one bystander each. */
export type BystanderTransport = 'telnet' | 'tcp' | 'websocket' | 'ws_telnet';

/** What the harness gives the worker. */
export interface ProbeSettings {
  pid: number;
  ports: Record<BystanderTransport, number>;
  /** Milliseconds between two lines of one bystander. */
  intervalMs: number;
  /** Milliseconds between two reads of the server's /proc status. */
  sampleMs: number;
}

/** Round trips of one bystander's lines, in milliseconds. */
export interface LatencyStats {
  sent: number;
  answered: number;
  /** Lines never answered: they count as infinitely late in the percentiles. */
  lost: number;
  p50: number;
  p99: number;
  max: number;
  /** When the slowest answered line was sent (epoch ms): which part of a fault held things up. */
  slowestSentAt?: number;
  /** Why the bystander stopped early (its connection closed), if it did. */
  dropped?: string;
}

/** The server's resident memory and open files over the case. */
export interface MemoryStats {
  samples: number;
  peakRssBytes: number;
  lastRssBytes: number;
  peakFds: number;
  lastFds: number;
}

/** Harness → worker. */
export type ProbeRequest = { type: 'stop-bystanders' } | { type: 'stop' };

/** Worker → harness. */
export type ProbeReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'latency'; latency: Record<BystanderTransport, LatencyStats> }
  | { type: 'memory'; memory: MemoryStats };

/** How long a bystander may take to connect and have its warm-up line answered. */
const WARM_UP_MS = 5000;
/** After the last line, how long late answers are still waited for before they count as lost. */
const LATE_ANSWER_MS = 1000;
const ECHO = /Echo: b(\d+)/;

/** One client that sends a numbered line every interval and times each `Echo:` reply. */
class Bystander {
  readonly transport: BystanderTransport;
  #send: (line: string) => void;
  #close: () => void;
  #sentAt = new Map<number, number>();
  #wallClock = new Map<number, number>();
  #latencies: number[] = [];
  #slowest = { ms: -1, sentAt: 0 };
  #sequence = 0;
  #partial = '';
  #isMeasuring = false;
  #isStopped = false;
  #dropped: string | undefined;
  #waiters: Array<{ pattern: string; wake: () => void }> = [];
  #seen = '';

  constructor(transport: BystanderTransport, connection: { send(line: string): void; close(): void }) {
    this.transport = transport;
    this.#send = connection.send;
    this.#close = connection.close;
  }

  /** Text from the server. */
  receive(text: string): void {
    if (!this.#isMeasuring) {
      this.#seen += text;
      for (const waiter of this.#waiters.filter((w) => this.#seen.includes(w.pattern))) waiter.wake();
    }
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#answered(line);
    // A reply is a whole line, so a long unterminated run is noise (redraws): keep it bounded.
    if (this.#partial.length > 4096) this.#partial = this.#partial.slice(-64);
  }

  closed(why: string): void {
    if (!this.#isStopped) this.#dropped ??= why;
  }

  /** Resolves once `pattern` has arrived (the prompt, the warm-up echo). */
  waitFor(pattern: string, timeoutMs: number): Promise<void> {
    if (this.#seen.includes(pattern)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.transport} bystander: no ${JSON.stringify(pattern)} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        pattern,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  sendRaw(line: string): void {
    this.#send(line);
  }

  startMeasuring(): void {
    this.#isMeasuring = true;
    this.#seen = '';
  }

  tick(): void {
    if (this.#dropped !== undefined) return;
    this.#sequence += 1;
    this.#sentAt.set(this.#sequence, performance.now());
    this.#wallClock.set(this.#sequence, Date.now());
    this.#send(`b${this.#sequence}`);
  }

  get outstanding(): number {
    return this.#dropped === undefined ? this.#sentAt.size : 0;
  }

  stop(): LatencyStats {
    this.#isStopped = true;
    this.#close();
    const lost = this.#sentAt.size;
    const sorted = this.#latencies.sort((a, b) => a - b);
    const all = [...sorted, ...Array<number>(lost).fill(Number.POSITIVE_INFINITY)];
    return {
      sent: this.#sequence,
      answered: sorted.length,
      lost,
      p50: percentile(all, 0.5),
      p99: percentile(all, 0.99),
      max: all.length === 0 ? 0 : all[all.length - 1]!,
      ...(this.#slowest.ms >= 0 ? { slowestSentAt: this.#slowest.sentAt } : {}),
      ...(this.#dropped === undefined ? {} : { dropped: this.#dropped }),
    };
  }

  #answered(line: string): void {
    const match = ECHO.exec(line);
    if (match === null) return;
    const sequence = Number(match[1]);
    const sentAt = this.#sentAt.get(sequence);
    if (sentAt === undefined) return;
    this.#sentAt.delete(sequence);
    const ms = performance.now() - sentAt;
    this.#latencies.push(ms);
    if (ms > this.#slowest.ms) this.#slowest = { ms, sentAt: this.#wallClock.get(sequence) ?? 0 };
    this.#wallClock.delete(sequence);
  }
}

/** Nearest-rank percentile of ascending `sorted`; 0 for none. */
function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
}

async function connectBystander(transport: BystanderTransport, port: number): Promise<Bystander> {
  if (transport === 'tcp' || transport === 'telnet') {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const bystander = new Bystander(transport, {
      send: (line) => void socket.write(`${line}\r\n`),
      close: () => socket.destroy(),
    });
    const terminal = transport === 'telnet' ? new TelnetTerminal() : undefined;
    const text = new TextDecoder();
    socket.on('data', (chunk: Buffer) => {
      if (terminal === undefined) return bystander.receive(text.decode(chunk, { stream: true }));
      const decoded = terminal.push(chunk);
      for (const reply of decoded.replies) socket.write(reply);
      bystander.receive(decoded.text);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => bystander.closed(`socket error ${err.code ?? err.message}`));
    socket.on('close', () => bystander.closed('connection closed'));
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return bystander;
  }
  const isTelnet = transport === 'ws_telnet';
  const ws = new WebSocket(`ws://127.0.0.1:${port}${isTelnet ? '/ws_telnet' : '/ws'}`);
  const bystander = new Bystander(transport, {
    send: (line) => ws.send(isTelnet ? Buffer.from(`${line}\r\n`) : line),
    close: () => ws.terminate(),
  });
  const terminal = isTelnet ? new TelnetTerminal() : undefined;
  ws.on('message', (data: Buffer) => {
    if (terminal === undefined) return bystander.receive(data.toString('utf8'));
    const decoded = terminal.push(data);
    for (const reply of decoded.replies) ws.send(reply);
    bystander.receive(decoded.text);
  });
  ws.on('error', (err) => bystander.closed(`websocket error ${err.message}`));
  ws.on('close', (code) => bystander.closed(`websocket closed with ${code}`));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return bystander;
}

/** Reads the server's resident set size and open file count, as often as asked. */
class MemorySampler {
  #pid: number;
  #timer: NodeJS.Timeout;
  #stats: MemoryStats = { samples: 0, peakRssBytes: 0, lastRssBytes: 0, peakFds: 0, lastFds: 0 };

  constructor(pid: number, everyMs: number) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  stop(): MemoryStats {
    clearInterval(this.#timer);
    return this.#stats;
  }

  #sample(): void {
    let status: string;
    let fds: number;
    try {
      status = readFileSync(`/proc/${this.#pid}/status`, 'utf8');
      fds = readdirSync(`/proc/${this.#pid}/fd`).length;
    } catch {
      // The process has exited (a shutdown case): nothing more to read.
      clearInterval(this.#timer);
      return;
    }
    const kib = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (kib === null) return;
    const rss = Number(kib[1]) * 1024;
    const stats = this.#stats;
    stats.samples += 1;
    stats.lastRssBytes = rss;
    stats.peakRssBytes = Math.max(stats.peakRssBytes, rss);
    stats.lastFds = fds;
    stats.peakFds = Math.max(stats.peakFds, fds);
  }
}

async function run(settings: ProbeSettings): Promise<void> {
  const port = parentPort!;
  const reply = (message: ProbeReply): void => port.postMessage(message);
  const sampler = new MemorySampler(settings.pid, settings.sampleMs);
  let bystanders: Bystander[];
  try {
    const transports = Object.keys(settings.ports) as BystanderTransport[];
    bystanders = await Promise.all(transports.map((name) => connectBystander(name, settings.ports[name])));
    // Warm: the welcome and first prompt are out, and one line went round, before timing starts.
    await Promise.all(bystanders.map((bystander) => bystander.waitFor('> ', WARM_UP_MS)));
    for (const bystander of bystanders) bystander.sendRaw('warm');
    await Promise.all(bystanders.map((bystander) => bystander.waitFor('Echo: warm', WARM_UP_MS)));
  } catch (err) {
    reply({ type: 'failed', message: (err as Error).message });
    sampler.stop();
    port.close();
    return;
  }
  for (const bystander of bystanders) bystander.startMeasuring();
  const ticker = setInterval(() => {
    for (const bystander of bystanders) bystander.tick();
  }, settings.intervalMs);
  reply({ type: 'ready' });

  port.on('message', (request: ProbeRequest) => {
    if (request.type === 'stop-bystanders') {
      clearInterval(ticker);
      const deadline = performance.now() + LATE_ANSWER_MS;
      const finish = (): void => {
        if (bystanders.some((b) => b.outstanding > 0) && performance.now() < deadline) {
          setTimeout(finish, 10);
          return;
        }
        const entries = bystanders.map((bystander) => [bystander.transport, bystander.stop()] as const);
        reply({ type: 'latency', latency: Object.fromEntries(entries) as Record<BystanderTransport, LatencyStats> });
      };
      finish();
      return;
    }
    clearInterval(ticker);
    reply({ type: 'memory', memory: sampler.stop() });
    port.close();
  });
}

await run(workerData as ProbeSettings);
