// Fault: slowloris on every port — clients that trickle a byte now and then, or never finish a handshake.
import type net from 'node:net';
import { test } from 'node:test';

import { LIMITS, WS_PATHS, closedWithin, runFaultCase, sleep } from './harness.js';

/** Slow clients per port and kind: bounded, and below max_connections with the bystander. */
const SLOW_SESSIONS = 20;
const SLOW_HANDSHAKES = 20;
const SILENT_HANDSHAKES = 10;
/** How long the slow clients are held: longer than the handshake timeout with room to spare. */
const HOLD_MS = 7000;
const TRICKLE_MS = 1000;
/** Dropped within the handshake timeout plus Node's once-a-second check and some slack. */
const HANDSHAKE_DROP_MS = LIMITS.handshakeTimeoutS * 1000 + 2500;

test('slowloris on every port: handshakes time out, trickling sessions harm no one', { timeout: 60_000 }, async (t) => {
  await runFaultCase(t, 'slowloris', async ({ ports, attackers, expect, note }) => {
    const trickles: Array<{ socket: net.Socket; bytes: Buffer; sent: number }> = [];
    const handshakes: Array<{ kind: string; socket: net.Socket; closedIn: Promise<number | undefined> }> = [];

    // Sessions on plain TCP and telnet that send one byte every second and never end a line.
    for (const endpoint of ['tcp', 'telnet'] as const) {
      for (let i = 0; i < SLOW_SESSIONS; i++) {
        const socket = await attackers.connect(ports[endpoint]);
        socket.resume();
        trickles.push({ socket, bytes: Buffer.from('x'.repeat(64)), sent: 0 });
      }
    }
    // Upgrade requests cut off after a header, then a byte a second; and connections that say nothing.
    for (const endpoint of ['websocket', 'ws_telnet'] as const) {
      const request = Buffer.from(
        `GET ${WS_PATHS[endpoint]} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Version: 13\r\nX-Slow: ${'s'.repeat(200)}`,
      );
      for (let i = 0; i < SLOW_HANDSHAKES; i++) {
        const socket = await attackers.connect(ports[endpoint]);
        socket.resume();
        const cut = request.indexOf('Upgrade:');
        socket.write(request.subarray(0, cut));
        trickles.push({ socket, bytes: request.subarray(cut), sent: 0 });
        handshakes.push({ kind: `${endpoint} partial upgrade`, socket, closedIn: closedWithin(socket, HOLD_MS) });
      }
      for (let i = 0; i < SILENT_HANDSHAKES; i++) {
        const socket = await attackers.connect(ports[endpoint]);
        socket.resume();
        handshakes.push({ kind: `${endpoint} silent`, socket, closedIn: closedWithin(socket, HOLD_MS) });
      }
    }
    // A TLS record header announcing a ClientHello that then arrives a byte a second; and silence.
    for (let i = 0; i < SLOW_HANDSHAKES; i++) {
      const socket = await attackers.connect(ports.telnet_tls);
      socket.resume();
      socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
      trickles.push({
        socket,
        bytes: Buffer.from([0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...Array(58).fill(7)]),
        sent: 0,
      });
      handshakes.push({ kind: 'telnet_tls partial ClientHello', socket, closedIn: closedWithin(socket, HOLD_MS) });
    }
    for (let i = 0; i < SILENT_HANDSHAKES; i++) {
      const socket = await attackers.connect(ports.telnet_tls);
      socket.resume();
      handshakes.push({ kind: 'telnet_tls silent', socket, closedIn: closedWithin(socket, HOLD_MS) });
    }

    const trickler = setInterval(() => {
      for (const slow of trickles) {
        if (slow.socket.destroyed || slow.sent >= slow.bytes.length) continue;
        slow.socket.write(slow.bytes.subarray(slow.sent, slow.sent + 1));
        slow.sent += 1;
      }
    }, TRICKLE_MS);
    try {
      await sleep(HOLD_MS);
    } finally {
      clearInterval(trickler);
    }

    const byKind = new Map<string, number[]>();
    for (const handshake of handshakes) {
      const took = await handshake.closedIn;
      const times = byKind.get(handshake.kind) ?? [];
      times.push(took ?? Number.POSITIVE_INFINITY);
      byKind.set(handshake.kind, times);
    }
    for (const [kind, times] of byKind) {
      const slowest = Math.max(...times);
      const open = times.filter((took) => !Number.isFinite(took)).length;
      note(`${kind}: ${times.length} dropped by the server in ≤ ${Number.isFinite(slowest) ? slowest : '∞'} ms`);
      expect(
        slowest <= HANDSHAKE_DROP_MS,
        `${kind}: ${open} of ${times.length} still open after ${HOLD_MS} ms, slowest drop ${slowest} ms ` +
          `(handshake_timeout ${LIMITS.handshakeTimeoutS} s)`,
      );
    }
    const sessionsOpen = trickles.filter((slow, i) => i < 2 * SLOW_SESSIONS && !slow.socket.destroyed).length;
    note(`tcp/telnet trickling sessions still connected after ${HOLD_MS} ms: ${sessionsOpen} of ${2 * SLOW_SESSIONS}`);
  });
});
