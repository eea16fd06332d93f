// Fault: a connection flood — 500 connects in a burst on each transport against max_connections 100.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';

import { CAPACITY_MESSAGE } from '../../src/index.js';
import { LIMITS, TRANSPORTS, WS_PATHS, runFaultCase } from './harness.js';
import type { Attackers } from './harness.js';
import type { BystanderTransport } from './probe.js';

const BURST = 500;
/** Bursts one after another, everything dropped in between: a flood long enough to time bystanders across. */
const WAVES = 3;
/** Every attempt must be settled (served or refused) by then. */
const SETTLE_MS = 10_000;

type Outcome = 'served' | 'refused' | 'reset' | 'refused-connect' | 'closed-silently' | 'unsettled' | 'other';

/**
 * One connection attempt: served (welcome or 101), refused cleanly (the capacity line or HTTP 503,
 * then the server's FIN), or one of the unclean ends. Served connections stay open until the end.
 */
function attempt(attackers: Attackers, transport: BystanderTransport, port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = attackers.track(net.connect(port, '127.0.0.1'));
    const isWebSocket = transport === 'websocket' || transport === 'ws_telnet';
    let text = '';
    let settled: Outcome | undefined;
    let isRefused = false;
    const settle = (outcome: Outcome): void => {
      if (settled !== undefined) return;
      settled = outcome;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(() => settle('unsettled'), SETTLE_MS);
    socket.once('connect', () => {
      if (!isWebSocket) return;
      socket.write(
        `GET ${WS_PATHS[transport]} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (isWebSocket ? /^HTTP\/1\.1 101 /.test(text) : text.includes('Echo Server')) settle('served');
      // The refusal counts once the server has also closed its side: a clean end, not a reset.
      isRefused ||= isWebSocket ? /^HTTP\/1\.1 503 /.test(text) : text.includes(CAPACITY_MESSAGE);
    });
    socket.once('end', () => settle(isRefused ? 'refused' : 'closed-silently'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      settle(err.code === 'ECONNRESET' ? 'reset' : err.code === 'ECONNREFUSED' ? 'refused-connect' : 'other'),
    );
    socket.once('close', () => settle(isRefused ? 'refused' : 'closed-silently'));
  });
}

test(
  '500 connects in a burst per transport: up to max_connections served, the rest refused cleanly',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(t, 'connection flood', async ({ ports, attackers, expect, note }) => {
      for (let wave = 1; wave <= WAVES; wave++) {
        const results = await Promise.all(
          TRANSPORTS.map(async (transport) => {
            const outcomes = await Promise.all(
              Array.from({ length: BURST }, () => attempt(attackers, transport, ports[transport])),
            );
            return { transport, outcomes };
          }),
        );
        attackers.destroyAll();
        for (const { transport, outcomes } of results) {
          const counts: Partial<Record<Outcome, number>> = {};
          for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
          note(`wave ${wave}, ${transport}: ${JSON.stringify(counts)}`);
          const served = counts.served ?? 0;
          const refused = counts.refused ?? 0;
          // The bystander holds one of the server's places; sessions of the last wave may still be closing.
          expect(
            served > 0 && served <= LIMITS.maxConnections - 1,
            `wave ${wave}, ${transport}: ${served} served, not 1..${LIMITS.maxConnections - 1}`,
          );
          expect(
            served + refused === BURST,
            `wave ${wave}, ${transport}: ${BURST - served - refused} of ${BURST} neither served nor cleanly refused: ` +
              JSON.stringify(counts),
          );
        }
      }
    });
  },
);
