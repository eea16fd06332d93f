// Client frames from ws's own Sender, or by hand where malformed: decoded whole, cut and in fragments, judged by ws.
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import { test } from 'node:test';

import fc from 'fast-check';
import * as ws from 'ws';

import { FrameDecoder } from './websocket-decoder.js';
import type { FrameSink } from './websocket-decoder.js';
import { BINARY, CLOSE, CONTINUATION, FINAL, PING, PONG, TEXT } from './websocket-frame.js';

/** ws's framer and parser: the package exports them, its types do not. */
const { Sender, Receiver } = ws as unknown as {
  Sender: {
    frame(
      data: Buffer,
      options: {
        fin: boolean;
        mask: boolean;
        opcode: number;
        readOnly: boolean;
        rsv1: boolean;
        generateMask?: (mask: Buffer) => void;
      },
    ): Buffer[];
  };
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => Writable;
};

type Event =
  | { type: 'message'; payload: Buffer; isBinary: boolean }
  | { type: 'ping' | 'pong'; payload: Buffer }
  | { type: 'close' | 'fail'; code: number; reason: string };

/** A sink that writes down what it is handed, in order. */
function recorder(): { sink: FrameSink; events: Event[] } {
  const events: Event[] = [];
  const sink: FrameSink = {
    message: (payload, isBinary) => events.push({ type: 'message', payload, isBinary }),
    ping: (payload) => events.push({ type: 'ping', payload }),
    pong: (payload) => events.push({ type: 'pong', payload }),
    close: (code, reason) => events.push({ type: 'close', code, reason }),
    fail: (code, reason) => events.push({ type: 'fail', code, reason }),
  };
  return { sink, events };
}

/** What a decoder delivers for `chunks`, pushed one by one. */
function decode(chunks: readonly Uint8Array[], maxPayload = 0): Event[] {
  const { sink, events } = recorder();
  const decoder = new FrameDecoder(sink, maxPayload);
  for (const chunk of chunks) decoder.push(chunk);
  return events;
}

interface FrameOptions {
  fin?: boolean;
  /** The mask key; random (ws's own choice) when absent. */
  maskKey?: Uint8Array;
}

/** A client's frame as ws's Sender masks it. */
function frame(opcode: number, data: Uint8Array | string, { fin = true, maskKey }: FrameOptions = {}): Buffer {
  // A copy either way: the Sender masks in place.
  const payload = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  const options = { fin, mask: true, opcode, readOnly: false, rsv1: false };
  const withKey = maskKey && { ...options, generateMask: (mask: Buffer) => mask.set(maskKey) };
  return Buffer.concat(Sender.frame(payload, withKey || options));
}

const HAND_MASK_KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

interface HandOptions {
  masked?: boolean;
  lengthBytes?: 0 | 2 | 8;
}

/**
 * A frame's header built by hand, so any bit can be wrong: a 7-, 16- or 64-bit length as `length`
 * needs unless `lengthBytes` forces one, then the mask key unless unmasked.
 */
function header(first: number, length: bigint | number, { masked = true, lengthBytes }: HandOptions = {}): Buffer {
  const size = BigInt(length);
  const form = lengthBytes ?? (size < 126n ? 0 : size < 65536n ? 2 : 8);
  const bytes = Buffer.alloc(2 + form + (masked ? 4 : 0));
  bytes[0] = first;
  bytes[1] = (masked ? 0x80 : 0) | (form === 0 ? Number(size) : form === 2 ? 126 : 127);
  if (form === 2) bytes.writeUInt16BE(Number(size), 2);
  if (form === 8) bytes.writeBigUInt64BE(size, 2);
  if (masked) bytes.set(HAND_MASK_KEY, 2 + form);
  return bytes;
}

/** A whole frame built by hand, masked unless told otherwise. */
function rawFrame(first: number, payload: Uint8Array, options: HandOptions = {}): Buffer {
  const isMasked = options.masked ?? true;
  const wirePayload = isMasked ? payload.map((byte, i) => byte ^ HAND_MASK_KEY[i & 3]!) : payload;
  return Buffer.concat([header(first, payload.length, options), wirePayload]);
}

