// Memory the session monitor costs: per session it keeps output for late viewers, and per
// watched session a headless terminal. Run by `npm run bench` with --expose-gc.
import { pino } from 'pino';

import { InProcessHub } from '../src/hub/hub.js';
import type { SessionInfo } from '../src/hub/events.js';
import { Monitor } from '../src/monitor/monitor.js';
import { ReplayLog } from '../src/monitor/replay-log.js';
import { SessionScreen } from '../src/monitor/screen.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function used(): number {
  gc!();
  gc!();
  const memory = process.memoryUsage();
  // external counts the memory of ArrayBuffers too (a replay past its first few hundred characters).
  return memory.heapUsed + memory.external;
}

function info(id: string): SessionInfo {
  return {
    id,
    instance: 'bench',
    server: 'bench',
    transport: 'telnet',
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    secure: false,
    startedAt: Date.now(),
    lastInputAt: Date.now(),
    user: undefined,
    terminal: { type: 'XTERM', cols: 80, rows: 24 },
    bytesIn: 0,
    bytesOut: 0,
  };
}

const kib = (bytes: number): string => `${Math.round(bytes / 1024)} KiB`.padStart(9);

/**
 * Memory per session once each of `count` sessions has had `output` written through the monitor,
 * beside the size of the replay log they share (one per process, resident as far as it filled).
 */
async function perMonitoredSession(
  count: number,
  output: string | ((session: number) => string),
  writes: number,
): Promise<string> {
  // A fresh copy each time: sessions do not share their output's memory.
  const fresh = (session: number): string =>
    typeof output === 'string' ? Buffer.from(output).toString('latin1') : output(session);
  const hub = new InProcessHub();
  const log = new ReplayLog();
  const monitor = new Monitor(hub, { notice: false, logger: pino({ level: 'silent' }), replayLog: log });
  monitor.start();
  const before = used();
  for (let i = 0; i < count; i++) {
    const id = `s${i}`;
    hub.events.publish('session-started', { session: info(id) });
    for (let w = 0; w < writes; w++) hub.events.publish('output', { sessionId: id, text: fresh(i) });
  }
  // The replay log is one per process, whatever the number of sessions: counted apart.
  const after = used() - log.size;
  await monitor.stop();
  const perSession = (after - before) / count;
  const shown = perSession < 1024 ? `${Math.round(perSession)} B`.padStart(9) : kib(perSession);
  return `${shown}   (and the replay log, ${Math.round(log.size / 2 ** 20)} MiB)`;
}

/** Memory per watched session: a full replay and a headless terminal of `cols` x `rows`. */
async function perWatchedSession(count: number, cols: number, rows: number): Promise<number> {
  const line = `${'x'.repeat(cols - 2)}\r\n`;
  const log = new ReplayLog();
  const screens = Array.from({ length: count }, () => {
    const screen = new SessionScreen({ cols, rows }, log);
    for (let i = 0; i < 1000; i++) screen.write(line);
    return screen;
  });
  const before = used();
  for (const screen of screens) {
    screen.attach();
    await screen.snapshot();
  }
  const after = used();
  for (const screen of screens) screen.dispose();
  return (after - before) / count;
}

/** The echo sample's welcome and prompt as a session publishes them: one turn's writes, concatenated. */
function welcome(session: number): string {
  let text = `Welcome to the server, session ${session}!\r\n`;
  text += `${'-'.repeat(40)}\r\n`;
  text += "Type 'help' for available commands.\r\n";
  text += "Type 'quit' to disconnect.\r\n";
  return `${text}> `;
}

console.log('\nsession monitor memory (replay kept per session; a terminal per watched session)');
console.log(`  session, its welcome only                ${await perMonitoredSession(10_000, welcome, 1)}`);
console.log(`  session, 2 KiB of output so far          ${await perMonitoredSession(1000, 'y'.repeat(2048), 1)}`);
console.log(
  `  session, replay full (1 MiB of lines)    ${await perMonitoredSession(200, `${'z'.repeat(78)}\r\n`, 13_000)}`,
);
console.log(`  watched session 80x24, on top            ${kib(await perWatchedSession(50, 80, 24))}`);
console.log(`  watched session 200x60, on top           ${kib(await perWatchedSession(20, 200, 60))}`);
