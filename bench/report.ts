// Medians of the repeated runs, the framework/raw ratios, the targets each must meet, and the table.
import type { EchoResult, IdleResult, LoadResult } from './load-requests.js';
import type { MicroResult } from './micro.js';

export type TransportName = 'tcp' | 'telnet' | 'websocket' | 'ws_telnet' | 'ssh';

/** A server under load: one of the framework's transports, or a raw baseline. */
export interface TargetInfo {
  name: string;
  label: string;
  /** The framework transport; undefined for a raw server. */
  transport: TransportName | undefined;
  /** Name of the raw target this one is compared with. */
  baseline: string | undefined;
  /** A raw target that negotiates as this transport does, its connects shown beside (telnet). */
  negotiatingBaseline?: string | undefined;
}

export type EchoKey = 'closed-1' | 'closed-50' | 'closed-500' | 'pipelined';
export type MeasurementKey = EchoKey | 'connect' | 'idle';
export type Run = LoadResult | { error: string };
export type Runs = Record<string, Partial<Record<MeasurementKey, Run[]>>>;

export interface EchoSummary {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU per round trip, in µs. */
  serverUsPerRoundTrip: number;
  /** Share of one core the server used during the window. */
  serverBusy: number;
  /** Share of one core the load generator used: near 1 means it, not the server, set the pace. */
  clientBusy: number;
  errors: number;
}

/**
 * A framework target against its raw baseline: each ratio is the median of the runs' own ratios,
 * each run's framework window divided by that run's raw window. The machine's speed drifts over
 * a bench; a window is compared with one taken seconds away, never with another run's.
 */
export interface Versus {
  echo: Partial<Record<EchoKey, { perSecond: number; p50Ms: number; p99Ms: number; serverUsPerRoundTrip: number }>>;
  connect: number;
  /** Connects against the negotiating raw target, where there is one. */
  connectNegotiating?: number;
  idleKb: Record<number, number>;
  /**
   * The lowest and highest of the runs' own ratios of rates (round trips/s, connects/s): how far
   * one run's ratio lies from the next, against which a measurement from outside is judged.
   */
  spread: Partial<Record<EchoKey | 'connect', Spread>>;
}

export interface Spread {
  low: number;
  high: number;
}

export interface TargetSummary {
  echo: Partial<Record<EchoKey, EchoSummary>>;
  /** Against the raw baseline, for a framework target. */
  versus?: Versus;
  connect?: { perSecond: number; serverBusy: number; clientBusy: number; errors: number };
  /** KB of server RSS per idle connection, by number of connections. */
  idleKb: Record<number, number>;
  /** The largest idle step of the first run: connections asked for, held (and answering), errors. */
  hold?: { connections: number; held: number; errors: number };
  failures: string[];
}

/** Idle RSS of whole processes, in KB, by process. */
export type ProcessMemory = Record<string, number[]>;

export interface Check {
  label: string;
  value: number;
  /** `min` = at least, `max` = at most. */
  bound: 'min' | 'max';
  limit: number;
  unit: 'x' | 'MB/s' | '';
  pass: boolean;
}

export const ECHO_LABELS: Record<EchoKey, string> = {
  'closed-1': 'closed C=1',
  'closed-50': 'closed C=50',
  'closed-500': 'closed C=500',
  pipelined: 'pipelined 50x16',
};

export const PROCESS_LABELS: Record<string, string> = {
  bare: 'bare node -e setInterval',
  'launcher-js': 'launcher, sample config, .js handler',
  'launcher-ts': 'launcher, sample config, .ts handler',
  'launcher-js-tcp': 'launcher, one tcp server, .js handler',
};

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

