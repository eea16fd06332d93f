// Faults of bad bytes: random bytes into every port, malformed WebSocket frames (RFC 6455), a telnet negotiation storm.
import type net from 'node:net';
import { test } from 'node:test';

import {
  DO,
  DONT,
  IAC,
  OPT_NAWS,
  OPT_NEW_ENVIRON,
  OPT_TTYPE,
  SB,
  SE,
  TTYPE_IS,
  WILL,
  WONT,
} from '../../src/telnet/constants.js';
import { TelnetDecoder } from '../../src/telnet/decoder.js';
import { negotiate } from '../../src/telnet/encoder.js';
import { until } from '../support/received-text.js';
import { seededRandom } from '../support/seeded-random.js';
import { SEED, closedWithin, inBatches, openRaw, runFaultCase, sleep, writeAll } from './harness.js';
import type { Attackers, Endpoint, Ports } from './harness.js';
import { FrameReader, OPCODE, closeCode, wsFrame } from './wire.js';

/** Connections per way in, and bytes per connection: several KiB each, bounded. */
const RANDOM_CONNECTIONS = 48;
const RANDOM_MIN_BYTES = 4 * 1024;
const RANDOM_MAX_BYTES = 12 * 1024;

/** Ways random bytes get in: raw onto each port, and inside an open TLS session or WebSocket. */
const RANDOM_TARGETS: ReadonlyArray<{ label: string; endpoint: Endpoint; inside: boolean }> = [
  { label: 'tcp', endpoint: 'tcp', inside: false },
  { label: 'telnet', endpoint: 'telnet', inside: false },
  { label: 'telnet_tls (into the TLS handshake)', endpoint: 'telnet_tls', inside: false },
  { label: 'telnet_tls (inside a TLS session)', endpoint: 'telnet_tls', inside: true },
  { label: 'websocket (into the HTTP request)', endpoint: 'websocket', inside: false },
  { label: 'websocket (after the upgrade)', endpoint: 'websocket', inside: true },
  { label: 'ws_telnet (into the HTTP request)', endpoint: 'ws_telnet', inside: false },
  { label: 'ws_telnet (after the upgrade)', endpoint: 'ws_telnet', inside: true },
];

test('random bytes into every port, the TLS one included, harm no one else', { timeout: 60_000 }, async (t) => {
  await runFaultCase(t, 'random bytes', async ({ ports, attackers, note }) => {
    const random = seededRandom(SEED);
    const bytes = (count: number): Buffer =>
      Buffer.from(Array.from({ length: count }, () => Math.floor(random() * 256)));
    // Every connection's bytes are drawn up front, in order: the same faults whatever the timing.
    const plans = RANDOM_TARGETS.flatMap((target) =>
      Array.from({ length: RANDOM_CONNECTIONS }, () => {
        const total = RANDOM_MIN_BYTES + Math.floor(random() * (RANDOM_MAX_BYTES - RANDOM_MIN_BYTES));
        const chunks: Buffer[] = [];
        for (let left = total; left > 0;) {
          const size = Math.min(left, 1 + Math.floor(random() * 1024));
          chunks.push(bytes(size));
          left -= size;
        }
        return { target, chunks };
      }),
    );
    const closedByServer = new Map<string, number>();
    await inBatches(plans, 16, async ({ target, chunks }) => {
      const socket = await openFor(attackers, ports, target.endpoint, target.inside);
      socket.resume();
      for (const chunk of chunks) if (!(await writeAll(socket, chunk))) break;
      if ((await closedWithin(socket, 300)) !== undefined) {
        closedByServer.set(target.label, (closedByServer.get(target.label) ?? 0) + 1);
      }
      socket.destroy();
    });
    note(`seed ${SEED}; ${plans.length} connections, ${plans.reduce((sum, p) => sum + p.chunks.length, 0)} writes`);
    for (const target of RANDOM_TARGETS) {
      note(`${target.label}: ${closedByServer.get(target.label) ?? 0} of ${RANDOM_CONNECTIONS} closed by the server`);
    }
  });
});

/** A raw socket on `endpoint`: the bare TCP one, or (inside) the TLS session or upgraded WebSocket. */
async function openFor(attackers: Attackers, ports: Ports, endpoint: Endpoint, inside: boolean): Promise<net.Socket> {
  if (inside) return (await openRaw(attackers, endpoint, ports[endpoint])).socket;
  const socket = await attackers.connect(ports[endpoint]);
  return socket;
}

