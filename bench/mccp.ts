// MCCP2 in the bench: throughput of MUD output with compression on and off, and the memory a
// compressed session costs the server. The servers run on the server core, the clients here.
// Run by `npm run bench` (--only mccp), or alone: node --import tsx bench/mccp.ts [--quick]
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { MudClient } from '../test/support/mud-client.js';
import { median } from './report.js';
import { SERVER_CORE, freePorts, spawnNode, stop, waitForPort } from './processes.js';
import type { Child } from './processes.js';
import { rssKb } from './proc-stats.js';

const isQuick = process.argv.includes('--quick');
const REPS = isQuick ? 1 : 3;
const BURST_LINES = isQuick ? 20_000 : 100_000;
const SESSIONS = isQuick ? 200 : 1000;
const SETTLE_MS = 1000;
const CONNECT_BATCH = 50;
const BURST_TIMEOUT_MS = 20_000;
const TSX = ['--import', 'tsx'];
const MODES = ['plain', 'mccp2'] as const;
type Mode = (typeof MODES)[number];

async function startServer(mode: Mode): Promise<{ child: Child; port: number }> {
  const [port] = await freePorts(1);
  const child = spawnNode(`mccp server (${mode})`, SERVER_CORE, [
    ...TSX,
    join(import.meta.dirname, 'mccp-server.ts'),
    String(port),
    mode,
  ]);
  await waitForPort(child, port!);
  return { child, port: port! };
}

async function connect(port: number, mode: Mode): Promise<MudClient> {
  const accept = mode === 'mccp2' ? (['mccp2'] as const) : [];
  const client = await MudClient.connect({ transport: 'telnet', port, accept, keepText: false });
  await client.waitForEnding('ready\r\n');
  if (mode === 'mccp2') await client.waitUntil('MCCP2', () => client.isInflating);
  return client;
}

/** Text delivered per second (after inflating), and wire bytes per text byte, for one burst. */
async function burst(port: number, mode: Mode): Promise<{ mbPerSecond: number; ratio: number }> {
  const client = await connect(port, mode);
  const wireBefore = client.wireBytes;
  const textBefore = client.textBytes;
  const started = performance.now();
  client.sendLine(`burst ${BURST_LINES}`);
  // A burst takes about a second; a stalled one fails the section well within the bench's bound.
  await client.waitForEnding('END\r\n', BURST_TIMEOUT_MS);
  const seconds = (performance.now() - started) / 1000;
  const text = client.textBytes - textBefore;
  const ratio = (client.wireBytes - wireBefore) / text;
  client.close();
  return { mbPerSecond: text / 1e6 / seconds, ratio };
}

/** Server RSS per session once SESSIONS sessions have each received a little output. */
async function perSession(mode: Mode): Promise<number> {
  const server = await startServer(mode);
  try {
    await sleep(SETTLE_MS);
    const before = rssKb(server.child.pid);
    const clients: MudClient[] = [];
    // In batches: one at a time, the negotiation of a thousand sessions took most of the section's time.
    for (let i = 0; i < SESSIONS; i += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, SESSIONS - i) }, () => connect(server.port, mode));
      clients.push(...(await Promise.all(batch)));
    }
    for (const client of clients) client.sendLine('burst 20');
    await Promise.all(clients.map((client) => client.waitForEnding('END\r\n', 60_000)));
    await sleep(SETTLE_MS);
    const after = rssKb(server.child.pid);
    for (const client of clients) client.close();
    return (after - before) / SESSIONS;
  } finally {
    await stop(server.child);
  }
}

const throughput: Record<Mode, { mbPerSecond: number; ratio: number }[]> = { plain: [], mccp2: [] };
const servers = await Promise.all(MODES.map(startServer));
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, mode] of MODES.entries()) throughput[mode].push(await burst(servers[i]!.port, mode));
  }
} finally {
  await Promise.all(servers.map((server) => stop(server.child)));
}
// Both at once, each server in a process of its own: memory is not a rate, and the section takes half the time.
const [plainMemory, mccp2Memory] = await Promise.all(MODES.map(perSession));
const memory: Record<Mode, number> = { plain: plainMemory!, mccp2: mccp2Memory! };

const rate = (mode: Mode): number => median(throughput[mode].map((run) => run.mbPerSecond));
const wire = (mode: Mode): number => median(throughput[mode].map((run) => run.ratio));
console.log(
  `\nMCCP2 (telnet, ${BURST_LINES.toLocaleString('en')} lines of coloured MUD output in turns of 100 lines; ` +
    `median of ${REPS}; memory over ${SESSIONS} sessions)`,
);
console.log('                          text MB/s   wire bytes per text byte   server RSS per session');
for (const mode of MODES) {
  console.log(
    `  ${mode === 'plain' ? 'uncompressed' : 'MCCP2 on    '}            ${rate(mode).toFixed(1).padStart(6)}` +
      `   ${wire(mode).toFixed(3).padStart(24)}   ${`${memory[mode].toFixed(1)} KiB`.padStart(22)}`,
  );
}
console.log(`  a compressed session costs ${(memory.mccp2 - memory.plain).toFixed(1)} KiB more than a plain one`);