/** Medians per target and measurement, and each framework target's ratios to its raw baseline; failed runs are listed, not counted. */
export function summarize(runs: Runs, targets: readonly TargetInfo[]): Record<string, TargetSummary> {
  const summaries: Record<string, TargetSummary> = {};
  for (const [name, measurements] of Object.entries(runs)) {
    const summary: TargetSummary = { echo: {}, idleKb: {}, failures: [] };
    for (const [key, list] of Object.entries(measurements) as [MeasurementKey, Run[]][]) {
      for (const run of list) if ('error' in run) summary.failures.push(`${key}: ${run.error}`);
      const ok = list.filter((run): run is LoadResult => !('error' in run));
      if (ok.length === 0) continue;
      if (key === 'connect') {
        const connects = ok.filter((run) => run.kind === 'connect');
        summary.connect = {
          perSecond: median(connects.map((run) => run.perSecond)),
          serverBusy: median(connects.map((run) => run.cpu.serverMs / (run.seconds * 1000))),
          clientBusy: median(connects.map((run) => run.cpu.clientMs / (run.seconds * 1000))),
          errors: connects.reduce((sum, run) => sum + run.errors, 0),
        };
      } else if (key === 'idle') {
        const idles = ok.filter((run): run is IdleResult => run.kind === 'idle');
        const counts = [...new Set(idles.flatMap((run) => run.steps.map((step) => step.connections)))];
        for (const count of counts) {
          const values = idles.flatMap((run) => run.steps.filter((step) => step.connections === count));
          summary.idleKb[count] = median(values.map((step) => step.kbPerConnection));
        }
        const first = idles[0]!;
        const last = first.steps[first.steps.length - 1];
        summary.hold = { connections: last?.connections ?? 0, held: first.held, errors: first.errors };
      } else {
        const echoes = ok.filter((run): run is EchoResult => run.kind === 'echo');
        summary.echo[key] = {
          perSecond: median(echoes.map((run) => run.perSecond)),
          p50Ms: median(echoes.map((run) => run.p50Ms)),
          p99Ms: median(echoes.map((run) => run.p99Ms)),
          serverUsPerRoundTrip: median(echoes.map((run) => (run.cpu.serverMs * 1000) / run.roundTrips)),
          serverBusy: median(echoes.map((run) => run.cpu.serverMs / (run.seconds * 1000))),
          clientBusy: median(echoes.map((run) => run.cpu.clientMs / (run.seconds * 1000))),
          errors: echoes.reduce((sum, run) => sum + run.errors, 0),
        };
      }
    }
    summaries[name] = summary;
  }
  for (const target of targets) {
    const ours = runs[target.name];
    const raw = target.baseline === undefined ? undefined : runs[target.baseline];
    if (ours === undefined || raw === undefined) continue;
    const summary = (summaries[target.name]!.versus = versus(ours, raw));
    const negotiating = target.negotiatingBaseline === undefined ? undefined : runs[target.negotiatingBaseline];
    if (negotiating !== undefined) summary.connectNegotiating = versus(ours, negotiating).connect;
  }
  return summaries;
}

function versus(ours: Runs[string], raw: Runs[string]): Versus {
  const ratios = (key: MeasurementKey, value: (run: LoadResult) => number | undefined): number[] => {
    const a = ours[key] ?? [];
    const b = raw[key] ?? [];
    const list: number[] = [];
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (!('error' in x) && !('error' in y)) list.push((value(x) ?? Number.NaN) / (value(y) ?? Number.NaN));
    }
    return list.filter((r) => Number.isFinite(r) && r > 0);
  };
  const ratio = (key: MeasurementKey, value: (run: LoadResult) => number | undefined): number =>
    median(ratios(key, value));
  const spread: Versus['spread'] = {};
  const rateRatio = (key: EchoKey | 'connect'): number => {
    const list = ratios(key, (run) => (run.kind === 'idle' ? undefined : run.perSecond));
    if (list.length > 0) spread[key] = { low: Math.min(...list), high: Math.max(...list) };
    return median(list);
  };
  const echo = (key: EchoKey, field: 'p50Ms' | 'p99Ms'): number =>
    ratio(key, (run) => (run.kind === 'echo' ? run[field] : undefined));
  const result: Versus = { echo: {}, connect: rateRatio('connect'), idleKb: {}, spread };
  for (const key of Object.keys(ECHO_LABELS) as EchoKey[]) {
    result.echo[key] = {
      perSecond: rateRatio(key),
      p50Ms: echo(key, 'p50Ms'),
      p99Ms: echo(key, 'p99Ms'),
      serverUsPerRoundTrip: ratio(key, (run) =>
        run.kind === 'echo' ? (run.cpu.serverMs * 1000) / run.roundTrips : undefined,
      ),
    };
  }
  for (const connections of [1000, 5000]) {
    result.idleKb[connections] = ratio('idle', (run) =>
      run.kind === 'idle' ? run.steps.find((step) => step.connections === connections)?.kbPerConnection : undefined,
    );
  }
  return result;
}

