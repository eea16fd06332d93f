// `npm run bench`: the echo sample as `npm start` serves it, on all four transports, against raw node:net
// and ws servers. Every server is its own process on core 0, the load generator its own on core 1;
// a raw server and the transports compared with it take turns in short slices of one measurement,
// runs are repeated, and the medians reported.
// Round trips and connects are driven by native-loadgen.c where a C compiler can build it, by the
// Node generator (loadgen.ts) otherwise or with --loadgen node; idle connections always by Node.
// Flags: --quick, --only tcp,telnet,websocket,ws_telnet,memory,micro,monitor,mccp,fanout,workers,
// --reps N, --duration S, --loadgen native|node.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { parseDocument } from 'yaml';

import type {
  ConnectRequest,
  EchoRequest,
  LoadReply,
  LoadRequest,
  LoadResult,
  TargetAddress,
  Timing,
} from './load-requests.js';
import type { MicroResult } from './micro.js';
import { buildNativeLoadgen, runNativeRequest } from './native-loadgen.js';
import { LOADGEN_CORE, SERVER_CORE, canPin, freePorts, pin, spawnNode, stop, waitForPort } from './processes.js';
import type { Child } from './processes.js';
import { openFilesLimit, rssKb, treeCpuMs } from './proc-stats.js';
import { ECHO_LABELS, checkTargets, formatReport, median, summarize } from './report.js';
import type { EchoKey, MeasurementKey, ProcessMemory, Run, Runs, TargetInfo, TransportName } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');
const SAMPLE_CONFIG = join(ROOT, 'examples/echo-server/config.yaml');
const SAMPLE_HANDLER = `${join(ROOT, 'examples/echo-server/handler.ts')}:EchoTelnetHandler`;
const JS_HANDLER = `${join(BENCH, 'fixtures/echo-handler.js')}:EchoTelnetHandler`;
const TSX = ['--import', 'tsx'];
/** Room for the 10,000 idle connections, and for the ones of the run before still closing. */
const MAX_CONNECTIONS = 20_000;
const TRANSPORTS: readonly TransportName[] = ['tcp', 'telnet', 'websocket', 'ws_telnet', 'ssh'];
const SECTIONS = [...TRANSPORTS, 'memory', 'micro', 'monitor', 'mccp', 'fanout', 'workers'] as const;
type Section = (typeof SECTIONS)[number];
const RAWS = ['raw-tcp', 'raw-ws', 'raw-ssh'] as const;
/** The raw server that negotiates as a telnet server does: a second baseline for telnet connects. */
const NEGOTIATING_RAW = 'raw-telnet';
type RawName = (typeof RAWS)[number] | typeof NEGOTIATING_RAW;
const RAW_LABELS: Record<RawName, string> = {
  'raw-tcp': 'raw node:net',
  'raw-ws': 'raw ws',
  'raw-ssh': 'raw ssh2',
  'raw-telnet': 'raw node:net negotiating telnet',
};
/** The raw server each transport is compared with. */
const RAW_FOR: Record<TransportName, RawName> = {
  tcp: 'raw-tcp',
  telnet: 'raw-tcp',
  websocket: 'raw-ws',
  ws_telnet: 'raw-ws',
  ssh: 'raw-ssh',
};
/** How the load generator's clients speak to each raw server. */
const RAW_PROTOCOLS: Record<RawName, TargetAddress['protocol']> = {
  'raw-tcp': 'tcp',
  'raw-ws': 'websocket',
  'raw-ssh': 'ssh',
  'raw-telnet': 'telnet',
};
/** The echo measurements: clients, and the lines each keeps in flight. */
const ECHO_LOADS: Record<EchoKey, { clients: number; depth: number }> = {
  'closed-1': { clients: 1, depth: 1 },
  'closed-50': { clients: 50, depth: 1 },
  'closed-500': { clients: 500, depth: 1 },
  pipelined: { clients: 50, depth: 16 },
};
const REQUEST_TIMEOUT_MS = 120_000;
/** Quiet means the server used at most this much CPU in a poll interval: its last closes are done. */
const QUIET_CPU_MS = 10;
const QUIET_POLL_MS = 100;
const QUIET_MAX_MS = 5000;
const IDLE_PROCESS_SETTLE_MS = 1500;

/** A server process and the address of the target it answers for. */
interface Server {
  child: Child;
  address: TargetAddress;
}