function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code);
  return Buffer.concat([payload, Buffer.from(reason)]);
}

const text = (payload: string): Event => ({ type: 'message', payload: Buffer.from(payload), isBinary: false });
const binary = (payload: Uint8Array): Event => ({ type: 'message', payload: Buffer.from(payload), isBinary: true });
const failed = (code: number): { type: 'fail'; code: number } => ({ type: 'fail', code });

/** The events, failures reduced to their code: the reason is words for a log. */
function withoutFailReasons(events: readonly Event[]): unknown[] {
  return events.map((event) => (event.type === 'fail' ? failed(event.code) : event));
}

/** What ws's server-side Receiver finds in `wire`, in the decoder's terms. */
async function decodeWithWs(wire: Buffer, maxPayload: number): Promise<Event[]> {
  const receiver = new Receiver({ isServer: true, maxPayload });
  const events: Event[] = [];
  receiver.on('message', (payload: Buffer, isBinary: boolean) => events.push({ type: 'message', payload, isBinary }));
  receiver.on('ping', (payload: Buffer) => events.push({ type: 'ping', payload }));
  receiver.on('pong', (payload: Buffer) => events.push({ type: 'pong', payload }));
  receiver.on('conclude', (code: number, reason: Buffer) =>
    events.push({ type: 'close', code, reason: reason.toString() }),
  );
  receiver.on('error', (error: Error) => {
    // ws keeps the status for the close frame under a symbol of its own.
    const status = Object.getOwnPropertySymbols(error).find((key) => key.description === 'status-code');
    const code = (error as unknown as Record<symbol, number>)[status!]!;
    events.push({ type: 'fail', code, reason: error.message.replace('Invalid WebSocket frame: ', '') });
  });
  // A copy: ws unmasks in place.
  receiver.write(Buffer.from(wire));
  // ws reports a broken frame a tick later, through the stream's error handling.
  await new Promise((resolve) => setImmediate(resolve));
  return events;
}

test('a whole masked text or binary frame is one message, unmasked', () => {
  const maskKey = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
  assert.deepEqual(decode([frame(TEXT, 'héllo, world', { maskKey })]), [text('héllo, world')]);
  assert.deepEqual(decode([frame(BINARY, Uint8Array.of(0, 255, 1, 254, 2), { maskKey })]), [
    binary(Uint8Array.of(0, 255, 1, 254, 2)),
  ]);
});

test('a mask key of zeros leaves the payload as it is', () => {
  assert.deepEqual(decode([frame(TEXT, 'plain', { maskKey: new Uint8Array(4) })]), [text('plain')]);
});

test('payloads of every length form, at their limits, arrive whole', () => {
  // 7-bit up to 125, 16-bit from 126 to 65535, 64-bit from 65536.
  for (const length of [0, 1, 2, 3, 4, 5, 125, 126, 127, 65535, 65536, 70001]) {
    const payload = Buffer.alloc(length, 'ab');
    assert.deepEqual(decode([frame(TEXT, payload)]), [text(payload.toString())], `${length} bytes`);
    assert.deepEqual(decode([frame(BINARY, payload)]), [binary(payload)], `${length} bytes`);
  }
});

test('a length in a longer form than it needs is still read', () => {
  const payload = Buffer.from('short');
  for (const lengthBytes of [2, 8] as const) {
    assert.deepEqual(decode([rawFrame(FINAL | TEXT, payload, { lengthBytes })]), [text('short')]);
  }
});

test('several frames in one push are all decoded, in order', () => {
  const wire = Buffer.concat([
    frame(TEXT, 'one'),
    frame(PING, 'are you there'),
    frame(BINARY, Buffer.alloc(300, 7)),
    frame(PONG, ''),
    frame(TEXT, 'two'),
  ]);
  assert.deepEqual(decode([wire]), [
    text('one'),
    { type: 'ping', payload: Buffer.from('are you there') },
    binary(Buffer.alloc(300, 7)),
    { type: 'pong', payload: Buffer.alloc(0) },
    text('two'),
  ]);
});