/** The targets, each a ratio to raw in the same run (or an absolute rate), and whether it is met. */
export function checkTargets(
  targets: readonly TargetInfo[],
  summaries: Record<string, TargetSummary>,
  memory: ProcessMemory,
  micro: readonly MicroResult[],
): Check[] {
  const checks: Check[] = [];
  const add = (label: string, value: number, bound: Check['bound'], limit: number, unit: Check['unit']): void => {
    const pass = Number.isFinite(value) && (bound === 'min' ? value >= limit : value <= limit);
    checks.push({ label, value, bound, limit, unit, pass });
  };
  for (const target of targets) {
    if (target.baseline === undefined) continue;
    const ours = summaries[target.name];
    const raw = summaries[target.baseline];
    const versus = ours?.versus;
    if (ours === undefined || raw === undefined || versus === undefined) continue;
    const t = target.name;
    add(`${t}: ${ECHO_LABELS['closed-50']} rt/s`, versus.echo['closed-50']?.perSecond ?? Number.NaN, 'min', 0.9, 'x');
    add(`${t}: ${ECHO_LABELS['closed-500']} rt/s`, versus.echo['closed-500']?.perSecond ?? Number.NaN, 'min', 0.9, 'x');
    add(`${t}: ${ECHO_LABELS.pipelined} rt/s`, versus.echo.pipelined?.perSecond ?? Number.NaN, 'min', 0.5, 'x');
    add(`${t}: p99 at C=50`, versus.echo['closed-50']?.p99Ms ?? Number.NaN, 'max', 1.2, 'x');
    // Not a failure when the plan had no 5,000 step (--quick); a run that failed to get there is one.
    if (5000 in ours.idleKb || 5000 in raw.idleKb) {
      add(`${t}: KB per idle connection at 5,000`, versus.idleKb[5000] ?? Number.NaN, 'max', 1.3, 'x');
    }
    add(`${t}: connects/s`, versus.connect, 'min', 0.9, 'x');
    if (ours.hold !== undefined && ours.hold.connections >= 10_000) {
      const isHeld = ours.hold.held === ours.hold.connections && ours.hold.errors === 0;
      checks.push({
        label: holdLabel(t, ours.hold.connections),
        value: ours.hold.held,
        bound: 'min',
        limit: ours.hold.connections,
        unit: '',
        pass: isHeld,
      });
    }
  }
  const bare = median(memory.bare ?? []);
  if (memory['launcher-js'] !== undefined) {
    add('idle launcher, .js handler, RSS vs bare node', median(memory['launcher-js']) / bare, 'max', 1.5, 'x');
  }
  const rate = (key: string): number => micro.find((result) => result.key === key)?.value ?? Number.NaN;
  if (micro.length > 0) {
    add('telnet decoder, plain text', rate('decoder-plain'), 'min', 1000, 'MB/s');
    add('telnet decoder, negotiation-heavy', rate('decoder-negotiation'), 'min', 100, 'MB/s');
  }
  return checks;
}

