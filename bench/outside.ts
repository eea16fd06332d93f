// The outside load generator (outside-loadgen.c): built with the system's C compiler, run pinned
// like the bench's own, its rates read back. A check of the bench's ratios by a client that is
// not a Node process.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'outside-loadgen.c');
const COMPILERS = ['cc', 'gcc', 'clang'];
const TASKSET = '/usr/bin/taskset';

/** Builds the generator into `dir`; undefined, with why, when no C compiler is there. */
export async function buildOutsideLoadgen(dir: string): Promise<{ binary: string } | { missing: string }> {
  const binary = join(dir, 'outside-loadgen');
  for (const compiler of COMPILERS) {
    try {
      await run(compiler, ['-O2', '-o', binary, SOURCE]);
      return { binary };
    } catch (err) {
      // Not found: try the next; found and failed: that is a real error.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return { missing: `no C compiler (${COMPILERS.join(', ')}): install gcc to run this check` };
}

/** A target as the generator takes it: how its client speaks, the port, and a WebSocket's path. */
export interface OutsideTarget {
  protocol: 'tcp' | 'telnet' | 'ws' | 'wstelnet';
  port: number;
  path?: string;
}

/** Runs the generator (on `core` when it can be pinned); each target's rate, in the order given. */
export async function runOutsideLoadgen(
  binary: string,
  args: readonly (string | number)[],
  targets: readonly OutsideTarget[],
  core: number | undefined,
): Promise<number[]> {
  const names = targets.map((target) => `${target.protocol}:${target.port}${target.path ?? ''}`);
  const command = [binary, ...args.map(String), ...names];
  const pinned = core !== undefined && existsSync(TASKSET) ? [TASKSET, '-c', String(core), ...command] : command;
  const { stdout } = await run(pinned[0]!, pinned.slice(1), { timeout: 120_000 });
  const rates = new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map(([name, rate]) => [name, Number(rate)] as const),
  );
  return names.map((name) => {
    const rate = rates.get(name);
    if (rate === undefined || !Number.isFinite(rate))
      throw new Error(`outside load generator: no rate for ${name} in:\n${stdout}`);
    return rate;
  });
}