test('fragments join into one message; control frames between them are delivered at once', () => {
  const wire = Buffer.concat([
    frame(TEXT, 'Hel', { fin: false }),
    frame(PING, 'p1'),
    frame(CONTINUATION, '', { fin: false }),
    frame(PONG, 'p2'),
    frame(CONTINUATION, 'lo', { fin: false }),
    frame(CONTINUATION, ' there'),
    frame(BINARY, Uint8Array.of(1), { fin: false }),
    frame(CONTINUATION, Uint8Array.of(2, 3)),
  ]);
  assert.deepEqual(decode([wire]), [
    { type: 'ping', payload: Buffer.from('p1') },
    { type: 'pong', payload: Buffer.from('p2') },
    text('Hello there'),
    binary(Uint8Array.of(1, 2, 3)),
  ]);
});

test('a character cut between text fragments is valid once the message is whole', () => {
  const euro = Buffer.from('€');
  const wire = Buffer.concat([
    frame(TEXT, euro.subarray(0, 1), { fin: false }),
    frame(CONTINUATION, euro.subarray(1, 2), { fin: false }),
    frame(CONTINUATION, euro.subarray(2)),
  ]);
  assert.deepEqual(decode([wire]), [text('€')]);
});

test('a message of empty fragments is an empty message', () => {
  const wire = Buffer.concat([frame(BINARY, '', { fin: false }), frame(CONTINUATION, '')]);
  assert.deepEqual(decode([wire]), [binary(new Uint8Array(0))]);
});

test('frames cut at every byte, even in the header, length or mask key, decode as if whole', () => {
  const wire = Buffer.concat([
    frame(TEXT, 'first'),
    frame(BINARY, Buffer.alloc(200, 9), { fin: false }),
    frame(PING, 'between'),
    frame(CONTINUATION, Buffer.alloc(70000, 3)),
    frame(CLOSE, closePayload(1000, 'bye')),
  ]);
  const whole = decode([wire]);
  assert.equal(whole.length, 4);
  // Every cut through the first frames, the 64-bit frame's header and the close frame; every 997th in between.
  const cuts = [
    ...Array.from({ length: 260 }, (_, i) => i),
    ...Array.from({ length: 70 }, (_, i) => 260 + i * 997),
    ...Array.from({ length: 20 }, (_, i) => wire.length - i),
  ];
  for (const cut of cuts) {
    assert.deepEqual(decode([wire.subarray(0, cut), wire.subarray(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(decode([...wire].map((byte) => Uint8Array.of(byte))), whole, 'one byte at a time');
});

test('random messages cut at random points decode like one push, and like ws', async () => {
  const message = fc.record({
    isBinary: fc.boolean(),
    payload: fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 300 }) },
      // Around the 64-bit length form, in a pattern: fast-check builds large arrays slowly.
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.integer({ min: 65530, max: 66000 }), fc.integer({ min: 0, max: 255 }))
          .map(([length, seed]) => Buffer.alloc(length, Uint8Array.of(seed, seed ^ 0x5a, 0xff - seed))),
      },
    ),
    text: fc.string({ unit: 'grapheme', maxLength: 200 }),
    fragments: fc.array(fc.nat(), { maxLength: 3 }),
    pingBetween: fc.option(fc.uint8Array({ maxLength: 125 })),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(message, { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      async (messages, cutPoints) => {
        const frames: Buffer[] = [];
        for (const { isBinary, payload: bytes, text: characters, fragments, pingBetween } of messages) {
          const payload = isBinary ? Buffer.from(bytes) : Buffer.from(characters);
          const ends = [...new Set(fragments.map((at) => at % (payload.length + 1)))].sort((a, b) => a - b);
          let start = 0;
          ends.forEach((end, i) => {
            frames.push(
              frame(i === 0 ? (isBinary ? BINARY : TEXT) : CONTINUATION, payload.subarray(start, end), { fin: false }),
            );
            if (pingBetween !== null) frames.push(frame(PING, pingBetween));
            start = end;
          });
          frames.push(frame(ends.length === 0 ? (isBinary ? BINARY : TEXT) : CONTINUATION, payload.subarray(start)));
        }
        const wire = Buffer.concat(frames);
        const cuts = [...new Set(cutPoints.map((at) => at % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...cuts].map((from, i) => wire.subarray(from, cuts[i] ?? wire.length));
        const whole = decode([wire]);
        assert.deepEqual(decode(chunks), whole);
        assert.deepEqual(whole, await decodeWithWs(wire, 0));
        assert.equal(whole.filter((event) => event.type === 'message').length, messages.length);
      },
    ),
    { numRuns: 150 },
  );
});

test('streams of valid and broken frames, cut anywhere, end as ws ends them, with its status and reason', async () => {
  const mostly = <T>(usual: T, rare: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 9, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary: rare });
  const first = fc
    .tuple(
      fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
      mostly(0, fc.constantFrom(0x10, 0x20, 0x40)),
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) },
      ),
    )
    .map(([isFinal, reserved, opcode]) => (isFinal ? FINAL : 0) | reserved | opcode);
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 140 }),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((characters) => Buffer.from(characters)),
    fc
      .tuple(fc.integer({ min: 0, max: 5100 }), fc.constantFrom(1000, 1001, 1004, 1005, 1006, 2999, 3000, 4999, 5000))
      .chain(([anyCode, code]) =>
        fc.tuple(fc.constantFrom(anyCode, code), fc.oneof(fc.uint8Array({ maxLength: 4 }), fc.constant(''))),
      )
      .map(([code, reason]) => closePayload(code, reason)),
  );
  const anyFrame = fc.record({ first, payload, masked: mostly(true, fc.constant(false)) });
  await fc.assert(
    fc.asyncProperty(
      fc.array(anyFrame, { minLength: 1, maxLength: 6 }),
      fc.constantFrom(0, 20, 64),
      fc.array(fc.nat(), { maxLength: 4 }),
      async (frames, maxPayload, cutPoints) => {
        const wire = Buffer.concat(frames.map(({ first, payload, masked }) => rawFrame(first, payload, { masked })));
        const whole = decode([wire], maxPayload);
        assert.deepEqual(whole, await decodeWithWs(wire, maxPayload));
        const cuts = [...new Set(cutPoints.map((at) => at % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...cuts].map((from, i) => wire.subarray(from, cuts[i] ?? wire.length));
        assert.deepEqual(decode(chunks, maxPayload), whole);
      },
    ),
    { numRuns: 1000 },
  );
});

