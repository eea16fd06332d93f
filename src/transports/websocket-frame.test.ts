// Frames we build, read back by ws's own client-side parser: every length form, text and bytes.
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { test } from 'node:test';

import fc from 'fast-check';
import * as ws from 'ws';

import { encodeFrame } from './websocket-frame.js';

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