/** A launcher serving the sample config, and the address of each of its transports. */
interface Launcher {
  child: Child;
  addresses: Record<TransportName, TargetAddress>;
}

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    reps: { type: 'string' },
    duration: { type: 'string' },
    loadgen: { type: 'string', default: 'native' },
  },
});
const only = new Set((flags.only ?? SECTIONS.join(',')).split(',').map((name) => name.trim()));
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name)) usage(`--only: unknown ${JSON.stringify(name)}`);
}
const isOn = (section: Section): boolean => only.has(section);
/** A partial run (--only) has a file of its own: it would otherwise replace the last full run's. */
const RESULTS_FILE = join(
  BENCH,
  flags.only === undefined ? 'results/latest.json' : `results/latest-only-${[...only].sort().join('-')}.json`,
);
const reps = Number(flags.reps ?? (flags.quick ? 1 : 3));
const durationSeconds = Number(flags.duration ?? 1);
if (!Number.isInteger(reps) || reps < 1) usage('--reps: expected a whole number of runs, 1 or more');
if (!(durationSeconds > 0)) usage('--duration: expected seconds, more than 0');
if (flags.loadgen !== 'native' && flags.loadgen !== 'node') usage('--loadgen: expected native or node');
const plan = {
  reps,
  durationMs: durationSeconds * 1000,
  /** A single client sets no target and is taken in the first run only: half the time. */
  singleClientDurationMs: (durationSeconds * 1000) / 2,
  warmupMs: 300,
  /**
   * Connects follow measurements of the other group of targets, in which one group's raw server
   * sat idle while the launcher worked on: connect measurements taken 0.3 s after that flattered
   * the launcher by 20% to 30% (see docs/performance.md, "Method").
   */
  connectWarmupMs: 1000,
  /** Connects and pipelined lines each target gets before the first run (see loadTests). */
  warmup: {
    raw: { connectMs: flags.quick ? 1000 : 3000, pipelinedMs: flags.quick ? 500 : 1500 },
    launcher: { connectMs: flags.quick ? 500 : 1000, pipelinedMs: 500 },
    ssh: { connectMs: flags.quick ? 1000 : 2000, pipelinedMs: 500 },
  },
  sliceMs: 250,
  connectConcurrency: 32,
  idleSteps: flags.quick ? [1000] : [1000, 5000],
  /** 1,000 has no target: after the first run, only the 5,000 that have one. */
  laterIdleSteps: [5000],
  /**
   * SSH's key exchange costs a server some 3 ms of CPU a connection: 5,000 would take a minute,
   * and 1,000 are taken in the first run only (no target depends on them).
   */
  sshIdleSteps: [1000],
  /** Held once, in the first run: the check, not a measurement. */
  holdConnections: flags.quick ? undefined : 10_000,
  /** Before the baseline RSS is read. */
  idleSettleMs: 300,
  /**
   * Before each step's RSS is read: a launcher gives a burst's memory back once it has been idle
   * for half a second (MemoryReducer), and its collection takes up to 100 ms more.
   */
  idleStepSettleMs: 900,
};

const started = Date.now();
const progress = (text: string): void => {
  const elapsed = Math.round((Date.now() - started) / 1000);
  const line = `[${Math.floor(elapsed / 60)}m${String(elapsed % 60).padStart(2, '0')}s] ${text}`;
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
};

