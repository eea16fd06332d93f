// Frames we build, read back by ws's own client-side parser: every length form, text and bytes, and control frames.
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { test } from 'node:test';

import fc from 'fast-check';
import * as ws from 'ws';

import { NO_STATUS, encodeCloseFrame, encodeFrame, encodePingFrame, encodePongFrame } from './websocket-frame.js';

/** ws's frame parser: the package exports it, its types do not. */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => Writable;
};

/** The messages a client's parser finds in `wire`, with their type. */
function parse(wire: Buffer): Array<{ data: Buffer; isBinary: boolean }> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
  const errors: Error[] = [];
  receiver.on('message', (data: Buffer, isBinary: boolean) => messages.push({ data, isBinary }));
  receiver.on('error', (error: Error) => errors.push(error));
  receiver.write(wire);
  assert.deepEqual(errors, []);
  return messages;
}

type ControlFrame = { type: 'ping' | 'pong'; data: Buffer } | { type: 'close'; code: number; reason: string };

/** The control frames a client's parser finds in `wire`, in order; it reports a broken frame a tick later. */
async function parseControl(wire: Buffer): Promise<ControlFrame[]> {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const frames: ControlFrame[] = [];
  const errors: Error[] = [];
  receiver.on('ping', (data: Buffer) => frames.push({ type: 'ping', data }));
  receiver.on('pong', (data: Buffer) => frames.push({ type: 'pong', data }));
  receiver.on('conclude', (code: number, reason: Buffer) =>
    frames.push({ type: 'close', code, reason: reason.toString() }),
  );
  receiver.on('error', (error: Error) => errors.push(error));
  receiver.write(wire);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, []);
  return frames;
}

test('text of every header length arrives whole as one text message, characters intact', () => {
  // Around the limits of the 7-bit, 16-bit and 64-bit length forms, in bytes: "é" is two.
  for (const bytes of [0, 1, 125, 126, 127, 65535, 65536, 70001]) {
    const text = 'é'.repeat(Math.floor(bytes / 2)) + 'x'.repeat(bytes % 2);
    const messages = parse(encodeFrame(text, false));
    assert.equal(messages.length, 1, `${bytes} bytes`);
    assert.equal(messages[0]!.isBinary, false);
    assert.equal(messages[0]!.data.length, bytes);
    assert.equal(messages[0]!.data.toString('utf8'), text);
  }
});

test('text sent as binary, and pieces of bytes, arrive as one binary message in order', () => {
  const asBinary = parse(encodeFrame('\u2500 line\r\n', true));
  assert.deepEqual(asBinary, [{ data: Buffer.from('\u2500 line\r\n'), isBinary: true }]);
  const pieces = [Uint8Array.of(255, 251, 1), Buffer.from('Welcome\r\n'), new Uint8Array(0), Uint8Array.of(255, 249)];
  const fromPieces = parse(encodeFrame(pieces, true));
  assert.deepEqual(fromPieces, [{ data: Buffer.concat(pieces), isBinary: true }]);
});

test('frames written back to back are read back as the same messages', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({ payload: fc.string({ unit: 'grapheme', maxLength: 300 }), binary: fc.boolean() }),
          fc.record({
            payload: fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
            binary: fc.constant(true),
          }),
        ),
        { maxLength: 8 },
      ),
      (frames) => {
        const wire = Buffer.concat(frames.map(({ payload, binary }) => encodeFrame(payload, binary)));
        const expected = frames.map(({ payload, binary }) => ({
          data: typeof payload === 'string' ? Buffer.from(payload) : Buffer.concat(payload),
          isBinary: binary,
        }));
        assert.deepEqual(parse(wire), expected);
      },
    ),
  );
});

test('a close frame carries its code and reason; "no status" is a close frame without a code', async () => {
  assert.deepEqual(encodeCloseFrame(1000, ''), Buffer.of(0x88, 2, 0x03, 0xe8));
  assert.deepEqual(encodeCloseFrame(NO_STATUS, ''), Buffer.of(0x88, 0));
  assert.deepEqual(await parseControl(encodeCloseFrame(NO_STATUS, '')), [{ type: 'close', code: 1005, reason: '' }]);
  for (const code of [1000, 1001, 1008, 1011, 4000, 4999]) {
    assert.deepEqual(await parseControl(encodeCloseFrame(code, 'Server shutting down: ¡adiós!')), [
      { type: 'close', code, reason: 'Server shutting down: ¡adiós!' },
    ]);
  }
});

test('a long close reason is cut to fit 125 bytes of payload, between characters', async () => {
  const ascii = 'x'.repeat(200);
  const frame = encodeCloseFrame(4000, ascii);
  assert.equal(frame.length, 2 + 125);
  assert.deepEqual(await parseControl(frame), [{ type: 'close', code: 4000, reason: 'x'.repeat(123) }]);
  // 123 bytes of reason: 61 two-byte characters, 30 four-byte ones, or 'a' and 30 four-byte ones plus a byte to spare.
  for (const [reason, kept] of [
    ['é'.repeat(100), 'é'.repeat(61)],
    ['😀'.repeat(40), '😀'.repeat(30)],
    ['ab' + '€'.repeat(60), 'ab' + '€'.repeat(40)],
    ['a' + '😀'.repeat(40), 'a' + '😀'.repeat(30)],
  ] as const) {
    assert.deepEqual(await parseControl(encodeCloseFrame(1001, reason)), [{ type: 'close', code: 1001, reason: kept }]);
  }
});

test('any close reason arrives as its longest prefix of whole characters that fits', async () => {
  const character = fc.constantFrom('a', 'é', '€', '😀', '\u0301');
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: character, maxLength: 140 }), async (reason) => {
      const [close] = await parseControl(encodeCloseFrame(1000, reason));
      assert.ok(close?.type === 'close');
      assert.ok(reason.startsWith(close.reason));
      assert.ok(Buffer.byteLength(close.reason) <= 123);
      if (close.reason !== reason) {
        const next = String.fromCodePoint(reason.codePointAt(close.reason.length)!);
        assert.ok(Buffer.byteLength(close.reason + next) > 123, 'the next character would have fitted');
      }
    }),
  );
});

test('pings and pongs carry their payload, none by default', async () => {
  const wire = Buffer.concat([
    encodePingFrame(),
    encodePingFrame(Buffer.from('are you there')),
    encodePongFrame(new Uint8Array(0)),
    encodePongFrame(new Uint8Array(125).fill(7)),
  ]);
  assert.deepEqual(await parseControl(wire), [
    { type: 'ping', data: Buffer.alloc(0) },
    { type: 'ping', data: Buffer.from('are you there') },
    { type: 'pong', data: Buffer.alloc(0) },
    { type: 'pong', data: Buffer.alloc(125, 7) },
  ]);
  assert.deepEqual(encodePingFrame(), Buffer.of(0x89, 0));
});

test('a ping or pong payload over 125 bytes is a programming error', () => {
  assert.throws(() => encodePingFrame(new Uint8Array(126)), RangeError);
  assert.throws(() => encodePongFrame(new Uint8Array(126)), RangeError);
});
