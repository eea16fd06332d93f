// Prometheus metrics of one application, from its event stream, in a registry of its own.
import { performance } from 'node:perf_hooks';

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { SessionEventMap, SessionInfo } from '../hub/events.js';
import type { SessionHub } from '../hub/hub.js';

/** What observability gives the metrics besides the application. */
export interface MetricsOptions {
  monitor: { viewerCount: number } | undefined;
  /** The package version, for chuk_build_info. */
  version: string;
}

/** Labels of every per-server series: bounded by the config, never per session or address. */
type ServerLabels = { server: string; transport: string };

/** One server's labels and the bytes its ended sessions moved; live sessions are read at scrape time. */
interface ServerTotals {
  labels: ServerLabels;
  receivedBytes: number;
  sentBytes: number;
}

const PREFIX = 'chuk_';

/** Session lengths from a quick look to a long working day, in seconds. */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400];

/** How often the event loop is checked for stalls, in milliseconds. */
const LOOP_CHECK_INTERVAL_MS = 10;

/** Counts what the event stream reports and renders it in the Prometheus text format. */
export class Metrics {
  #app: SessionHub;
  #monitor: MetricsOptions['monitor'];
  #registry: Registry;
  /**
   * Sessions of this process that started and have not ended, with the telnet options each has
   * enabled. Only these are read at scrape time: a session counts either live or in the ended
   * totals, never both, so byte counters never go backwards.
   */
  #live = new Map<string, Set<string>>();
  /** Every server and transport that has had a session, by `keyOf` its labels. */
  #servers = new Map<string, ServerTotals>();
  #loopTimer: NodeJS.Timeout | undefined;
  #lastLoopCheck = 0;
  /** Milliseconds; the longest the loop was held up since the previous scrape. */
  #longestStall = 0;
  #unsubscribe: (() => void) | undefined;

  #active: Gauge<'server' | 'transport'>;
  #opened: Counter<'server' | 'transport'>;
  #closed: Counter<'server' | 'transport' | 'reason'>;
  #refused: Counter<'server' | 'transport' | 'reason'>;
  #received: Counter<'server' | 'transport'>;
  #sent: Counter<'server' | 'transport'>;
  #handlerErrors: Counter<'server' | 'transport'>;
  #duration: Histogram<'server' | 'transport'>;
  #telnetOptions: Counter<'option' | 'side' | 'outcome'>;
  #viewers: Gauge;
  #loopLag: Gauge;