/** A malformed frame and the close code RFC 6455 calls for (undefined: the server waits for the rest). */
interface BadFrame {
  name: string;
  bytes: Buffer;
  code: number | undefined;
}

const PROTOCOL_ERROR = 1002;
const INVALID_PAYLOAD = 1007;
const MESSAGE_TOO_BIG = 1009;

const BAD_FRAMES: readonly BadFrame[] = [
  { name: 'reserved data opcode 0x3', bytes: wsFrame('x', { opcode: 0x3 }), code: PROTOCOL_ERROR },
  { name: 'reserved control opcode 0xB', bytes: wsFrame('x', { opcode: 0xb }), code: PROTOCOL_ERROR },
  { name: 'unmasked client frame', bytes: wsFrame('hello', { mask: false }), code: PROTOCOL_ERROR },
  { name: 'RSV1 without an extension', bytes: wsFrame('hello', { rsv: 4 }), code: PROTOCOL_ERROR },
  { name: 'RSV2 and RSV3', bytes: wsFrame('hello', { rsv: 3 }), code: PROTOCOL_ERROR },
  {
    name: 'length 2^63 (most significant bit set)',
    bytes: wsFrame('', { announcedLength: 1n << 63n }),
    code: MESSAGE_TOO_BIG,
  },
  {
    name: 'length 2 MiB over max_message_size',
    bytes: wsFrame('', { announcedLength: 2n << 20n }),
    code: MESSAGE_TOO_BIG,
  },
  { name: 'ping with 126 bytes', bytes: wsFrame(Buffer.alloc(126), { opcode: OPCODE.ping }), code: PROTOCOL_ERROR },
  { name: 'fragmented ping', bytes: wsFrame('x', { opcode: OPCODE.ping, fin: false }), code: PROTOCOL_ERROR },
  {
    name: 'continuation with nothing to continue',
    bytes: wsFrame('x', { opcode: OPCODE.continuation }),
    code: PROTOCOL_ERROR,
  },
  {
    name: 'new message inside a fragmented one',
    bytes: Buffer.concat([wsFrame('a', { fin: false }), wsFrame('b')]),
    code: PROTOCOL_ERROR,
  },
  { name: 'text that is not UTF-8', bytes: wsFrame(Buffer.from([0xff, 0xfe, 0xfd])), code: INVALID_PAYLOAD },
  {
    name: 'close with code 999',
    bytes: wsFrame(Buffer.from([0x03, 0xe7]), { opcode: OPCODE.close }),
    code: PROTOCOL_ERROR,
  },
  {
    name: 'close with a 1-byte payload',
    bytes: wsFrame(Buffer.from([0x03]), { opcode: OPCODE.close }),
    code: PROTOCOL_ERROR,
  },
  {
    name: 'close reason that is not UTF-8',
    bytes: wsFrame(Buffer.from([0x03, 0xe8, 0xff, 0xfe]), { opcode: OPCODE.close }),
    code: INVALID_PAYLOAD,
  },
  { name: 'header cut after its first byte', bytes: wsFrame('hello').subarray(0, 1), code: undefined },
  {
    name: 'payload cut short (100 announced, 10 sent)',
    bytes: wsFrame(Buffer.alloc(100)).subarray(0, 16),
    code: undefined,
  },
];
const BAD_FRAME_ROUNDS = 3;
const CLOSE_MS = 3000;

