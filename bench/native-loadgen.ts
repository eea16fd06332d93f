// The native load generator (native-loadgen.c): built with the system's C compiler, run pinned
// like the rest of the bench, its results read back in the form of the Node generator's. It is
// the bench's load generator for round trips and connects wherever there is a compiler: a Node
// client costs about what a raw Node server does, so it set the raw servers' pace where they are
// fastest, and the ratios flattered the framework.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import type { ConnectRequest, EchoRequest, LoadResult, TargetAddress } from './load-requests.js';

const run = promisify(execFile);
const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'native-loadgen.c');
const COMPILERS = ['cc', 'gcc', 'clang'];
const TASKSET = '/usr/bin/taskset';
/** The generator's own name for how each client speaks. */
const PROTOCOLS: Record<TargetAddress['protocol'], string> = {
  tcp: 'tcp',
  telnet: 'telnet',
  websocket: 'ws',
  ws_telnet: 'wstelnet',
  ssh: 'ssh',
};

/** The generator as built: `hasSsh` when libssh2 was there to build its ssh client with. */
export interface NativeLoadgen {
  binary: string;
  hasSsh: boolean;
}

/** Builds the generator into `dir`, with libssh2 where it can; undefined, with why, when no C compiler is there. */
export async function buildNativeLoadgen(dir: string): Promise<NativeLoadgen | { missing: string }> {
  const binary = join(dir, 'native-loadgen');
  for (const compiler of COMPILERS) {
    try {
      await run(compiler, ['-O2', '-DHAVE_LIBSSH2', '-o', binary, SOURCE, '-lssh2']);
      return { binary, hasSsh: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
    }
    // Found, and failed with libssh2: without it, a failure is a real error.
    await run(compiler, ['-O2', '-o', binary, SOURCE]);
    return { binary, hasSsh: false };
  }
  return { missing: `no C compiler (${COMPILERS.join(', ')})` };
}

/** What the generator measured on one target, over its counted turns. */
export interface NativeResult {
  perSecond: number;
  /** Round trips or connects. */
  count: number;
  seconds: number;
  /** Round-trip latency; 0 for connects. */
  p50Ms: number;
  p99Ms: number;
  /** CPU time of the target's server process (0 when its pid was not given) and of the generator. */
  serverMs: number;
  clientMs: number;
}

/** A target as the generator takes it: how its client speaks, the port, a WebSocket's path, the server's pid. */
export type NativeTarget = Pick<TargetAddress, 'protocol' | 'port'> & { path?: string; pid?: number };

/** Runs the generator (on `core` when it can be pinned); each target's result, in the order given. */
export async function runNativeLoadgen(
  binary: string,
  args: readonly (string | number)[],
  targets: readonly NativeTarget[],
  core: number | undefined,
): Promise<NativeResult[]> {
  const names = targets.map(
    (target) =>
      `${PROTOCOLS[target.protocol]}:${target.port}${target.path ?? ''}${target.pid === undefined ? '' : `@${target.pid}`}`,
  );
  const command = [binary, ...args.map(String), ...names];
  const pinned = core !== undefined && existsSync(TASKSET) ? [TASKSET, '-c', String(core), ...command] : command;
  const { stdout } = await run(pinned[0]!, pinned.slice(1), { timeout: 120_000, maxBuffer: 1024 * 1024 });
  const lines = new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map(([name, ...values]) => [name, values.map(Number)] as const),
  );
  return names.map((name) => {
    const values = lines.get(name);
    if (values === undefined || values.length !== 7 || !values.every(Number.isFinite))
      throw new Error(`native load generator: no result for ${name} in:\n${stdout}`);
    const [perSecond, count, seconds, p50Ms, p99Ms, serverMs, clientMs] = values as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return { perSecond, count, seconds, p50Ms, p99Ms, serverMs, clientMs };
  });
}

/** An echo or connect request of the bench, run by the native generator: the Node generator's answer, in its form. */
export async function runNativeRequest(
  binary: string,
  request: EchoRequest | ConnectRequest,
  core: number | undefined,
): Promise<LoadResult[]> {
  const seconds = request.durationMs / 1000;
  const args =
    request.kind === 'echo'
      ? ['echo', request.clients, request.depth, seconds, request.sliceMs, request.warmupMs]
      : ['connect', request.concurrency, seconds, request.sliceMs, request.warmupMs];
  const targets = request.targets.map(({ protocol, port, path, pid }) => ({
    protocol,
    port,
    ...(protocol === 'websocket' || protocol === 'ws_telnet' ? { path } : {}),
    pid,
  }));
  const results = await runNativeLoadgen(binary, args, targets, core);
  return results.map(({ perSecond, count, seconds: spent, p50Ms, p99Ms, serverMs, clientMs }) => {
    const cpu = { serverMs, clientMs };
    return request.kind === 'echo'
      ? { kind: 'echo', roundTrips: count, perSecond, p50Ms, p99Ms, errors: 0, cpu, seconds: spent }
      : { kind: 'connect', connects: count, perSecond, errors: 0, cpu, seconds: spent };
  });
}