test('the payload is a copy: changing the pushed bytes afterwards does not change it', () => {
  const whole = frame(BINARY, Uint8Array.of(1, 2, 3, 4, 5, 6));
  const cut = frame(TEXT, 'cut between pushes');
  const { sink, events } = recorder();
  const decoder = new FrameDecoder(sink, 0);
  decoder.push(whole);
  decoder.push(cut.subarray(0, 10));
  decoder.push(cut.subarray(10));
  whole.fill(0);
  cut.fill(0);
  assert.deepEqual(events, [binary(Uint8Array.of(1, 2, 3, 4, 5, 6)), text('cut between pushes')]);
});

test('a header cut between pushes is kept as a copy of the lent bytes', () => {
  const wire = frame(TEXT, 'kept');
  const { sink, events } = recorder();
  const decoder = new FrameDecoder(sink, 0);
  const lent = Buffer.from(wire.subarray(0, 4));
  decoder.push(lent);
  lent.fill(0);
  decoder.push(wire.subarray(4));
  assert.deepEqual(events, [text('kept')]);
});

test('ping and pong payloads are handed over unmasked', () => {
  const wire = Buffer.concat([frame(PING, Buffer.alloc(125, 'p')), frame(PONG, 'pong data')]);
  assert.deepEqual(decode([wire]), [
    { type: 'ping', payload: Buffer.alloc(125, 'p') },
    { type: 'pong', payload: Buffer.from('pong data') },
  ]);
});

test('an unmasked client frame fails with 1002', () => {
  assert.deepEqual(withoutFailReasons(decode([rawFrame(FINAL | TEXT, Buffer.from('hi'), { masked: false })])), [
    failed(1002),
  ]);
});

test('a reserved bit set fails with 1002: no extension is ever negotiated', () => {
  for (const rsv of [0x40, 0x20, 0x10]) {
    assert.deepEqual(withoutFailReasons(decode([rawFrame(FINAL | rsv | TEXT, Buffer.from('hi'))])), [failed(1002)]);
  }
});