test(
  'malformed and oversized WebSocket frames are refused with the right close code',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(t, 'malformed WebSocket frames', async ({ ports, attackers, expect, note }) => {
      const cases = (['websocket', 'ws_telnet'] as const).flatMap((endpoint) =>
        BAD_FRAMES.flatMap((frame) => Array.from({ length: BAD_FRAME_ROUNDS }, () => ({ endpoint, frame }))),
      );
      const seen = new Map<string, Set<string>>();
      await inBatches(cases, 12, async ({ endpoint, frame }) => {
        const { socket } = await openRaw(attackers, endpoint, ports[endpoint]);
        const reader = new FrameReader();
        let code: number | undefined;
        let isCloseFrame = false;
        socket.on('data', (chunk: Buffer) => {
          for (const received of reader.push(chunk)) {
            if (received.opcode !== OPCODE.close) continue;
            isCloseFrame = true;
            code ??= closeCode(received);
          }
        });
        socket.resume();
        await sleep(50);
        socket.write(frame.bytes);
        let took = await closedWithin(socket, frame.code === undefined ? 500 : CLOSE_MS);
        let outcome: string;
        if (frame.code === undefined) {
          // A cut frame is waited for; the client's FIN must still end the connection.
          outcome = took === undefined ? 'waited' : `closed early (${code ?? 'no close frame'})`;
          socket.end();
          took = await closedWithin(socket, CLOSE_MS);
          if (took === undefined) outcome += ', still open after the client ended';
          expect(outcome === 'waited', `${endpoint}, ${frame.name}: ${outcome}`);
        } else {
          outcome = isCloseFrame
            ? `close ${code ?? '(no code)'}`
            : took === undefined
              ? 'left open'
              : 'closed without a close frame';
          expect(
            code === frame.code && took !== undefined,
            `${endpoint}, ${frame.name}: ${outcome}, expected close ${frame.code}`,
          );
        }
        const key = `${endpoint}, ${frame.name}`;
        seen.set(key, (seen.get(key) ?? new Set()).add(outcome));
      });
      for (const [key, outcomes] of seen) note(`${key}: ${[...outcomes].join(' / ')}`);
    });
  },
);

/** Telnet negotiation storms per endpoint, and what each one holds. */
const STORM_CLIENTS = 8;
const STORM_NEGOTIATIONS = 4000;
const STORM_SUBNEGOTIATIONS = 200;
/** An SB never ended: far past the decoder's 8 KiB cap. */
const UNENDED_SB_BYTES = 32 * 1024;
const STORM_CHUNK = 4096;
/** The server answers a negotiation at most once; more than this is a loop or an amplifier. */
const MAX_REPLY_RATIO = 2;
/** After the storm, its answer and a second to settle, a quiet second: a negotiation loop would fill it. */
const SETTLE_MS = 1000;
const QUIET_MS = 1000;
const QUIET_MAX_BYTES = 1024;
const STORM_ENDPOINTS = ['telnet', 'telnet_tls', 'ws_telnet'] as const;
type StormEndpoint = (typeof STORM_ENDPOINTS)[number];

test(
  'a telnet negotiation storm (DO/DONT/WILL/WONT, SB without SE) neither loops nor stalls',
  { timeout: 60_000 },
  async (t) => {
    await runFaultCase(t, 'telnet negotiation storm', async ({ ports, attackers, expect, note }) => {
      const random = seededRandom(SEED + 1);
      const storms = STORM_ENDPOINTS.flatMap((endpoint) =>
        Array.from({ length: STORM_CLIENTS }, (_, i) => ({
          endpoint,
          storm: makeStorm(random),
          isAgreeable: i % 2 === 1,
        })),
      );
      const results = await Promise.all(
        storms.map(async ({ endpoint, storm, isAgreeable }) => ({
          endpoint,
          ...(await runStorm(attackers, endpoint, ports[endpoint], storm, isAgreeable)),
        })),
      );
      for (const endpoint of STORM_ENDPOINTS) {
        const mine = results.filter((result) => result.endpoint === endpoint);
        const sent = mine.reduce((sum, r) => sum + r.sent, 0);
        const received = mine.reduce((sum, r) => sum + r.received, 0);
        const answered = mine.filter((r) => r.isAnswered).length;
        const noisiest = Math.max(...mine.map((r) => r.quietBytes));
        note(
          `${endpoint}: ${mine.length} storms (half from clients agreeing to every negotiation), ${sent} bytes in, ` +
            `${received} bytes back, at most ${noisiest} bytes in a quiet second after; ${answered} answered the next line`,
        );
        expect(
          answered === mine.length,
          `${endpoint}: ${mine.length - answered} of ${mine.length} sessions did not answer the line after their storm`,
        );
        expect(
          received <= sent * MAX_REPLY_RATIO,
          `${endpoint}: ${received} bytes back for ${sent}: more than ${MAX_REPLY_RATIO}×`,
        );
        expect(
          noisiest <= QUIET_MAX_BYTES,
          `${endpoint}: ${noisiest} bytes in a second long after a storm: a negotiation loop`,
        );
      }
    });
  },
);

