// Faults of clients that do not read: input floods, output piling up, a reset mid-listing, half-open connections.
import { test } from 'node:test';

import {
  ENDPOINTS,
  TRANSPORTS,
  closedWithin,
  encodeLines,
  inBatches,
  openRaw,
  runFaultCase,
  sleep,
  writeAll,
} from './harness.js';
import type { Endpoint, RawConnection } from './harness.js';

/** How long a flood lasts, and the most one flooder may send: bounded either way. */
const FLOOD_MS = 5000;
const FLOOD_MAX_BYTES = 32 * 1024 * 1024;
const FLOODERS_PER_TRANSPORT = 3;
/** Lines per write of a flood: a few KiB at a time. */
const FLOOD_BATCH = 512;

/**
 * Sends `line` (numbered) as fast as the server takes it, until time, budget or the connection
 * runs out. A server that stops reading leaves the last write waiting: the clock still ends it.
 */
async function flood(connection: RawConnection, line: string): Promise<{ bytes: number; closedAfterMs?: number }> {
  const started = Date.now();
  const timeUp = sleep(FLOOD_MS).then(() => 'time up' as const);
  let bytes = 0;
  let sequence = 0;
  while (bytes < FLOOD_MAX_BYTES && Date.now() - started < FLOOD_MS) {
    const lines = Array.from({ length: FLOOD_BATCH }, () => `${line} ${sequence++}`);
    const data = encodeLines(connection.endpoint, lines);
    const written = await Promise.race([writeAll(connection.socket, data), timeUp]);
    if (written === 'time up') break;
    if (!written) return { bytes, closedAfterMs: Date.now() - started };
    bytes += data.length;
    // While the kernel takes every write at once, let the other flooders (and timers) have a turn.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { bytes };
}

test('clients that never read while flooding input harm no one else', { timeout: 60_000 }, async (t) => {
  await runFaultCase(t, 'flood input, never read', async ({ ports, attackers, note }) => {
    const results = await Promise.all(
      TRANSPORTS.flatMap((endpoint) =>
        Array.from({ length: FLOODERS_PER_TRANSPORT }, async () => {
          const connection = await openRaw(attackers, endpoint, ports[endpoint]);
          return { endpoint, ...(await flood(connection, 'flood')) };
        }),
      ),
    );
    for (const endpoint of TRANSPORTS) {
      const mine = results.filter((result) => result.endpoint === endpoint);
      const closed = mine.filter((result) => result.closedAfterMs !== undefined);
      const sent = mine.reduce((total, result) => total + result.bytes, 0);
      note(
        `${endpoint}: ${mine.length} flooders got ${(sent / 1024 / 1024).toFixed(1)} MiB into the server (kernel buffers included); ` +
          `${closed.length} closed by the server${closed.length > 0 ? ` (after ≤ ${Math.max(...closed.map((c) => c.closedAfterMs!))} ms)` : ''}`,
      );
    }
  });
});

test(
  'clients that flood commands while reading far slower than their output harm no one else',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(t, 'flood input, output piles up', async ({ ports, attackers, note }) => {
      const results = await Promise.all(
        TRANSPORTS.flatMap((endpoint) =>
          Array.from({ length: FLOODERS_PER_TRANSPORT }, async () => {
            const connection = await openRaw(attackers, endpoint, ports[endpoint]);
            // A trickle of reading: 4 KiB every 100 ms, against ~25 bytes of output per byte of `help`.
            const reader = setInterval(() => connection.socket.read(4096), 100);
            try {
              return { endpoint, ...(await flood(connection, 'help')) };
            } finally {
              clearInterval(reader);
            }
          }),
        ),
      );
      for (const endpoint of TRANSPORTS) {
        const mine = results.filter((result) => result.endpoint === endpoint);
        const closed = mine.filter((result) => result.closedAfterMs !== undefined);
        const sent = mine.reduce((total, result) => total + result.bytes, 0);
        // Either outcome is sound: the server stops reading them (handlers await their output, so
        // it cannot pile up), or drops them once unread output passes max_output_buffer.
        note(
          `${endpoint}: ${mine.length} slow readers got ${(sent / 1024 / 1024).toFixed(1)} MiB of help into the server ` +
            `(kernel buffers included); ${closed.length} dropped` +
            `${closed.length > 0 ? ` (after ≤ ${Math.max(...closed.map((c) => c.closedAfterMs!))} ms)` : ''}`,
        );
      }
    });
  },
);

