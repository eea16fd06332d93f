// Test support: the launcher (or any command serving like it) as a subprocess, killed by its PID after the file's tests.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';

/** A serving subprocess, once it has said where it listens. */
export interface Running {
  child: ChildProcess;
  /** Ports by server name, from the "<name>: <transport> server listening on <url>" lines. */
  ports: Map<string, number>;
  output(): { stdout: string; stderr: string };
  /** The exit code, or the signal that ended the process. */
  exited: Promise<number | NodeJS.Signals | null>;
}

const children: ChildProcess[] = [];
after(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts a long-running command and waits until it has printed `servers` listening lines. */
export function startServing(
  command: string,
  args: string[],
  options: { servers?: number; cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Running> {
  const servers = options.servers ?? 1;
  return new Promise((resolveStart, reject) => {
    // Its own process group, so that a signal reaches npx's children as Ctrl-C would.
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    const ports = new Map<string, number>();
    const exited = new Promise<number | NodeJS.Signals | null>((resolveExit) =>
      child.on('exit', (code, signal) => resolveExit(code ?? signal)),
    );
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
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
