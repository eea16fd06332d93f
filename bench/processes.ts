// The bench's child processes: spawned pinned to a core with the descriptor limit raised, and only
// ever ended by their own PID, on success, failure or Ctrl-C alike.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** A child and the last lines it printed, for the error when it dies early. */
export interface Child {
  process: ChildProcess;
  pid: number;
  name: string;
  output: string[];
}

const TASKSET = '/usr/bin/taskset';
/** Cores for the servers and the load generator, when there are two to give. */
export const SERVER_CORE = 0;
export const LOADGEN_CORE = 1;
export const canPin = existsSync(TASKSET) && availableParallelism() >= 2;

const OUTPUT_LINES_KEPT = 20;
const PORT_WAIT_MS = 30_000;

const children = new Set<Child>();

/** Kills every child still running, synchronously: the only way left in an 'exit' handler. */
function killAll(): void {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  }
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping the bench's processes\n`);
    process.exit(130);
  });
}

/** Pins every thread of a running process to `core` (a started process keeps the cores it started on). */
export function pin(pid: number, core: number): void {
  if (canPin) execFileSync(TASKSET, ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

/**
 * Starts `node <args>` on `core` (or a taskset list such as "0,2"), its soft descriptor limit raised to the hard one (10,000 open
 * connections need more than the usual 1,024). `sh -c … exec` and taskset both exec, so the PID
 * is node's own. Its output is kept ('pipe'), shared with ours ('inherit'), or shared beside an
 * IPC channel for its messages ('ipc').
 */
export function spawnNode(
  name: string,
  core: number | string,
  args: readonly string[],
  stdio: 'pipe' | 'inherit' | 'ipc' = 'pipe',
): Child {
  const pin = canPin ? [TASKSET, '-c', String(core)] : [];
  const command = [
    'sh',
    '-c',
    'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
    'sh',
    ...pin,
    process.execPath,
    ...args,
  ];
  const child = spawn(command[0]!, command.slice(1), {
    stdio:
      stdio === 'pipe'
        ? ['ignore', 'pipe', 'pipe']
        : ['ignore', 'inherit', 'inherit', ...(stdio === 'ipc' ? ['ipc' as const] : [])],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command.join(' ')}`);
  const entry: Child = { process: child, pid: child.pid, name, output: [] };
  const keep = (chunk: Buffer): void => {
    entry.output.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== ''),
    );
    entry.output.splice(0, Math.max(0, entry.output.length - OUTPUT_LINES_KEPT));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  children.add(entry);
  child.once('exit', () => children.delete(entry));
  return entry;
}

/** Resolves once `port` on 127.0.0.1 accepts a connection; rejects if the child exits first. */
export async function waitForPort(child: Child, port: number): Promise<void> {
  const deadline = Date.now() + PORT_WAIT_MS;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited before listening on ${port}:\n  ${child.output.join('\n  ')}`);
    }
    if (await accepts(port)) return;
    await sleep(100);
  }
  throw new Error(
    `${child.name} is not listening on ${port} after ${PORT_WAIT_MS} ms:\n  ${child.output.join('\n  ')}`,
  );
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Ends one child by its PID, at once: the bench is done with it, and a launcher's graceful
 * shutdown (SIGTERM) takes seconds that the bench's time limit has no room for.
 */
export async function stop(child: Child): Promise<void> {
  const { process: proc } = child;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGKILL');
  await exited;
}

/** Ports freePorts has handed out in this run: a server may not be bound to its port yet. */
const handedOut = new Set<number>();

/**
 * Ports free on 127.0.0.1 now, all different, and never handed out before in this run: launchers
 * started at once each ask for theirs before any of them listens. Each is held until every one
 * is found. They are taken below the kernel's range for outgoing connections: the bench opens
 * 10,000 connections, and a port from that range can be some connection's source port by the
 * time a server binds it.
 */
export async function freePorts(count: number): Promise<number[]> {
  const below = outgoingPortsStart();
  const servers: net.Server[] = [];
  try {
    while (servers.length < count) {
      const port = below > FIRST_PORT ? FIRST_PORT + Math.floor(Math.random() * (below - FIRST_PORT)) : 0;
      if (handedOut.has(port)) continue;
      const server = await listenOn(port);
      if (server === undefined) continue;
      // Port 0 (no range to pick from) lets the kernel choose, maybe a port handed out already.
      const bound = (server.address() as net.AddressInfo).port;
      if (handedOut.has(bound)) {
        server.close();
        continue;
      }
      handedOut.add(bound);
      servers.push(server);
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** Where the bench's ports are looked for, up to the kernel's outgoing range. */
const FIRST_PORT = 20_000;

/** The first port of the kernel's range for outgoing connections (0 where it cannot be read). */
function outgoingPortsStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}

/** A server listening on `port` of 127.0.0.1, or undefined where the port is taken. */
function listenOn(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
    );
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
