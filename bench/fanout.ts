// Broadcast fan-out: one message from one session to 1,000 others, timed until the last of them has
// it, with the in-process hub and through Redis between two launchers. Run by `npm run bench`.
// Flags: --quick (fewer messages).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { SERVER_CORE, freePorts, spawnNode, stop, waitForPort } from './processes.js';
import type { Child } from './processes.js';
import { median } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HANDLER = `${join(ROOT, 'bench/fixtures/broadcast-handler.js')}:BroadcastHandler`;
const RECEIVERS = 1000;
/** How long one message may take to reach everyone before the run counts as failed. */
const MESSAGE_TIMEOUT_MS = 10_000;

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const MESSAGES = flags.quick ? 10 : 40;

/** A client of the bench's TCP server that notes when each numbered message arrives. */
interface Receiver {
  socket: net.Socket;
  /** The highest message number seen. */
  last: number;
}

const workDir = mkdtempSync(join(tmpdir(), 'chuk-fanout-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));

const results: Array<[string, number[] | string]> = [];
results.push(['in-process hub, 1 launcher', await inProcess()]);
results.push(['Redis hub, sender and receivers on 2 launchers', await throughRedis()]);
console.log(
  `\nbroadcast fan-out: one message to ${RECEIVERS} sessions, ms until the last has it (${MESSAGES} messages)`,
);
console.log(`${'hub'.padEnd(48)}${'p50'.padStart(8)}${'p90'.padStart(8)}${'max'.padStart(8)}`);
for (const [label, latencies] of results) {
  if (typeof latencies === 'string') {
    console.log(`${label.padEnd(48)}  ${latencies}`);
    continue;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
  console.log(
    `${label.padEnd(48)}${median(sorted).toFixed(1).padStart(8)}${p90.toFixed(1).padStart(8)}${sorted.at(-1)!.toFixed(1).padStart(8)}`,
  );
}

async function inProcess(): Promise<number[]> {
  const [port] = await freePorts(1);
  const launcher = startLauncher('fan-out launcher', port!, undefined);
  try {
    await waitForPort(launcher, port!);
    return await measure(port!, port!);
  } finally {
    await stop(launcher);
  }
}

async function throughRedis(): Promise<number[] | string> {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) return 'not run: redis-server is not installed';
  const [redisPort, senderPort, receiverPort] = await freePorts(3);
  const redis = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  process.on('exit', () => redis.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${redisPort}`;
  const launchers = [
    startLauncher('fan-out sender', senderPort!, url),
    startLauncher('fan-out receivers', receiverPort!, url),
  ];
  try {
    await Promise.all([waitForPort(launchers[0]!, senderPort!), waitForPort(launchers[1]!, receiverPort!)]);
    return await measure(senderPort!, receiverPort!);
  } finally {
    await Promise.all(launchers.map(stop));
    redis.kill('SIGKILL');
  }
}

function startLauncher(name: string, port: number, redisUrl: string | undefined): Child {
  const config = join(workDir, `${name.replaceAll(' ', '-')}.yaml`);
  const hub = redisUrl === undefined ? '' : `hub:\n  redis: ${redisUrl}\n`;
  writeFileSync(
    config,
    `${hub}servers:\n  tcp:\n    host: 127.0.0.1\n    port: ${port}\n    transport: tcp\n    max_connections: ${RECEIVERS + 10}\n    handler_class: '${HANDLER}'\n`,
  );
  return spawnNode(name, SERVER_CORE, [join(ROOT, 'dist/cli.js'), '-c', config]);
}

/** Connects the receivers and a sender, then times each message from the sender's write to the last receiver. */
async function measure(senderPort: number, receiverPort: number): Promise<number[]> {
  const receivers: Receiver[] = [];
  for (let i = 0; i < RECEIVERS; i += 50) {
    receivers.push(...(await Promise.all(Array.from({ length: 50 }, () => connectReceiver(receiverPort)))));
  }
  const sender = await connectReceiver(senderPort);
  try {
    // Until a message gets through: through Redis, the instances need a moment to find each other.
    let warmup = 0;
    const deadline = Date.now() + MESSAGE_TIMEOUT_MS;
    do {
      warmup--;
      sender.socket.write(`fan ${warmup}\n`);
      await sleep(200);
      if (Date.now() > deadline) throw new Error('no broadcast reached every receiver');
    } while (!receivers.every((receiver) => receiver.last === warmup));
    const latencies: number[] = [];
    for (let n = 1; n <= MESSAGES; n++) {
      const started = performance.now();
      sender.socket.write(`fan ${n}\n`);
      while (!receivers.every((receiver) => receiver.last >= n)) {
        if (performance.now() - started > MESSAGE_TIMEOUT_MS) throw new Error(`message ${n} did not reach everyone`);
        await new Promise((resolveTurn) => setImmediate(resolveTurn));
      }
      latencies.push(performance.now() - started);
      await sleep(20);
    }
    return latencies;
  } finally {
    for (const receiver of [...receivers, sender]) receiver.socket.destroy();
  }
}

function connectReceiver(port: number): Promise<Receiver> {
  return new Promise((resolveConnect, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const receiver: Receiver = { socket, last: Number.NEGATIVE_INFINITY };
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ready')) resolveConnect(receiver);
        const match = /fan (-?\d+)/.exec(line);
        if (match !== null) receiver.last = Number(match[1]);
      }
    });
    socket.once('error', reject);
  });
}