test('a reserved opcode fails with 1002', () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    assert.deepEqual(
      withoutFailReasons(decode([rawFrame(FINAL | opcode, Buffer.from('x'))])),
      [failed(1002)],
      `${opcode}`,
    );
  }
});

test('a fragmented control frame fails with 1002', () => {
  for (const opcode of [CLOSE, PING, PONG]) {
    assert.deepEqual(withoutFailReasons(decode([rawFrame(opcode, Buffer.alloc(0))])), [failed(1002)], `${opcode}`);
  }
});

test('a control frame longer than 125 bytes fails with 1002', () => {
  for (const opcode of [CLOSE, PING, PONG]) {
    const events = decode([rawFrame(FINAL | opcode, Buffer.alloc(126))]);
    assert.deepEqual(withoutFailReasons(events), [failed(1002)], `${opcode}`);
  }
  const atLimit = decode([rawFrame(FINAL | PING, Buffer.alloc(125))]);
  assert.deepEqual(atLimit, [{ type: 'ping', payload: Buffer.alloc(125) }]);
});

test('a continuation with no message begun fails with 1002', () => {
  assert.deepEqual(withoutFailReasons(decode([frame(CONTINUATION, 'orphan')])), [failed(1002)]);
  // Also after a message that ended.
  const afterEnd = decode([Buffer.concat([frame(TEXT, 'done'), frame(CONTINUATION, 'late')])]);
  assert.deepEqual(withoutFailReasons(afterEnd), [text('done'), failed(1002)]);
});

test('a new message while one is in fragments fails with 1002', () => {
  for (const opcode of [TEXT, BINARY]) {
    const wire = Buffer.concat([frame(TEXT, 'begun', { fin: false }), frame(opcode, 'another')]);
    assert.deepEqual(withoutFailReasons(decode([wire])), [failed(1002)]);
  }
});

test('a 64-bit length above 2^53 - 1 fails with 1009 from the header alone', () => {
  assert.deepEqual(decode([header(FINAL | BINARY, 2n ** 53n)]), [
    { type: 'fail', code: 1009, reason: 'Unsupported WebSocket frame: payload length > 2^53 - 1' },
  ]);
  assert.deepEqual(withoutFailReasons(decode([header(FINAL | BINARY, 2n ** 64n - 1n)])), [failed(1009)]);
});

test('a message of exactly maxPayload bytes arrives; one byte more fails with 1009 before its payload', () => {
  const limit = 1000;
  assert.deepEqual(decode([frame(BINARY, Buffer.alloc(limit, 1))], limit), [binary(Buffer.alloc(limit, 1))]);
  assert.deepEqual(decode([frame(BINARY, Buffer.alloc(limit + 1, 1)).subarray(0, 8)], limit), [
    { type: 'fail', code: 1009, reason: 'Max payload size exceeded' },
  ]);
  // Headers of each length form past the limit, alone.
  for (const length of [101, 126, 65536, 2 ** 40]) {
    assert.deepEqual(withoutFailReasons(decode([header(FINAL | TEXT, length)], 100)), [failed(1009)], `${length}`);
  }
});

test('maxPayload counts every fragment of a message, but no control frame', () => {
  const limit = 10;
  const atLimit = Buffer.concat([
    frame(TEXT, '12345', { fin: false }),
    frame(PING, Buffer.alloc(100)),
    frame(CONTINUATION, '67890'),
  ]);
  assert.deepEqual(decode([atLimit], limit), [{ type: 'ping', payload: Buffer.alloc(100) }, text('1234567890')]);
  const overLimit = Buffer.concat([frame(TEXT, '12345', { fin: false }), frame(CONTINUATION, '678901')]);
  assert.deepEqual(withoutFailReasons(decode([overLimit.subarray(0, overLimit.length - 6)], limit)), [failed(1009)]);
});