buildIfStale();
const workDir = mkdtempSync(join(tmpdir(), 'chuk-bench-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));
const native = flags.loadgen === 'node' ? { missing: '--loadgen node' } : await buildNativeLoadgen(workDir);
/** Which generator drives round trips and connects, as the report says it. */
const loadGenerator = !('binary' in native)
  ? `Node (bench/loadgen.ts; ${native.missing}: the raw servers' rates, and so the ratios, may be the generator's)`
  : native.hasSsh
    ? 'native (bench/native-loadgen.c, with libssh2)'
    : 'native (bench/native-loadgen.c); ssh by the Node one (no libssh2 to build its ssh client: install libssh2-1-dev)';
await main();

async function main(): Promise<void> {
  const transports = TRANSPORTS.filter(isOn);
  const runs: Runs = {};
  let targets: TargetInfo[] = [];
  let limits: Record<string, number> = {};
  if (transports.length > 0) ({ targets, limits } = await loadTests(transports, runs));
  // At once: the idle processes sit on the servers' core, the microbenchmarks run on the other.
  const [memory, micro] = await Promise.all([
    isOn('memory') ? idleProcessMemory() : {},
    isOn('micro') ? microbenchmarks() : [],
  ]);
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');

  const summaries = summarize(runs, targets);
  const checks = checkTargets(targets, summaries, memory, micro);
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    kernel: release(),
    pinned: canPin,
    loadGenerator,
    openFilesLimit: limits,
    ...sourceVersion(),
  };
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(
    `chuk-protocol-server bench: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ` +
      `${new Date().toISOString().slice(0, 10)}, commit ${machine.commit.slice(0, 10)}` +
      `${machine.isSrcChanged ? ' with uncommitted changes under src/' : ''}\n` +
      `load generator for round trips and connects: ${loadGenerator}\n` +
      `${canPin ? `servers on core ${SERVER_CORE}, load generator on core ${LOADGEN_CORE}` : 'no pinning (taskset or a second core missing)'}; ` +
      `median of ${plan.reps} run(s) on servers started once and warmed up; in each, a raw server and its framework targets take turns in ` +
      `${plan.sliceMs / 1000} s slices, ${plan.durationMs / 1000} s each (C=1 ${plan.singleClientDurationMs / 1000} s) after ${plan.warmupMs / 1000} s warm-up ` +
      `(connects ${plan.connectWarmupMs / 1000} s), taken in turns too; ` +
      "ratio = median of the runs' own framework / raw, beside it the lowest and highest of them",
  );
  console.log(formatReport(targets, summaries, memory, micro, checks));
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify({ date: new Date().toISOString(), seconds, machine, plan, targets, runs, summaries, memory, micro, checks }, null, 2)}\n`,
  );
  console.log(`\n${RESULTS_FILE.slice(ROOT.length + 1)} written; took ${Math.floor(seconds / 60)}m${seconds % 60}s`);
  if (isOn('monitor'))
    await runToEnd(
      spawnNode('monitor memory', LOADGEN_CORE, ['--expose-gc', ...TSX, join(BENCH, 'monitor-memory.ts')], 'inherit'),
    );
  if (isOn('mccp')) {
    progress('MCCP2 throughput and memory per compressed session');
    const args = [...TSX, join(BENCH, 'mccp.ts'), ...(flags.quick ? ['--quick'] : [])];
    await runToEnd(spawnNode('mccp', LOADGEN_CORE, args, 'inherit'));
  }
  // Broadcast to 1,000 sessions in one process and through Redis: the clients on the load generator's core.
  if (isOn('fanout')) {
    const quick = flags.quick ? ['--quick'] : [];
    await runToEnd(
      spawnNode('broadcast fan-out', LOADGEN_CORE, [...TSX, join(BENCH, 'fanout.ts'), ...quick], 'inherit'),
    );
  }
  if (isOn('workers')) console.log(`\n${await workerScaling()}`);
}

/**
 * The sample served by 1 and by 2 workers (`workers: N`), interleaved: echo round trips with 50
 * clients on tcp and websocket, and tcp connects (each one accepted by the primary and handed to
 * a worker). The launchers get every core but the load generator's: on a 2-core machine that is
 * one core, so 2 workers measure what the cluster costs rather than what it gains.
 */
async function workerScaling(): Promise<string> {
  const counts = [1, 2];
  // One run: the section informs and sets no target, and the whole bench has 6 minutes.
  const runs = 1;
  const cores =
    canPin && availableParallelism() > 2
      ? Array.from({ length: availableParallelism() }, (_, core) => core).filter((core) => core !== LOADGEN_CORE)
      : [SERVER_CORE];
  const launchers: Launcher[] = [];
  for (const count of counts)
    launchers.push(await startLauncher(`launcher, ${count} worker(s)`, count, cores.join(',')));
  const loadgen = spawnNode('load generator', LOADGEN_CORE, [...TSX, join(BENCH, 'loadgen.ts')], 'ipc');
  const measures: Array<{
    label: string;
    transport: TransportName;
    request: Omit<EchoRequest, 'targets'> | Omit<ConnectRequest, 'targets'>;
  }> = [
    { label: 'tcp, closed loop, 50 clients (round trips/s)', transport: 'tcp', request: echoRequest(50) },
    { label: 'websocket, closed loop, 50 clients (round trips/s)', transport: 'websocket', request: echoRequest(50) },
    {
      label: 'tcp connects, 32 at a time (connects/s)',
      transport: 'tcp',
      request: { kind: 'connect', concurrency: plan.connectConcurrency, ...timing() },
    },
  ];
  const rates = measures.map(() => counts.map((): number[] => []));
  try {
    for (let rep = 1; rep <= runs; rep++) {
      for (const [m, measure] of measures.entries()) {
        progress(`workers, run ${rep}/${runs}: ${measure.label}`);
        const targets = launchers.map((launcher) => launcher.addresses[measure.transport]);
        const results = await measureLoad(loadgen, { ...measure.request, targets } as LoadRequest);
        results.forEach((result, c) => {
          if (result.kind !== 'idle') rates[m]![c]!.push(result.perSecond);
        });
        await Promise.all(launchers.map((launcher) => quiet(launcher.child.pid)));
      }
    }
  } finally {
    await Promise.all([loadgen, ...launchers.map((launcher) => launcher.child)].map(stop));
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const rows = measures.map((measure, m) => {
    const [one, two] = rates[m]!.map((values) => (values.length === 0 ? Number.NaN : median(values)));
    return `| ${measure.label} | ${Math.round(one!)} | ${Math.round(two!)} | ${(two! / one!).toFixed(2)} |`;
  });
  return [
    `Workers: launchers on core(s) ${cores.join(',')}, load generator on core ${LOADGEN_CORE}; median of ${runs} run(s)`,
    '',
    '| measure | 1 worker | 2 workers | 2 / 1 |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

function echoRequest(clients: number): Omit<EchoRequest, 'targets'> {
  return { kind: 'echo', clients, depth: 1, ...timing() };
}

function timing(): Timing {
  return { warmupMs: plan.warmupMs, durationMs: plan.durationMs, sliceMs: plan.sliceMs };
}

/** Starts the servers and the load generator, and runs every measurement on every target, interleaved. */
async function loadTests(
  transports: readonly TransportName[],
  runs: Runs,
): Promise<{ targets: TargetInfo[]; limits: Record<string, number> }> {
  const raws = RAWS.filter((raw) => transports.some((transport) => RAW_FOR[transport] === raw));
  const hasTelnet = transports.includes('telnet');
  const targets: TargetInfo[] = raws.flatMap((raw) => [
    { name: raw, label: RAW_LABELS[raw], transport: undefined, baseline: undefined },
    ...transports
      .filter((transport) => RAW_FOR[transport] === raw)
      .map((transport) => ({
        name: transport,
        label: transport,
        transport,
        baseline: raw,
        negotiatingBaseline: transport === 'telnet' ? NEGOTIATING_RAW : undefined,
      })),
  ]);
  const negotiating: TargetInfo = {
    name: NEGOTIATING_RAW,
    label: RAW_LABELS[NEGOTIATING_RAW],
    transport: undefined,
    baseline: undefined,
  };
  const rawNames: RawName[] = hasTelnet ? [...raws, NEGOTIATING_RAW] : [...raws];
  const loadgen = spawnNode('load generator', LOADGEN_CORE, [...TSX, join(BENCH, 'loadgen.ts')], 'ipc');
  let limits: Record<string, number> = {};

  const measurements: MeasurementKey[] = [...(Object.keys(ECHO_LOADS) as EchoKey[]), 'connect'];
  // Each raw server with the transports compared with it: measured together, taking turns.
  const groups = raws.map((raw) => targets.filter((target) => target.name === raw || target.baseline === raw));
  // A single client has no target, and the machine's spells move it more than runs do: one run's.
  const isMeasuredIn = (key: MeasurementKey, rep: number): boolean => key !== 'closed-1' || rep === 1;
  const speaksSsh = (target: TargetInfo): boolean =>
    (target.transport ?? RAW_PROTOCOLS[target.name as RawName]) === 'ssh';
  // SSH's idle connections in the first run only (see plan.sshIdleSteps).
  const isIdleIn = (target: TargetInfo, rep: number): boolean => rep === 1 || !speaksSsh(target);
  let total = 0;
  for (let rep = 1; rep <= plan.reps; rep++) {
    total += measurements.filter((key) => isMeasuredIn(key, rep)).length * groups.length;
    total += targets.filter((target) => isIdleIn(target, rep)).length;
  }
  let done = 0;
  const record = (group: readonly TargetInfo[], key: MeasurementKey, outcome: LoadResult[] | Error): void => {
    group.forEach((target, index) => {
      const run: Run = outcome instanceof Error ? { error: outcome.message } : outcome[index]!;
      ((runs[target.name] ??= {})[key] ??= []).push(run);
    });
  };
  const checkAlive = (server: Server, key: MeasurementKey, target: TargetInfo): void => {
    const { process: proc, name, output } = server.child;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${name} exited during ${key} on ${target.name}:\n  ${output.join('\n  ')}`);
    }
  };
  /** One run's round trips and connects: each measurement, each raw server's group in turns. */
  const measureRun = async (rep: number, servers: Record<string, Server>): Promise<void> => {
    for (const key of measurements) {
      if (!isMeasuredIn(key, rep)) continue;
      for (const baseGroup of groups) {
        // Telnet connects are compared with a raw server that negotiates too (reported, not a
        // target): in the first run only, which keeps the bench within its 6 minutes.
        const group =
          key === 'connect' && rep === 1 && baseGroup.some((target) => target.negotiatingBaseline !== undefined)
            ? [...baseGroup, negotiating]
            : baseGroup;
        // Backwards every other run: which target has the first turn changes too.
        const order = rep % 2 === 1 ? group : [...group].reverse();
        const label = key === 'connect' ? 'connect rate' : ECHO_LABELS[key as EchoKey];
        progress(
          `run ${rep}/${plan.reps}  ${++done}/${total}  ${label}: ${order.map((target) => target.name).join(', ')}`,
        );
        const addresses = order.map((target) => servers[target.name]!.address);
        const request: LoadRequest =
          key === 'connect'
            ? {
                kind: 'connect',
                targets: addresses,
                concurrency: plan.connectConcurrency,
                ...timing(),
                warmupMs: plan.connectWarmupMs,
              }
            : {
                kind: 'echo',
                targets: addresses,
                ...ECHO_LOADS[key as EchoKey],
                ...timing(),
                ...(key === 'closed-1' ? { durationMs: plan.singleClientDurationMs } : {}),
              };
        record(order, key, await measureLoad(loadgen, request).catch((err: Error) => err));
        for (const target of order) checkAlive(servers[target.name]!, key, target);
        await Promise.all([...new Set(order.map((target) => servers[target.name]!.child.pid))].map(quiet));
      }
    }
  };
  // Every server is started once and serves all the runs, as in an outside check against one
  // `npm start`: what is measured is each one's steady state, not its warming. A new launcher
  // each run (as this bench did) met raw servers kept warm, and SSH showed what that measured:
  // both SSH servers take 5 to 9 s of connects to reach their speed (by hand, connects a second
  // over a new server's first ten seconds: raw ssh2 285 to 550, a launcher 220 to 600), so each
  // run's launcher was measured warming against a warm ssh2 (0.88x, where the two warm ran
  // 1.2x); with a new raw SSH server each run too, both cold, ssh2's round trips warmed faster
  // (0.84x). The median over runs is one over time, not over processes: one launcher's luck
  // in what V8 compiled (one launcher of a build ran 10% to 25% from another, by hand) is in
  // every run, as one raw server's is.
  progress('starting the servers');
  const [launcher, ...rawServers] = await Promise.all([
    startLauncher('launcher'),
    ...rawNames.map((raw) => startRaw(raw)),
  ]);
  const servers = byTarget(rawServers, transports, () => launcher);
  const processes = [launcher.child, ...rawServers.map((server) => server.child), loadgen];
  limits = Object.fromEntries(processes.map((c) => [c.name, openFilesLimit(c.pid)]));
  try {
    // Uncounted load first, in two streams at once (a warm-up needs no core to itself):
    // - the raw servers but SSH's: a new one took 3 to 4 s of connects to reach its speed (the
    //   `ws` one from 3,200 to 7,000 a second), and the raw `ws` server's pipelined rate climbed
    //   for seconds more (65,000 to 75,000 round trips a second over 8 s);
    // - the launcher, which reached its speed on these transports within a second, then both
    //   SSH servers alike, in turns.
    const warmUp = async (targets: TargetAddress[], connectMs: number, pipelinedMs: number): Promise<void> => {
      if (targets.length === 0) return;
      const slices = { durationMs: plan.sliceMs, sliceMs: plan.sliceMs };
      const connects = { kind: 'connect', concurrency: plan.connectConcurrency } as const;
      await measureLoad(loadgen, { ...connects, targets, ...slices, warmupMs: connectMs });
      const pipelined = { kind: 'echo', ...ECHO_LOADS.pipelined } as const;
      await measureLoad(loadgen, { ...pipelined, targets, ...slices, warmupMs: pipelinedMs });
    };
    const addressOf = (name: string): TargetAddress => servers[name]!.address;
    const sshTargets = targets.filter(speaksSsh).map((target) => addressOf(target.name));
    const otherRaws = rawNames.filter((raw) => RAW_PROTOCOLS[raw] !== 'ssh').map(addressOf);
    const otherTransports = transports.filter((transport) => transport !== 'ssh').map(addressOf);
    const { raw, launcher: forLauncher, ssh } = plan.warmup;
    progress('warming up: the raw servers, and beside them the launcher, then both SSH servers');
    await Promise.all([
      warmUp(otherRaws, raw.connectMs, raw.pipelinedMs),
      (async () => {
        await warmUp(otherTransports, forLauncher.connectMs, forLauncher.pipelinedMs);
        await warmUp(sshTargets, ssh.connectMs, ssh.pipelinedMs);
      })(),
    ]);
    for (let rep = 1; rep <= plan.reps; rep++) await measureRun(rep, servers);
  } finally {
    await Promise.all([launcher, ...rawServers].map((server) => stop(server.child)));
  }
  // Idle connections once every run's round trips and connects are done. Taken between runs, as
  // they were, they slowed the raw servers kept for the next run: their connects fell 12% to 15%
  // from the first run to the second and third (raw `node:net` 15,127, 13,329, 12,932 a second)
  // while each run's new launcher (as it was then) kept its pace, which flattered it; taken
  // after, the raw rates hold from run to run (9,979 on a slow spell of the whole machine, then
  // 14,574 and 14,906).
  // Two targets at a time, each with a load generator of its own: most of a target's time is
  // spent waiting (settling, answers), and its server's RSS is its own. The 10,000 held go alone:
  // two at once would pass the descriptor limit.
  const loadgens = [loadgen, spawnNode('load generator 2', LOADGEN_CORE, [...TSX, join(BENCH, 'loadgen.ts')], 'ipc')];
  for (let rep = 1; rep <= plan.reps; rep++) {
    const idleTargets = targets.filter((target) => isIdleIn(target, rep));
    const idleRaws = raws.filter((raw) => idleTargets.some((target) => target.name === raw));
    const idleTransports = transports.filter((transport) => idleTargets.some((target) => target.name === transport));
    // A server's RSS only grows back to where the runs above left it: idle memory needs fresh
    // processes. They start on both cores, in half the time, and serve on the servers' one: on
    // both, a raw server's connections took a quarter more memory (V8's helper threads at work
    // beside it), 3.6 to 3.7 KB where pinned ones took 2.9.
    progress(`run ${rep}/${plan.reps}  starting fresh servers for idle connections`);
    const cores = canPin ? `${SERVER_CORE},${LOADGEN_CORE}` : SERVER_CORE;
    const [freshRaws, freshLaunchers] = await Promise.all([
      Promise.all(idleRaws.map((raw) => startRaw(raw, cores))),
      Promise.all(idleTransports.map((transport) => startLauncher(`launcher for idle ${transport}`, 1, cores))),
    ]);
    for (const server of [...freshRaws, ...freshLaunchers]) pin(server.child.pid, SERVER_CORE);
    const fresh = byTarget(
      freshRaws,
      idleTransports,
      (transport) => freshLaunchers[idleTransports.indexOf(transport)]!,
    );
    // The framework's targets hold 10,000 in the first run (SSH's do not: see plan.sshIdleSteps).
    const isHeld = (target: TargetInfo): boolean =>
      rep === 1 && plan.holdConnections !== undefined && target.transport !== undefined && !speaksSsh(target);
    const stepsOf = (target: TargetInfo): number[] => {
      const base = speaksSsh(target) ? plan.sshIdleSteps : rep === 1 ? plan.idleSteps : plan.laterIdleSteps;
      return isHeld(target) ? [...base, plan.holdConnections!] : base;
    };
    const measureIdle = async (target: TargetInfo, generator: Child): Promise<void> => {
      const server = fresh[target.name]!;
      const request: LoadRequest = {
        kind: 'idle',
        target: server.address,
        steps: stepsOf(target),
        settleMs: plan.idleSettleMs,
        stepSettleMs: plan.idleStepSettleMs,
      };
      record([target], 'idle', await ask(generator, request).catch((err: Error) => err));
      checkAlive(server, 'idle', target);
      await stop(server.child);
    };
    const batches = [
      ...idleTargets.filter(isHeld).map((target) => [target]),
      ...pairs(idleTargets.filter((target) => !isHeld(target))),
    ];
    try {
      for (const batch of batches) {
        done += batch.length;
        progress(
          `run ${rep}/${plan.reps}  ${done}/${total}  idle connections: ${batch.map((target) => target.name).join(', ')}`,
        );
        await Promise.all(batch.map((target, index) => measureIdle(target, loadgens[index]!)));
      }
    } finally {
      await Promise.all(Object.values(fresh).map((server) => stop(server.child)));
    }
  }
  await stop(loadgens[1]!);
  await stop(loadgen);
  // Listed for its label: it has no section of its own.
  return { targets: hasTelnet ? [...targets, negotiating] : targets, limits };
}

