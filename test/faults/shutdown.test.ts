// Fault: shutdown under load — SIGTERM with 1,000 clients on the four transports, connected, typing and reading.
import { test } from 'node:test';

import { SHUTDOWN_MESSAGE } from '../../src/index.js';
import { TRANSPORTS, connectClient, inBatches, runFaultCase, sleep, withTimeout } from './harness.js';
import type { LineClient } from './harness.js';

const CLIENTS_PER_TRANSPORT = 250;
/** Each client types a numbered line this often, before and after the signal, until it is closed. */
const LINE_EVERY_MS = 100;
/** Typists are spread over this many beats of each interval. */
const TYPING_SLOTS = 10;
const LOAD_MS = 4000;
/** The launcher's grace period (ProtocolServer.stop's default): every client is told within it. */
const GRACE_MS = 5000;
const GRACE_SLACK_MS = 1000;
/** A line sent this long before the signal has certainly been handled: its echo must arrive. */
const HANDLED_MS = 1000;
/** RFC 6455 section 7.4.1: going away. */
const GOING_AWAY = 1001;

interface Typist {
  client: LineClient;
  id: number;
  sentAt: number[];
  closedAt?: number;
  code?: number;
}

test(
  'SIGTERM under load: every client is told, output before the signal arrives, exit 0',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(
      t,
      'shutdown under load',
      async ({ server, ports, probe, expect, note, attackers }) => {
        const connectingSince = Date.now();
        const typists: Typist[] = [];
        const plan = TRANSPORTS.flatMap((transport) => Array.from({ length: CLIENTS_PER_TRANSPORT }, () => transport));
        await inBatches(plan, 25, async (transport) => {
          const client = await connectClient(transport, ports[transport]);
          attackers.onEnd(() => client.destroy());
          await client.received.waitFor('> ', { timeoutMs: 5000 });
          const typist: Typist = { client, id: typists.length, sentAt: [] };
          typists.push(typist);
          void client.closed.then(({ code }) => {
            typist.closedAt = Date.now();
            typist.code = code;
          });
        });
        note(`${typists.length} clients connected and reading, ${Date.now() - connectingSince} ms into the fault`);

        // Each typist keeps its own beat, spread over the interval as independent users' would be:
        // one timer for all would have 1,000 lines arrive in the same millisecond, every time.
        let tick = 0;
        const typing = setInterval(() => {
          tick += 1;
          for (const typist of typists) {
            if (typist.closedAt !== undefined || typist.id % TYPING_SLOTS !== tick % TYPING_SLOTS) continue;
            typist.sentAt.push(Date.now());
            typist.client.send(`c${typist.id}-${typist.sentAt.length}`);
          }
        }, LINE_EVERY_MS / TYPING_SLOTS);
        try {
          await sleep(LOAD_MS);
          // Bystanders are timed under the load, up to the signal; after it they are told to go too.
          await probe.stopBystanders();
          const signalledAt = Date.now();
          note(`SIGTERM ${signalledAt - connectingSince} ms into the fault`);
          server.signal('SIGTERM');
          await withTimeout(
            Promise.all(typists.map((typist) => typist.client.closed)),
            GRACE_MS + GRACE_SLACK_MS,
            'every client closed',
          ).catch(() => undefined);
          judge(typists, signalledAt, expect, note);
        } finally {
          clearInterval(typing);
        }
      },
      { endsServer: true, maxConnections: 300 },
    );
  },
);

function judge(
  typists: readonly Typist[],
  signalledAt: number,
  expect: (condition: boolean, failure: string) => void,
  note: (text: string) => void,
): void {
  for (const transport of TRANSPORTS) {
    const mine = typists.filter((typist) => typist.client.endpoint === transport);
    const isWebSocket = transport === 'websocket' || transport === 'ws_telnet';
    const problems = new Map<string, number>();
    const problem = (what: string): void => void problems.set(what, (problems.get(what) ?? 0) + 1);
    let closeCodes = 0;
    let slowest = 0;
    for (const typist of mine) {
      const text = typist.client.received.text;
      const noticeAt = text.indexOf(SHUTDOWN_MESSAGE);
      if (typist.code === GOING_AWAY) closeCodes += 1;
      const isTold = noticeAt !== -1 || (isWebSocket && typist.code === GOING_AWAY);
      if (!isTold) problem(`neither "${SHUTDOWN_MESSAGE}" nor close ${GOING_AWAY}`);
      if (typist.closedAt === undefined) problem('still open after the grace period');
      else {
        slowest = Math.max(slowest, typist.closedAt - signalledAt);
        if (typist.closedAt - signalledAt > GRACE_MS + GRACE_SLACK_MS) problem('closed after the grace period');
      }
      // Echoes in order with no gap: nothing written before the end was dropped on the way.
      const echoed = [...text.matchAll(new RegExp(`Echo: c${typist.id}-(\\d+)`, 'g'))].map((m) => Number(m[1]));
      if (echoed.some((n, i) => n !== i + 1)) problem('a gap in the echoes');
      const handled = typist.sentAt.filter((at) => at <= signalledAt - HANDLED_MS).length;
      if (echoed.length < handled) problem(`lines sent ≥ ${HANDLED_MS} ms before the signal never echoed`);
      if (noticeAt !== -1 && /Echo: /.test(text.slice(noticeAt))) problem('output after the shutdown notice');
    }
    note(
      `${transport}: ${mine.length} clients, all closed within ${slowest} ms of SIGTERM` +
        (isWebSocket ? `, ${closeCodes} with close ${GOING_AWAY}` : '') +
        (problems.size > 0 ? `; ${[...problems].map(([what, count]) => `${count}× ${what}`).join('; ')}` : ''),
    );
    for (const [what, count] of problems) expect(false, `${transport}: ${count} of ${mine.length} clients: ${what}`);
  }
}
