// Test support: the launcher as a running subprocess, its ports read from what it prints; its process group ended after the file's tests.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';

export interface Running {
  child: ChildProcess;
  /** Ports by server name, from the "<name>: <transport> server listening on <url>" lines. */
  ports: Map<string, number>;
  output(): { stdout: string; stderr: string };
  /** The exit code, or the signal that ended the process. */
  exited: Promise<number | NodeJS.Signals | null>;
}

const started: ChildProcess[] = [];
after(() => {
  // The group: a launcher's workers, or npx's children, go with it.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) killGroup(child);
});

/** Starts a long-running command in `cwd` and waits until it has printed `servers` listening lines. */
export function startServing(
  command: string,
  args: string[],
  options: { servers?: number; cwd: string },
): Promise<Running> {
  const servers = options.servers ?? 1;
  return new Promise((resolveStart, reject) => {
    // Its own process group, so that a signal reaches npx's children as Ctrl-C would.
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started.push(child);
    let stdout = '';
    let stderr = '';
    const ports = new Map<string, number>();
    const exited = new Promise<number | NodeJS.Signals | null>((resolveExit) =>
      child.on('exit', (code, signal) => resolveExit(code ?? signal)),
    );
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`not listening after 30 s; stdout ${stdout}; stderr ${stderr}`));
    }, 30_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      for (const match of stdout.matchAll(/^(\S+): \S+ server listening on \w+:\/\/[^\s:]+:(\d+)/gm)) {
        ports.set(match[1]!, Number(match[2]));
      }
      if (ports.size === servers) {
        clearTimeout(timer);
        resolveStart({ child, ports, exited, output: () => ({ stdout, stderr }) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening; stdout ${stdout}; stderr ${stderr}`));
    });
  });
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch (err) {
    // The group is gone already.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