/** `items` two by two, the last alone when they are odd. */
function pairs<T>(items: readonly T[]): T[][] {
  const paired: T[][] = [];
  for (let i = 0; i < items.length; i += 2) paired.push(items.slice(i, i + 2));
  return paired;
}

/** Which process answers for each target: a raw server for itself, a launcher for a transport. */
function byTarget(
  raws: readonly Server[],
  transports: readonly TransportName[],
  launcherFor: (transport: TransportName) => Launcher,
): Record<string, Server> {
  const servers: Record<string, Server> = {};
  for (const raw of raws) servers[raw.child.name] = raw;
  for (const transport of transports) {
    const launcher = launcherFor(transport);
    servers[transport] = { child: launcher.child, address: launcher.addresses[transport] };
  }
  return servers;
}

/** A raw server, started and accepting connections, on `cores`. */
async function startRaw(raw: RawName, cores: number | string = SERVER_CORE): Promise<Server> {
  const [port] = await freePorts(1);
  const child = spawnNode(raw, cores, [...TSX, join(BENCH, `${raw}-server.ts`), String(port)]);
  await waitForPort(child, port!);
  return {
    child,
    address: { protocol: RAW_PROTOCOLS[raw], port: port!, path: '/', pid: child.pid },
  };
}

/** The launcher serving the sample (`npm start`), every port accepting connections; `workers` processes on `cores`. */
async function startLauncher(name: string, workers = 1, cores: number | string = SERVER_CORE): Promise<Launcher> {
  const sample = await writeSampleConfig(`${name.replaceAll(/[ ,()]+/g, '-')}.yaml`, SAMPLE_HANDLER, workers);
  const child = spawnNode(name, cores, [join(ROOT, 'dist/cli.js'), '-c', sample.file]);
  const addresses = {} as Record<TransportName, TargetAddress>;
  for (const transport of TRANSPORTS) {
    const { port, path } = sample.servers[transport]!;
    await waitForPort(child, port);
    addresses[transport] = { protocol: transport, port, path, pid: child.pid };
  }
  return { child, addresses };
}

