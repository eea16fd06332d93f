// Fault: oversized input — a 10 MiB line on tcp and telnet, a 10 MiB WebSocket message whole and in fragments.
import { test } from 'node:test';

import { LIMITS, WS_PATHS, connectClient, runFaultCase, withTimeout } from './harness.js';
import { FrameReader, OPCODE, closeCode, upgrade, wsFrame } from './wire.js';

const TEN_MIB = 10 * 1024 * 1024;
const FRAGMENT = 64 * 1024;
/** However the line is cut, the next line's echo must come back within this (tcp takes ~3 s here). */
const ANSWER_MS = 15_000;
/** RFC 6455 section 7.4.1: the message is too big to process. */
const MESSAGE_TOO_BIG = 1009;

for (const endpoint of ['tcp', 'telnet'] as const) {
  test(
    `a 10 MiB line on ${endpoint} is cut at max_line_length and the session goes on`,
    { timeout: 60_000 },
    async (t) => {
      await runFaultCase(t, `10 MiB line on ${endpoint}`, async ({ ports, attackers, expect, note }) => {
        // A terminal client (telnet: it reports 80 columns, so the server edits and echoes the line).
        const client = await connectClient(endpoint, ports[endpoint]);
        attackers.onEnd(() => client.destroy());
        await client.received.waitFor('> ');
        const started = Date.now();
        client.send('A'.repeat(TEN_MIB));
        client.send('after');
        try {
          await client.received.waitFor('Echo: after', { timeoutMs: ANSWER_MS });
        } catch {
          const got = client.received.text.length;
          expect(
            false,
            `${endpoint}: no answer to the line after 10 MiB within ${ANSWER_MS} ms (${got} characters received)`,
          );
          return;
        }
        const echoed = /Echo: (A*)\r?\n/.exec(client.received.text)?.[1]?.length;
        note(`${endpoint}: 10 MiB line answered in ${Date.now() - started} ms, echo of ${echoed ?? 'no'} characters`);
        expect(
          echoed !== undefined && echoed > 0 && echoed <= LIMITS.maxLineLength,
          `${endpoint}: the 10 MiB line came back as ${echoed ?? 'nothing'} characters, not 1..${LIMITS.maxLineLength}`,
        );
      });
    },
  );
}

test(
  'a 10 MiB WebSocket message, whole or in fragments, is refused with close 1009',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(t, '10 MiB WebSocket message', async ({ ports, attackers, expect, note }) => {
      const attempts = (['websocket', 'ws_telnet'] as const).flatMap((endpoint) => [
        // One message in one frame, sent by a real client (ws).
        async () => {
          const client = await connectClient(endpoint, ports[endpoint]);
          attackers.onEnd(() => client.destroy());
          await client.received.waitFor('> ');
          const started = Date.now();
          client.send('A'.repeat(TEN_MIB));
          const closed = await withTimeout(client.closed, 10_000, `${endpoint} close after 10 MiB`).catch(
            () => undefined,
          );
          note(`${endpoint} 10 MiB message: closed with ${closed?.code ?? 'nothing'} after ${Date.now() - started} ms`);
          expect(
            closed?.code === MESSAGE_TOO_BIG,
            `${endpoint} 10 MiB message: close ${closed?.code ?? 'never'}, not 1009`,
          );
        },
        // The same 10 MiB as 160 fragments of 64 KiB: the total is what counts.
        async () => {
          const { socket } = await upgrade(ports[endpoint], WS_PATHS[endpoint]);
          attackers.track(socket);
          const reader = new FrameReader();
          let code: number | undefined;
          socket.on('data', (chunk: Buffer) => {
            for (const frame of reader.push(chunk)) if (frame.opcode === OPCODE.close) code ??= closeCode(frame);
          });
          socket.resume();
          const closed = new Promise((resolve) => socket.once('close', resolve));
          const started = Date.now();
          const fragment = Buffer.alloc(FRAGMENT, 'A');
          const opcode = endpoint === 'websocket' ? OPCODE.text : OPCODE.binary;
          for (let sent = 0; sent < TEN_MIB && !socket.destroyed; sent += FRAGMENT) {
            const isLast = sent + FRAGMENT >= TEN_MIB;
            const frame = wsFrame(fragment, { opcode: sent === 0 ? opcode : OPCODE.continuation, fin: isLast });
            if (!socket.write(frame))
              await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
          }
          await withTimeout(closed, 10_000, `${endpoint} close after fragments`).catch(() => undefined);
          note(
            `${endpoint} 10 MiB in fragments: closed with ${code ?? 'no close frame'} after ${Date.now() - started} ms`,
          );
          expect(
            code === MESSAGE_TOO_BIG,
            `${endpoint} 10 MiB in fragments: close ${code ?? 'frame missing'}, not 1009`,
          );
        },
      ]);
      await Promise.all(attempts.map((attempt) => attempt()));
    });
  },
);