test('text that is not UTF-8 fails with 1007 once the message is whole', () => {
  assert.deepEqual(decode([frame(TEXT, Uint8Array.of(0x68, 0xc3, 0x28))]), [
    { type: 'fail', code: 1007, reason: 'invalid UTF-8 sequence' },
  ]);
  const cutCharacter = frame(TEXT, Buffer.from('€').subarray(0, 2), { fin: false });
  assert.deepEqual(decode([cutCharacter]), [], 'not judged before the last fragment');
  assert.deepEqual(withoutFailReasons(decode([cutCharacter, frame(CONTINUATION, 'x')])), [failed(1007)]);
  // The same bytes as a binary message are fine.
  assert.deepEqual(decode([frame(BINARY, Uint8Array.of(0x68, 0xc3, 0x28))]), [binary(Uint8Array.of(0x68, 0xc3, 0x28))]);
});

test('a close frame gives its code and reason; an empty one gives 1005', () => {
  assert.deepEqual(decode([frame(CLOSE, closePayload(1000, 'going, ¡adiós!'))]), [
    { type: 'close', code: 1000, reason: 'going, ¡adiós!' },
  ]);
  assert.deepEqual(decode([frame(CLOSE, '')]), [{ type: 'close', code: 1005, reason: '' }]);
  for (const code of [1000, 1001, 1003, 1007, 1014, 3000, 4000, 4999]) {
    assert.deepEqual(decode([frame(CLOSE, closePayload(code))]), [{ type: 'close', code, reason: '' }], `${code}`);
  }
});

test('a close frame with one byte of payload, or a code no peer may send, fails with 1002', () => {
  assert.deepEqual(withoutFailReasons(decode([rawFrame(FINAL | CLOSE, Uint8Array.of(3))])), [failed(1002)]);
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
    assert.deepEqual(withoutFailReasons(decode([frame(CLOSE, closePayload(code, 'x'))])), [failed(1002)], `${code}`);
  }
});

test('a close reason that is not UTF-8 fails with 1007', () => {
  assert.deepEqual(withoutFailReasons(decode([frame(CLOSE, closePayload(1000, Uint8Array.of(0xff)))])), [failed(1007)]);
});

test('after a close nothing more is decoded, in the same push or a later one', () => {
  const { sink, events } = recorder();
  const decoder = new FrameDecoder(sink, 0);
  decoder.push(Buffer.concat([frame(TEXT, 'before'), frame(CLOSE, closePayload(1001)), frame(TEXT, 'after')]));
  decoder.push(frame(TEXT, 'later'));
  decoder.push(Uint8Array.of(0xff, 0xff));
  assert.deepEqual(events, [text('before'), { type: 'close', code: 1001, reason: '' }]);
});

test('after a failure nothing more is decoded, in the same push or a later one', () => {
  const { sink, events } = recorder();
  const decoder = new FrameDecoder(sink, 0);
  const broken = rawFrame(FINAL | TEXT, Buffer.from('unmasked'), { masked: false });
  decoder.push(Buffer.concat([frame(BINARY, Uint8Array.of(1)), broken, frame(TEXT, 'after')]));
  decoder.push(frame(TEXT, 'later'));
  decoder.push(frame(CLOSE, ''));
  assert.deepEqual(withoutFailReasons(events), [binary(Uint8Array.of(1)), failed(1002)]);
});

test('a failure mid-message ends it: the fragments before it are never delivered', () => {
  const wire = Buffer.concat([frame(TEXT, 'part', { fin: false }), rawFrame(FINAL | 3, Buffer.alloc(0))]);
  const { sink, events } = recorder();
  const decoder = new FrameDecoder(sink, 0);
  decoder.push(wire);
  decoder.push(frame(CONTINUATION, ' end'));
  assert.deepEqual(withoutFailReasons(events), [failed(1002)]);
});

test('a frame cut after its header holds what has arrived, not the length it claims', () => {
  const MIB = 1024 * 1024;
  const decoders: FrameDecoder[] = [];
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 100; i++) {
    const decoder = new FrameDecoder(recorder().sink, 2 * MIB);
    decoder.push(Buffer.concat([header(FINAL | BINARY, MIB), Buffer.from('a few bytes')]));
    decoders.push(decoder);
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  // 100 MiB were claimed; a few bytes each arrived.
  assert.ok(grown < 10 * MIB, `${(grown / MIB).toFixed(1)} MiB held for 100 frames cut after their header`);
  assert.equal(decoders.length, 100);
});
