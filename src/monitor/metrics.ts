// Prometheus metrics of one application, from its event stream and counts, in a registry of its own.
import { performance } from 'node:perf_hooks';

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Metric, MetricObjectWithValues, MetricValue } from 'prom-client';

import type { SessionEventMap, SessionInfo } from '../hub/events.js';
import type { SessionHub } from '../hub/hub.js';

/** What observability gives the metrics besides the application. */
export interface MetricsOptions {
  monitor: { viewerCount: number } | undefined;
  /** The package version, for chuk_build_info. */
  version: string;
}

/** Metrics in the Prometheus text format, with the content type to serve them as. */
export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/** Labels of every per-server series: bounded by the config, never per session or address. */
type ServerLabels = { server: string; transport: string };

/**
 * One server's counts as plain numbers, handed to prom-client at scrape time: counting an event
 * costs no label lookup. Bytes are those its ended sessions moved; live sessions are read then.
 */
interface ServerTotals {
  labels: ServerLabels;
  opened: number;
  handlerErrors: number;
  receivedBytes: number;
  sentBytes: number;
  /** Ended sessions by duration: the count in each of DURATION_BUCKETS (not cumulative), then above the last. */
  durations: number[];
  durationSum: number;
}

/** One series of a counter: its labels, made once, and its count. */
interface Series<L extends string> {
  labels: Record<L, string>;
  value: number;
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
   * Sessions of this process that started and have not ended. Only these are read at scrape
   * time: a session counts either live or in the ended totals, never both, so byte counters
   * never go backwards.
   */
  #live = new Set<string>();
  /** Every server and transport that has had a session, by server, then transport. */
  #servers = new Map<string, Map<string, ServerTotals>>();
  /** The same, in the order they first had a session. */
  #serverList: ServerTotals[] = [];
  #closedCounts = new CounterTree<'server' | 'transport' | 'reason'>('server', 'transport', 'reason');
  #refusedCounts = new CounterTree<'server' | 'transport' | 'reason'>('server', 'transport', 'reason');
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
  #telnetOptions: Counter<'option' | 'side' | 'outcome'>;
  #viewers: Gauge;
  #loopLag: Gauge;
  /** Only with a hub shared with other instances. */
  #hub: { up: Gauge; instances: Gauge; dropped: Counter } | undefined;

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
    own.registerMetric(this.#durationHistogram());
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
      // Across workers: the worst of them, as for one process.
      aggregator: 'max',
    });
    const buildInfo = new Gauge({
      name: `${PREFIX}build_info`,
      help: 'The running version; always 1.',
      labelNames: ['version', 'node_version'],
      registers,
      aggregator: 'first',
    });
    buildInfo.set({ version: options.version, node_version: process.version }, 1);
    if (app.sharing() !== undefined) {
      this.#hub = {
        up: new Gauge({
          name: `${PREFIX}hub_up`,
          help: 'Whether the other instances can be reached (1) or cross-instance features are degraded (0).',
          registers,
          // Across workers: degraded if any worker is.
          aggregator: 'min',
        }),
        instances: new Gauge({
          name: `${PREFIX}hub_instances`,
          help: 'Other instances heard from recently.',
          registers,
          aggregator: 'max',
        }),
        dropped: new Counter({
          name: `${PREFIX}hub_dropped_messages_total`,
          help: 'Messages to other instances dropped because they could not be reached.',
          registers,
        }),
      };
    }
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
      refused: ({ server, transport, reason }) => this.#refusedCounts.count(server, transport, reason),
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
  async render(): Promise<RenderedMetrics> {
    await this.#sample();
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }

  /** Every metric, read now, as data that prom-client's cluster aggregator merges with other processes'. */
  async sample(): Promise<Array<MetricObjectWithValues<MetricValue<string>>>> {
    await this.#sample();
    return this.#registry.getMetricsAsJSON();
  }

  #started({ session }: SessionEventMap['session-started']): void {
    this.#live.add(session.id);
    this.#totalsOf(session).opened++;
  }

  #ended({ session, reason }: SessionEventMap['session-ended']): void {
    const totals = this.#totalsOf(session);
    const { labels } = totals;
    this.#live.delete(session.id);
    totals.receivedBytes += session.bytesIn;
    totals.sentBytes += session.bytesOut;
    this.#closedCounts.count(labels.server, labels.transport, reason);
    if (reason === 'handler-error') totals.handlerErrors++;
    // Wall-clock times: a clock stepped back must not make a negative duration.
    const seconds = Math.max(0, Date.now() - session.startedAt) / 1000;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    totals.durations[bucket]!++;
    totals.durationSum += seconds;
  }

  /**
   * chuk_session_duration_seconds, read from the servers' plain counts at scrape time: a
   * prom-client Histogram's observe() hashes its labels and finds its bucket by key, some
   * microseconds for every session that ends. Its series are those a Histogram would give.
   */
  #durationHistogram(): Metric {
    const name = `${PREFIX}session_duration_seconds`;
    const histogram = {
      name,
      help: 'How long ended sessions lasted.',
      type: 'histogram',
      aggregator: 'sum',
      get: () => {
        const values: Array<MetricValue<string> & { metricName: string }> = [];
        for (const { labels, durations, durationSum } of this.#serverList) {
          let count = 0;
          DURATION_BUCKETS.forEach((le, bucket) => {
            count += durations[bucket]!;
            values.push({ labels: { le, ...labels }, value: count, metricName: `${name}_bucket` });
          });
          count += durations[DURATION_BUCKETS.length]!;
          values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${name}_bucket` });
          values.push({ labels: { ...labels }, value: durationSum, metricName: `${name}_sum` });
          values.push({ labels: { ...labels }, value: count, metricName: `${name}_count` });
        }
        return Promise.resolve({ name, help: histogram.help, type: histogram.type, aggregator: 'sum', values });
      },
      // What was counted stays: like the other series, these count from the start of the process.
      reset: () => undefined,
    };
    return histogram as unknown as Metric;
  }

  #totalsOf(session: SessionInfo): ServerTotals {
    let transports = this.#servers.get(session.server);
    if (transports === undefined) {
      transports = new Map();
      this.#servers.set(session.server, transports);
    }
    let totals = transports.get(session.transport);
    if (totals === undefined) {
      const labels = { server: session.server, transport: session.transport };
      totals = {
        labels,
        opened: 0,
        handlerErrors: 0,
        receivedBytes: 0,
        sentBytes: 0,
        durations: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
        durationSum: 0,
      };
      transports.set(session.transport, totals);
      this.#serverList.push(totals);
    }
    return totals;
  }

  /** Reads what only exists at scrape time (live sessions, viewers, the event loop); hands over the counts. */
  async #sample(): Promise<void> {
    const sessions = await this.#app.list();
    const live = new Map<ServerTotals, { active: number; received: number; sent: number }>();
    for (const totals of this.#serverList) {
      live.set(totals, { active: 0, received: totals.receivedBytes, sent: totals.sentBytes });
    }
    // Checked after the await: a session that ended meanwhile is already in the ended totals.
    for (const session of sessions) {
      if (!this.#live.has(session.id)) continue;
      const now = live.get(this.#totalsOf(session));
      if (now === undefined) continue;
      now.active++;
      now.received += session.bytesIn;
      now.sent += session.bytesOut;
    }
    for (const metric of [this.#active, this.#received, this.#sent, this.#opened, this.#handlerErrors]) metric.reset();
    for (const totals of this.#serverList) {
      const { labels } = totals;
      const now = live.get(totals)!;
      this.#active.set(labels, now.active);
      this.#received.inc(labels, now.received);
      this.#sent.inc(labels, now.sent);
      this.#opened.inc(labels, totals.opened);
      // Present from the first session on, so that rate() and alerts see a zero, not nothing.
      this.#handlerErrors.inc(labels, totals.handlerErrors);
    }
    this.#closedCounts.writeTo(this.#closed);
    this.#refusedCounts.writeTo(this.#refused);
    this.#telnetOptions.reset();
    for (const { option, side, outcome, count } of this.#app.telnetOptions.list()) {
      this.#telnetOptions.inc({ option, side, outcome }, count);
    }
    this.#viewers.set(this.#monitor?.viewerCount ?? 0);
    const sharing = this.#app.sharing();
    if (this.#hub !== undefined && sharing !== undefined) {
      this.#hub.up.set(sharing.isUp ? 1 : 0);
      this.#hub.instances.set(sharing.instances);
      this.#hub.dropped.reset();
      this.#hub.dropped.inc(sharing.dropped);
    }
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

/**
 * A counter with three labels counted in plain numbers, its series found through a map per label
 * (no key is built per event), and handed to prom-client at scrape time in the order they came.
 */
class CounterTree<L extends string> {
  #names: readonly [L, L, L];
  #tree = new Map<string, Map<string, Map<string, Series<L>>>>();
  #series: Array<Series<L>> = [];

  constructor(...names: [L, L, L]) {
    this.#names = names;
  }

  count(first: string, second: string, third: string): void {
    let seconds = this.#tree.get(first);
    if (seconds === undefined) this.#tree.set(first, (seconds = new Map()));
    let thirds = seconds.get(second);
    if (thirds === undefined) seconds.set(second, (thirds = new Map()));
    let series = thirds.get(third);
    if (series === undefined) {
      const [a, b, c] = this.#names;
      series = { labels: { [a]: first, [b]: second, [c]: third } as Record<L, string>, value: 0 };
      thirds.set(third, series);
      this.#series.push(series);
    }
    series.value++;
  }

  /** Replaces what `counter` holds with these counts. */
  writeTo(counter: Counter<L>): void {
    counter.reset();
    for (const { labels, value } of this.#series) counter.inc(labels, value);
  }
}