/** The results as a plain-text table: per transport its raw baseline beside it, then memory, micro, targets. */
export function formatReport(
  targets: readonly TargetInfo[],
  summaries: Record<string, TargetSummary>,
  memory: ProcessMemory,
  micro: readonly MicroResult[],
  checks: readonly Check[],
): string {
  const lines: string[] = [];
  const row = (cells: readonly string[]): void => {
    const widths = [40, 15, 15, 13];
    lines.push(
      cells
        .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i]!) : cell))
        .join(' ')
        .trimEnd(),
    );
  };
  for (const target of targets) {
    if (target.baseline === undefined) continue;
    const ours = summaries[target.name];
    const raw = summaries[target.baseline];
    const versus = ours?.versus;
    const rawLabel = targets.find((t) => t.name === target.baseline)?.label ?? target.baseline;
    lines.push('');
    row([`${target.name} (vs ${rawLabel})`, 'raw', 'framework', 'ratio', 'target']);
    for (const key of Object.keys(ECHO_LABELS) as EchoKey[]) {
      const a = raw?.echo[key];
      const b = ours?.echo[key];
      row([
        `  ${ECHO_LABELS[key]} rt/s`,
        count(a?.perSecond),
        count(b?.perSecond),
        times(versus?.echo[key]?.perSecond),
        withSpread(verdictOf(checks, `${target.name}: ${ECHO_LABELS[key]} rt/s`), versus?.spread[key]),
      ]);
      row([
        `    p50 / p99 ms`,
        pair(a?.p50Ms, a?.p99Ms),
        pair(b?.p50Ms, b?.p99Ms),
        `${times(versus?.echo[key]?.p50Ms)} / ${times(versus?.echo[key]?.p99Ms)}`,
        key === 'closed-50' ? `p99 ${verdictOf(checks, `${target.name}: p99 at C=50`)}` : '',
      ]);
      row([
        `    server µs/rt (core busy)`,
        cpu(a?.serverUsPerRoundTrip, a?.serverBusy),
        cpu(b?.serverUsPerRoundTrip, b?.serverBusy),
        times(versus?.echo[key]?.serverUsPerRoundTrip),
        `load gen busy ${percent(a?.clientBusy)} / ${percent(b?.clientBusy)}`,
      ]);
    }
    row([
      '  connects/s',
      count(raw?.connect?.perSecond),
      count(ours?.connect?.perSecond),
      times(versus?.connect),
      withSpread(verdictOf(checks, `${target.name}: connects/s`), versus?.spread.connect),
    ]);
    if (target.negotiatingBaseline !== undefined) {
      const negotiating = summaries[target.negotiatingBaseline];
      const label = targets.find((t) => t.name === target.negotiatingBaseline)?.label ?? target.negotiatingBaseline;
      row([
        `    vs ${label}`,
        count(negotiating?.connect?.perSecond),
        count(ours?.connect?.perSecond),
        times(versus?.connectNegotiating),
        'not a target',
      ]);
    }
    for (const connections of [1000, 5000]) {
      row([
        `  idle ${connections.toLocaleString('en')}: KB/conn`,
        fixed(raw?.idleKb[connections], 1),
        fixed(ours?.idleKb[connections], 1),
        times(versus?.idleKb[connections]),
        connections === 5000 ? verdictOf(checks, `${target.name}: KB per idle connection at 5,000`) : '',
      ]);
    }
    if (ours?.hold !== undefined && ours.hold.connections >= 10_000) {
      const held = (hold: TargetSummary['hold']): string =>
        hold === undefined || hold.connections !== ours.hold?.connections
          ? '-'
          : `${hold.held}/${hold.connections}${hold.errors > 0 ? ` (${hold.errors} err)` : ''}`;
      const check = checks.find((c) => c.label === holdLabel(target.name, ours.hold!.connections));
      row([
        `  ${ours.hold.connections.toLocaleString('en')} held, answering`,
        held(raw?.hold),
        held(ours.hold),
        '',
        check?.pass ? 'PASS' : 'FAIL',
      ]);
    }
    const errors = [
      ...Object.values(ours?.echo ?? {}).map((e) => e.errors),
      ...Object.values(raw?.echo ?? {}).map((e) => e.errors),
      ours?.connect?.errors ?? 0,
      raw?.connect?.errors ?? 0,
    ].reduce((sum, n) => sum + n, 0);
    if (errors > 0) lines.push(`  (${errors} client errors during these runs; see the JSON)`);
    for (const failure of [...(raw?.failures ?? []), ...(ours?.failures ?? [])]) lines.push(`  run failed: ${failure}`);
  }

  if (Object.keys(memory).length > 0) {
    lines.push('');
    row(['idle process RSS', 'MB', 'vs bare node', '', 'target']);
    const bare = median(memory.bare ?? []);
    for (const [key, values] of Object.entries(memory)) {
      const rss = median(values);
      row([
        `  ${PROCESS_LABELS[key] ?? key}`,
        fixed(rss / 1024, 1),
        key === 'bare' ? '' : times(rss / bare),
        '',
        key === 'launcher-js' ? verdictOf(checks, 'idle launcher, .js handler, RSS vs bare node') : '',
      ]);
    }
  }

  if (micro.length > 0) {
    lines.push('');
    row(['microbenchmarks (in-process)', 'rate', '', '', 'target']);
    const targetOf: Record<string, string> = {
      'decoder-plain': 'telnet decoder, plain text',
      'decoder-negotiation': 'telnet decoder, negotiation-heavy',
    };
    for (const result of micro) {
      const check = targetOf[result.key];
      lines.push(
        `  ${result.label.padEnd(52)} ${count(result.value).padStart(12)} ${result.unit.padEnd(7)} ${check === undefined ? '' : verdictOf(checks, check)}`.trimEnd(),
      );
    }
  }

  const passed = checks.filter((check) => check.pass).length;
  lines.push('', `targets: ${passed} of ${checks.length} pass`);
  for (const check of checks.filter((c) => !c.pass)) {
    lines.push(
      `  FAIL ${check.label}: ${formatValue(check)} (target ${check.bound === 'min' ? '>=' : '<='} ${check.limit}${check.unit === 'x' ? 'x' : ` ${check.unit}`})`,
    );
  }
  return lines.join('\n');
}