/** Random negotiations and subnegotiations, shuffled, then an SB that never ends. */
function makeStorm(random: () => number): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const verbs = [DO, DONT, WILL, WONT];
  // The options the server negotiates, a few it does not, and any byte at all.
  const options = [0, 1, 3, 5, 6, 24, 25, 31, 34, 39, 42, 70, 201];
  const parts: number[][] = [];
  for (let i = 0; i < STORM_NEGOTIATIONS; i++) {
    parts.push([IAC, pick(verbs), random() < 0.7 ? pick(options) : Math.floor(random() * 256)]);
  }
  for (let i = 0; i < STORM_SUBNEGOTIATIONS; i++) {
    parts.push(
      random() < 0.5
        ? [IAC, SB, OPT_NAWS, 0, Math.floor(random() * 250), 0, Math.floor(random() * 250), IAC, SE]
        : [IAC, SB, OPT_TTYPE, TTYPE_IS, ...Buffer.from(`TERM-${Math.floor(random() * 1e6)}`), IAC, SE],
    );
  }
  for (let i = parts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  const unended = Array.from({ length: UNENDED_SB_BYTES }, () => Math.floor(random() * IAC));
  return Buffer.from([...parts.flat(), IAC, SB, OPT_NEW_ENVIRON, ...unended]);
}

/**
 * One storm on a raw connection: the storm, then IAC SE and a line, which must be echoed. An
 * agreeable client answers every negotiation it gets with agreement, acknowledgements included,
 * as naive clients do: a server that answered acknowledgements would loop with it.
 */
async function runStorm(
  attackers: Attackers,
  endpoint: StormEndpoint,
  port: number,
  storm: Buffer,
  isAgreeable: boolean,
): Promise<{ sent: number; received: number; quietBytes: number; isAnswered: boolean }> {
  const { socket } = await openRaw(attackers, endpoint, port);
  const isWebSocket = endpoint === 'ws_telnet';
  const frames = new FrameReader();
  const decoder = new TelnetDecoder();
  const agree: Record<number, number> = { [DO]: WILL, [DONT]: WONT, [WILL]: DO, [WONT]: DONT };
  let received = 0;
  let text = '';
  // Replies wait while the storm is written: between two of its chunks they would land inside
  // a cut sequence (or the unended SB), which no client does to its own output.
  let held: Buffer[] | undefined = [];
  const encode = (bytes: Buffer): Buffer => (isWebSocket ? wsFrame(bytes, { opcode: OPCODE.binary }) : bytes);
  const send = (bytes: Buffer): Promise<boolean> => writeAll(socket, encode(bytes));
  const write = (bytes: Buffer): void => void (socket.writable && socket.write(encode(bytes)));
  socket.on('data', (chunk: Buffer) => {
    const payloads = isWebSocket ? frames.push(chunk).map((frame) => frame.payload) : [chunk];
    for (const payload of payloads) {
      received += payload.length;
      for (const event of decoder.push(payload)) {
        if (event.type === 'data') text += Buffer.from(event.bytes).toString('latin1');
        if (event.type !== 'negotiate' || !isAgreeable) continue;
        const reply = negotiate(agree[event.verb]!, event.option);
        if (held === undefined) write(reply);
        else held.push(reply);
      }
    }
  });
  socket.resume();
  await until(() => text.includes('> '), 'the first prompt', 5000);
  const before = received;
  const data = Buffer.concat([storm, Buffer.from([IAC, SE]), Buffer.from('after-storm\r\n')]);
  for (let offset = 0; offset < data.length; offset += STORM_CHUNK) {
    if (!(await send(data.subarray(offset, offset + STORM_CHUNK)))) break;
  }
  for (const reply of held) write(reply);
  held = undefined;
  const isAnswered = await until(() => text.includes('Echo: after-storm'), 'the echo after the storm', 5000).then(
    () => true,
    () => false,
  );
  // A naive client's acknowledgements take a few rounds to die down; a loop never does.
  await sleep(SETTLE_MS);
  const settled = received;
  await sleep(QUIET_MS);
  return { sent: data.length, received: received - before, quietBytes: received - settled, isAnswered };
}