  constructor(app: SessionHub, options: MetricsOptions) {
    this.#app = app;
    this.#monitor = options.monitor;
    const own = new Registry();
    const registers = [own];
    this.#active = new Gauge({
      name: `${PREFIX}sessions_active`,
      help: 'Sessions open now.',
      labelNames: ['server', 'transport'],
      registers,
    });
    this.#opened = new Counter({
      name: `${PREFIX}sessions_opened_total`,
      help: 'Sessions started.',
      labelNames: ['server', 'transport'],
      registers,
    });
    this.#closed = new Counter({
      name: `${PREFIX}sessions_closed_total`,
      help: 'Sessions ended, by why they ended.',
      labelNames: ['server', 'transport', 'reason'],
      registers,
    });
    this.#refused = new Counter({
      name: `${PREFIX}connections_refused_total`,
      help: 'Connections turned away before they became sessions, by why.',
      labelNames: ['server', 'transport', 'reason'],
      registers,
    });
    this.#received = new Counter({
      name: `${PREFIX}received_bytes_total`,
      help: 'Bytes received from clients, protocol framing included.',
      labelNames: ['server', 'transport'],
      registers,
    });
    this.#sent = new Counter({
      name: `${PREFIX}sent_bytes_total`,
      help: 'Bytes sent to clients, protocol framing included.',
      labelNames: ['server', 'transport'],
      registers,
    });
    this.#handlerErrors = new Counter({
      name: `${PREFIX}handler_errors_total`,
      help: 'Sessions ended because their handler threw.',
      labelNames: ['server', 'transport'],
      registers,
    });
    this.#duration = new Histogram({
      name: `${PREFIX}session_duration_seconds`,
      help: 'How long ended sessions lasted.',
      labelNames: ['server', 'transport'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#telnetOptions = new Counter({
      name: `${PREFIX}telnet_options_total`,
      help: 'Telnet option negotiations: enabled, disabled after being enabled, or refused by the client.',
      labelNames: ['option', 'side', 'outcome'],
      registers,
    });
    this.#viewers = new Gauge({ name: `${PREFIX}monitor_viewers`, help: 'Monitor viewers connected now.', registers });
    this.#loopLag = new Gauge({
      name: `${PREFIX}event_loop_lag_seconds`,
      help: 'Longest the event loop was held up since the previous scrape.',
      registers,
    });
    const buildInfo = new Gauge({
      name: `${PREFIX}build_info`,
      help: 'The running version; always 1.',
      labelNames: ['version', 'node_version'],
      registers,
    });
    buildInfo.set({ version: options.version, node_version: process.version }, 1);
    this.#registry = Registry.merge([own, processRegistry()]);
  }

  /** Subscribes to the application's events and starts checking the event loop. */
  start(): void {
    if (this.#unsubscribe !== undefined) return;
    this.#lastLoopCheck = performance.now();
    // Unref'd: metrics never keep a process alive that has nothing else to do.
    this.#loopTimer = setInterval(() => this.#checkLoop(), LOOP_CHECK_INTERVAL_MS).unref();
    this.#unsubscribe = this.#app.events.subscribe({
      'session-started': (event) => this.#started(event),
      'session-ended': (event) => this.#ended(event),
      refused: ({ server, transport, reason }) => this.#refused.inc({ server, transport, reason }),
      option: (event) => this.#option(event),
    });
  }

  /** Unsubscribes and stops checking the event loop; what was counted stays readable. Idempotent. */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#loopTimer);
    this.#loopTimer = undefined;
  }

  /** Every metric, read now, in the Prometheus text format. */
  async render(): Promise<{ contentType: string; body: string }> {
    await this.#sample();
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }

  #started({ session }: SessionEventMap['session-started']): void {
    this.#live.set(session.id, new Set());
    this.#opened.inc(this.#totalsOf(session).labels);
  }

  #ended({ session, reason }: SessionEventMap['session-ended']): void {
    const totals = this.#totalsOf(session);
    const { labels } = totals;
    this.#live.delete(session.id);
    totals.receivedBytes += session.bytesIn;
    totals.sentBytes += session.bytesOut;
    this.#closed.inc({ ...labels, reason });
    if (reason === 'handler-error') this.#handlerErrors.inc(labels);
    // Wall-clock times: a clock stepped back must not make a negative duration.
    this.#duration.observe(labels, Math.max(0, Date.now() - session.startedAt) / 1000);
  }

  #totalsOf(session: SessionInfo): ServerTotals {
    const key = keyOf(session);
    let totals = this.#servers.get(key);
    if (totals === undefined) {
      totals = { labels: { server: session.server, transport: session.transport }, receivedBytes: 0, sentBytes: 0 };
      this.#servers.set(key, totals);
      // Present from the first session on, so that rate() and alerts see a zero, not nothing.
      this.#handlerErrors.inc(totals.labels, 0);
    }
    return totals;
  }

  #option({ sessionId, option, side, enabled }: SessionEventMap['option']): void {
    const key = `${side} ${option}`;
    const enabledOptions = this.#live.get(sessionId);
    let outcome: 'enabled' | 'disabled' | 'refused';
    if (enabled) {
      enabledOptions?.add(key);
      outcome = 'enabled';
    } else {
      // The stream reports a refusal as enabled: false too; only an option that was on is disabled.
      outcome = enabledOptions?.delete(key) === true ? 'disabled' : 'refused';
    }
    this.#telnetOptions.inc({ option, side, outcome });
  }

  /** Reads what only exists at scrape time: live sessions, viewers, the event loop. */
  async #sample(): Promise<void> {
    const sessions = await this.#app.list();
    const active = new Map<string, number>();
    const received = new Map<string, number>();
    const sent = new Map<string, number>();
    for (const [key, totals] of this.#servers) {
      active.set(key, 0);
      received.set(key, totals.receivedBytes);
      sent.set(key, totals.sentBytes);
    }
    // Checked after the await: a session that ended meanwhile is already in the ended totals.
    for (const session of sessions) {
      if (!this.#live.has(session.id)) continue;
      const key = keyOf(session);
      active.set(key, (active.get(key) ?? 0) + 1);
      received.set(key, (received.get(key) ?? 0) + session.bytesIn);
      sent.set(key, (sent.get(key) ?? 0) + session.bytesOut);
    }
    this.#active.reset();
    this.#received.reset();
    this.#sent.reset();
    for (const [key, { labels }] of this.#servers) {
      this.#active.set(labels, active.get(key) ?? 0);
      this.#received.inc(labels, received.get(key) ?? 0);
      this.#sent.inc(labels, sent.get(key) ?? 0);
    }
    this.#viewers.set(this.#monitor?.viewerCount ?? 0);
    // A stall that ended just before this scrape has not been checked yet; it belongs to this one.
    if (this.#loopTimer !== undefined) this.#checkLoop();
    this.#loopLag.set(this.#longestStall / 1000);
    this.#longestStall = 0;
  }

  /**
   * Runs every LOOP_CHECK_INTERVAL_MS: whatever it is late by, something held the loop. Unlike
   * Node's monitorEventLoopDelay, whose first tick after a reset records nothing, no stall
   * between two scrapes goes unseen, and one long stall is not averaged away by a percentile.
   */
  #checkLoop(): void {
    const now = performance.now();
    this.#longestStall = Math.max(this.#longestStall, now - this.#lastLoopCheck - LOOP_CHECK_INTERVAL_MS);
    this.#lastLoopCheck = now;
  }
}

let processMetrics: Registry | undefined;

/**
 * The process's own metrics (CPU, memory, handles, GC), registered once per process and shared
 * by every application in it: they describe the process, not an application, and prom-client
 * starts an event-loop histogram and a GC observer for them that it offers no way to stop, so
 * one set per launch would be a leak per launch.
 */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: PREFIX });
  }
  return processMetrics;
}

function keyOf(labels: ServerLabels): string {
  return `${labels.server}\n${labels.transport}`;
}