function holdLabel(target: string, connections: number): string {
  return `${target}: ${connections.toLocaleString('en')} connections held`;
}

function verdictOf(checks: readonly Check[], label: string): string {
  const check = checks.find((c) => c.label === label);
  if (check === undefined) return '';
  const limit = check.unit === 'x' ? `${check.limit}x` : `${check.limit} ${check.unit}`;
  return `${check.bound === 'min' ? '>=' : '<='} ${limit} ${check.pass ? 'PASS' : 'FAIL'}`;
}

/** A verdict, then the range of the runs' own ratios where they differ (several runs). */
function withSpread(verdict: string, spread: Spread | undefined): string {
  if (spread === undefined || spread.low === spread.high) return verdict;
  return `${verdict.padEnd(14)}runs ${spread.low.toFixed(2)}-${spread.high.toFixed(2)}x`;
}

function formatValue(check: Check): string {
  // Three decimals: 0.498x must not read as the 0.5x it fails.
  if (check.unit === 'x') return `${check.value.toFixed(3)}x`;
  if (check.unit === '') return String(check.value);
  return `${count(check.value)} ${check.unit}`;
}

function count(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '-' : Math.round(value).toLocaleString('en');
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function pair(a: number | undefined, b: number | undefined): string {
  return `${fixed(a, 2)} / ${fixed(b, 2)}`;
}

/** A ratio as the tables show it: `0.93x`, or `-` where there is none. */
function times(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? '-' : `${ratio.toFixed(2)}x`;
}

function percent(share: number | undefined): string {
  return share === undefined || !Number.isFinite(share) ? '-' : `${Math.round(share * 100)}%`;
}

function cpu(us: number | undefined, busy: number | undefined): string {
  return us === undefined ? '-' : `${fixed(us, 1)} (${percent(busy)})`;
}