/** Reset rounds per endpoint, a few at a time. */
const RESET_ROUNDS = 8;
/** Commands that make a long listing: 20,000 × help, a few MB of output. */
const LISTING = Array.from({ length: 20_000 }, () => 'help');
/** Output read before the reset: the listing is well under way, far from done. */
const RESET_AFTER_BYTES = 256 * 1024;

test('a reset in the middle of a long listing ends only that session', { timeout: 60_000 }, async (t) => {
  await runFaultCase(t, 'RST mid-write', async ({ ports, attackers, expect, note }) => {
    const rounds = ENDPOINTS.flatMap((endpoint) => Array.from({ length: RESET_ROUNDS }, () => endpoint));
    const resets = new Map<Endpoint, number>();
    await inBatches(rounds, 10, async (endpoint) => {
      const connection = await openRaw(attackers, endpoint, ports[endpoint]);
      let received = 0;
      const enough = new Promise<void>((resolve) => {
        connection.socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= RESET_AFTER_BYTES) resolve();
        });
      });
      connection.socket.resume();
      connection.socket.write(encodeLines(endpoint, LISTING));
      await Promise.race([enough, sleep(5000)]);
      if (received < RESET_AFTER_BYTES) return;
      // RST, not FIN: SO_LINGER 0 on the TCP socket (under TLS too).
      connection.tcp.resetAndDestroy();
      resets.set(endpoint, (resets.get(endpoint) ?? 0) + 1);
    });
    for (const endpoint of ENDPOINTS) {
      note(`${endpoint}: ${resets.get(endpoint) ?? 0} of ${RESET_ROUNDS} connections reset mid-listing`);
      expect(
        (resets.get(endpoint) ?? 0) === RESET_ROUNDS,
        `${endpoint}: only ${resets.get(endpoint) ?? 0} of ${RESET_ROUNDS} listings reached ${RESET_AFTER_BYTES} bytes to reset`,
      );
    }
  });
});

const HALF_OPEN_PER_ENDPOINT = 20;
const HALF_OPEN_HOLD_MS = 3000;
/** Once the client reads again, the server's FIN (it closed its side) must be there by then. */
const HALF_OPEN_CLOSE_MS = 3000;

test(
  'half-open connections (write side ended, never read) are closed by the server',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(t, 'half-open', async ({ ports, attackers, expect, note }) => {
      const connections: RawConnection[] = [];
      for (const endpoint of ENDPOINTS) {
        for (let i = 0; i < HALF_OPEN_PER_ENDPOINT; i++) {
          const connection = await openRaw(attackers, endpoint, ports[endpoint]);
          // Some output the server has to send, then FIN (no WebSocket close frame), and no reading.
          connection.socket.end(encodeLines(endpoint, ['help', 'half-open', 'help']));
          connections.push(connection);
        }
      }
      await sleep(HALF_OPEN_HOLD_MS);
      const closedIn = await Promise.all(
        connections.map(async (connection) => {
          connection.socket.resume();
          return closedWithin(connection.tcp, HALF_OPEN_CLOSE_MS);
        }),
      );
      for (const endpoint of ENDPOINTS) {
        const mine = closedIn.filter((_took, i) => connections[i]!.endpoint === endpoint);
        const open = mine.filter((took) => took === undefined).length;
        note(`${endpoint}: ${mine.length - open} of ${mine.length} half-open connections closed by the server`);
        expect(
          open === 0,
          `${endpoint}: ${open} of ${mine.length} half-open connections still open after ${HALF_OPEN_HOLD_MS + HALF_OPEN_CLOSE_MS} ms`,
        );
      }
    });
  },
);