function isSsh(address: TargetAddress): boolean {
  return address.protocol === 'ssh';
}

/** A request's result per target: round trips and connects from the native generator where there is one. */
function measureLoad(loadgen: Child, request: LoadRequest): Promise<LoadResult[]> {
  if (request.kind === 'idle' || !('binary' in native)) return ask(loadgen, request);
  if (!native.hasSsh && request.targets.some(isSsh)) return ask(loadgen, request);
  return runNativeRequest(native.binary, request, canPin ? LOADGEN_CORE : undefined);
}

/** The Node load generator's answer to one request: a result per target. */
function ask(loadgen: Child, request: LoadRequest): Promise<LoadResult[]> {
  return new Promise((resolvePromise, reject) => {
    const proc = loadgen.process;
    const done = (): void => {
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
    };
    const onMessage = (reply: LoadReply): void => {
      done();
      if (reply.ok) resolvePromise(reply.results);
      else reject(new Error(reply.error));
    };
    const onExit = (): void => {
      done();
      reject(new Error('the load generator exited'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no answer from the load generator in ${REQUEST_TIMEOUT_MS / 1000} s`));
    }, REQUEST_TIMEOUT_MS);
    proc.on('message', onMessage);
    proc.once('exit', onExit);
    proc.send(request);
  });
}

/** Waits until the server has finished with the last run's connections, so that it starts the next one idle. */
async function quiet(pid: number): Promise<void> {
  const deadline = Date.now() + QUIET_MAX_MS;
  let before = treeCpuMs(pid);
  while (Date.now() < deadline) {
    await sleep(QUIET_POLL_MS);
    const now = treeCpuMs(pid);
    if (now - before <= QUIET_CPU_MS) return;
    before = now;
  }
}

/** The RSS of idle processes: bare Node, and launchers with the sample's config and a .js or .ts handler. */
async function idleProcessMemory(): Promise<ProcessMemory> {
  const memory: ProcessMemory = {};
  const js = await writeSampleConfig('sample-js.yaml', JS_HANDLER);
  const ts = await writeSampleConfig('sample-ts.yaml', SAMPLE_HANDLER);
  const [tcpPort] = await freePorts(1);
  const tcpOnly = join(workDir, 'tcp-js.yaml');
  writeFileSync(tcpOnly, `host: '127.0.0.1'\nport: ${tcpPort}\ntransport: 'tcp'\nhandler_class: '${JS_HANDLER}'\n`);
  const cli = join(ROOT, 'dist/cli.js');
  for (let rep = 1; rep <= plan.reps; rep++) {
    progress(`idle process memory, run ${rep}/${plan.reps}${isOn('micro') ? '; microbenchmarks' : ''}`);
    const processes: [string, Child, number[]][] = [
      ['bare', spawnNode('bare node', SERVER_CORE, ['-e', 'setInterval(() => {}, 1e3)']), []],
      ['launcher-js', spawnNode('launcher (.js)', SERVER_CORE, [cli, '-c', js.file]), js.ports],
      ['launcher-ts', spawnNode('launcher (.ts)', SERVER_CORE, [cli, '-c', ts.file]), ts.ports],
      ['launcher-js-tcp', spawnNode('launcher (one tcp)', SERVER_CORE, [cli, '-c', tcpOnly]), [tcpPort!]],
    ];
    try {
      // Its "listening" lines come last, once every server is up: no probe connection (a session) is needed.
      await Promise.all(processes.map(([, child, ports]) => waitForListening(child, ports.length)));
      await sleep(IDLE_PROCESS_SETTLE_MS);
      for (const [key, child] of processes) (memory[key] ??= []).push(rssKb(child.pid));
    } finally {
      await Promise.all(processes.map(([, child]) => stop(child)));
    }
  }
  return memory;
}

async function waitForListening(child: Child, servers: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (child.output.filter((line) => line.includes(' server listening on ')).length < servers) {
    if (child.process.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${child.name} did not start:\n  ${child.output.join('\n  ')}`);
    }
    await sleep(50);
  }
}

/** Runs bench/micro.ts on the load generator's core (free by now) and takes its results. */
async function microbenchmarks(): Promise<MicroResult[]> {
  if (!isOn('memory')) progress('microbenchmarks');
  const child = spawnNode(
    'micro',
    LOADGEN_CORE,
    [...TSX, join(BENCH, 'micro.ts'), ...(flags.quick ? ['--quick'] : [])],
    'ipc',
  );
  return new Promise((resolvePromise, reject) => {
    child.process.once('message', (results: MicroResult[]) => resolvePromise(results));
    child.process.once('exit', (code) => reject(new Error(`micro.ts exited (${code}) without results`)));
  });
}

/**
 * The sample's config with what the bench needs changed: loopback, free ports, the handler by
 * absolute path, room for the idle connections. Monitoring, metrics and the web client stay on.
 */
async function writeSampleConfig(
  name: string,
  handlerClass: string,
  workers = 1,
): Promise<{ file: string; ports: number[]; servers: Record<string, { port: number; path: string }> }> {
  const document = parseDocument(readFileSync(SAMPLE_CONFIG, 'utf8'));
  if (workers > 1) document.set('workers', workers);
  const sections = (document.toJS() as { servers: Record<string, { transport: string; ws_path?: string }> }).servers;
  const names = Object.keys(sections);
  const ports = await freePorts(names.length);
  const servers: Record<string, { port: number; path: string }> = {};
  names.forEach((server, i) => {
    const section = sections[server]!;
    document.setIn(['servers', server, 'host'], '127.0.0.1');
    document.setIn(['servers', server, 'port'], ports[i]);
    document.setIn(['servers', server, 'handler_class'], handlerClass);
    document.setIn(['servers', server, 'max_connections'], MAX_CONNECTIONS);
    servers[section.transport] = { port: ports[i]!, path: section.ws_path ?? '' };
  });
  const file = join(workDir, name);
  writeFileSync(file, document.toString());
  return { file, ports, servers };
}

/** `npm run build` when dist/ is missing or older than a file under src/. */
function buildIfStale(): void {
  const built = (() => {
    try {
      return statSync(join(ROOT, 'dist/cli.js')).mtimeMs;
    } catch {
      return 0;
    }
  })();
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) =>
        entry.isDirectory() ? newest(join(dir, entry.name)) : statSync(join(dir, entry.name)).mtimeMs,
      ),
    );
  if (built > newest(join(ROOT, 'src'))) return;
  progress('npm run build (dist/ is older than src/)');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The commit measured, and whether src/ differs from it (dist/ is built from the working tree). */
function sourceVersion(): { commit: string; isSrcChanged: boolean } {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', 'HEAD'), isSrcChanged: git('status', '--porcelain', '--', 'src') !== '' };
  } catch {
    return { commit: 'unknown', isSrcChanged: false };
  }
}

function usage(problem: string): never {
  process.stderr.write(
    `bench: ${problem}\nflags: --quick, --only ${SECTIONS.join(',')} (any of them), --reps N, --duration SECONDS\n`,
  );
  process.exit(2);
}

function runToEnd(child: Child): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    child.process.once('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`${child.name} exited with ${code}`)),
    );
  });
}
