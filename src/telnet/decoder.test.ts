// Tests of the incremental telnet decoder (RFC 854, 855): events, chunking, limits, round trips.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AO,
  AYT,
  BRK,
  DM,
  DO,
  DONT,
  EC,
  EL,
  EOR,
  GA,
  IAC,
  IP,
  NOP,
  OPT_ECHO,
  OPT_NAWS,
  OPT_TTYPE,
  SB,
  SE,
  TTYPE_IS,
  WILL,
  WONT,
} from './constants.js';
import { TelnetDecoder } from './decoder.js';
import type { TelnetEvent, TelnetSink } from './decoder.js';
import { encodeText, escapeIac, negotiate, subnegotiation } from './encoder.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];

/** Merges adjacent data events and copies their bytes, the only freedom chunking has. */
function normalize(events: TelnetEvent[]): TelnetEvent[] {
  const out: TelnetEvent[] = [];
  for (const event of events) {
    const last = out.at(-1);
    if (event.type === 'data' && last?.type === 'data') {
      last.bytes = Buffer.concat([last.bytes, event.bytes]);
    } else if (event.type === 'data') {
      out.push({ type: 'data', bytes: Uint8Array.from(event.bytes) });
    } else {
      out.push(event);
    }
  }
  return out.map((e) => (e.type === 'data' ? { type: 'data', bytes: Uint8Array.from(e.bytes) } : e));
}

/** A sink keeping what it is told as events; `isCopying` copies bytes at once, as a sink that keeps them must. */
class Recorder implements TelnetSink {
  readonly events: TelnetEvent[] = [];

  constructor(readonly isCopying = true) {}

  onData(bytes: Uint8Array): void {
    this.events.push({ type: 'data', bytes: this.#keep(bytes) });
  }

  onCommand(command: number): void {
    this.events.push({ type: 'command', command });
  }

  onNegotiate(verb: number, option: number): void {
    this.events.push({ type: 'negotiate', verb, option });
  }

  onSubnegotiation(option: number, payload: Uint8Array): void {
    this.events.push({ type: 'subnegotiation', option, payload: this.#keep(payload) });
  }

  onOverflow(option: number): void {
    this.events.push({ type: 'overflow', option });
  }

  #keep(bytes: Uint8Array): Uint8Array {
    return this.isCopying ? Uint8Array.from(bytes) : bytes;
  }
}

function decodeWhole(input: Uint8Array, decoder = new TelnetDecoder()): TelnetEvent[] {
  return decodeChunks([input], decoder);
}

function decodeChunks(chunks: Uint8Array[], decoder = new TelnetDecoder()): TelnetEvent[] {
  const recorder = new Recorder();
  for (const chunk of chunks) decoder.decode(chunk, recorder);
  return normalize(recorder.events);
}

function cut(input: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(input.subarray(from, point));
    from = point;
  }
  chunks.push(input.subarray(from));
  return chunks;
}

function dataOf(events: TelnetEvent[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(events.flatMap((e) => (e.type === 'data' ? [e.bytes] : []))));
}

test('plain data passes as one view of the chunk, without copying', () => {
  const chunk = Buffer.from('hello world');
  const events = new TelnetDecoder().push(chunk);
  assert.equal(events.length, 1);
  const [event] = events;
  assert.equal(event?.type, 'data');
  if (event?.type !== 'data') return;
  assert.equal(event.bytes.buffer, chunk.buffer);
  assert.deepEqual(Buffer.from(event.bytes).toString(), 'hello world');
});

test('data with IAC IAC in it comes as one run, not a run per escaped byte', () => {
  const recorder = new Recorder();
  new TelnetDecoder().decode(bytes(0x61, IAC, IAC, 0x62, IAC, IAC, IAC, IAC, 0x63, IAC, NOP, 0x64), recorder);
  assert.deepEqual(recorder.events, [
    { type: 'data', bytes: bytes(0x61, IAC, 0x62, IAC, IAC, 0x63) },
    { type: 'command', command: NOP },
    { type: 'data', bytes: bytes(0x64) },
  ]);
});

test('a subnegotiation whole in one chunk is lent as a view of it; one cut between chunks is delivered whole', () => {
  const chunk = Buffer.from([0x61, IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE]);
  const recorder = new Recorder(false);
  const decoder = new TelnetDecoder();
  decoder.decode(chunk, recorder);
  const lent = recorder.events[1];
  assert.ok(lent?.type === 'subnegotiation' && lent.payload.buffer === chunk.buffer);
  decoder.decode(chunk.subarray(1, 6), recorder);
  decoder.decode(chunk.subarray(6), recorder);
  assert.deepEqual(recorder.events.at(-1), { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) });
});

test('push() copies subnegotiation payloads, so a caller may reuse its buffer', () => {
  const chunk = Buffer.from([IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE]);
  const [event] = new TelnetDecoder().push(chunk);
  chunk.fill(0);
  assert.deepEqual(event, { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) });
});

test('an empty chunk yields no events', () => {
  assert.deepEqual(new TelnetDecoder().push(new Uint8Array(0)), []);
});

test('negotiation verbs decode with their option', () => {
  const input = bytes(IAC, DO, OPT_ECHO, IAC, DONT, OPT_ECHO, IAC, WILL, OPT_NAWS, IAC, WONT, OPT_TTYPE);
  assert.deepEqual(decodeWhole(input), [
    { type: 'negotiate', verb: DO, option: OPT_ECHO },
    { type: 'negotiate', verb: DONT, option: OPT_ECHO },
    { type: 'negotiate', verb: WILL, option: OPT_NAWS },
    { type: 'negotiate', verb: WONT, option: OPT_TTYPE },
  ]);
});

test('simple commands decode as command events between data', () => {
  for (const command of [NOP, AYT, BRK, IP, AO, EC, EL, GA, DM, EOR]) {
    assert.deepEqual(decodeWhole(bytes(0x61, IAC, command, 0x62)), [
      { type: 'data', bytes: bytes(0x61) },
      { type: 'command', command },
      { type: 'data', bytes: bytes(0x62) },
    ]);
  }
});

test('IAC followed by an unknown byte is a command, not an error', () => {
  for (const command of [0, 13, 200, 238]) {
    assert.deepEqual(decodeWhole(bytes(IAC, command)), [{ type: 'command', command }]);
  }
});

test('IAC SE outside a subnegotiation is reported as a command and changes nothing', () => {
  assert.deepEqual(decodeWhole(bytes(IAC, SE, 0x61)), [
    { type: 'command', command: SE },
    { type: 'data', bytes: bytes(0x61) },
  ]);
});

test('IAC IAC in data is one 255 data byte', () => {
  assert.deepEqual(decodeWhole(bytes(0x61, IAC, IAC, 0x62)), [{ type: 'data', bytes: bytes(0x61, IAC, 0x62) }]);
});

test('a subnegotiation yields its option and payload', () => {
  const input = bytes(IAC, SB, OPT_TTYPE, TTYPE_IS, ...ascii('XTERM'), IAC, SE);
  assert.deepEqual(decodeWhole(input), [
    { type: 'subnegotiation', option: OPT_TTYPE, payload: bytes(TTYPE_IS, ...ascii('XTERM')) },
  ]);
});

test('IAC IAC inside a subnegotiation is one 255 payload byte', () => {
  const input = bytes(IAC, SB, OPT_NAWS, 0, IAC, IAC, 0, 24, IAC, SE);
  assert.deepEqual(decodeWhole(input), [{ type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 255, 0, 24) }]);
});

test('an empty subnegotiation has an empty payload', () => {
  assert.deepEqual(decodeWhole(bytes(IAC, SB, OPT_ECHO, IAC, SE)), [
    { type: 'subnegotiation', option: OPT_ECHO, payload: bytes() },
  ]);
});

test('subnegotiation payloads stay intact after later pushes', () => {
  const decoder = new TelnetDecoder();
  const [first] = decoder.push(bytes(IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE));
  decoder.push(bytes(IAC, SB, OPT_NAWS, 9, 9, 9, 9, IAC, SE));
  assert.deepEqual(first, { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) });
});

test('NAWS split at every byte decodes like the whole', () => {
  const whole = bytes(IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE);
  for (let at = 1; at < whole.length; at++) {
    const d = new TelnetDecoder();
    const got = [...d.push(whole.subarray(0, at)), ...d.push(whole.subarray(at))];
    assert.deepEqual(got, [{ type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) }]);
  }
});

test('a mixed stream fed one byte per chunk decodes like the whole', () => {
  const negotiation = [IAC, WILL, OPT_ECHO];
  const naws = [IAC, SB, OPT_NAWS, 0, IAC, IAC, 0, 1, IAC, SE];
  const whole = bytes(0x61, IAC, IAC, ...negotiation, ...naws, IAC, NOP, 0x62);
  const single = [...whole].map((b) => bytes(b));
  assert.deepEqual(decodeChunks(single), decodeWhole(whole));
});

test('a subnegotiation over the cap yields one overflow and is dropped up to IAC SE', () => {
  const decoder = new TelnetDecoder({ maxSubnegotiation: 4 });
  const input = bytes(IAC, SB, OPT_TTYPE, 1, 2, 3, 4, 5, 6, IAC, IAC, 7, IAC, SE, 0x61);
  assert.deepEqual(decodeWhole(input, decoder), [
    { type: 'overflow', option: OPT_TTYPE },
    { type: 'data', bytes: bytes(0x61) },
  ]);
  assert.deepEqual(decodeWhole(bytes(IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE), decoder), [
    { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) },
  ]);
});

test('a payload exactly at the cap is kept', () => {
  const decoder = new TelnetDecoder({ maxSubnegotiation: 4 });
  assert.deepEqual(decodeWhole(bytes(IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE), decoder), [
    { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) },
  ]);
});

test('the default cap is 8192 bytes', () => {
  const frame = (size: number): Uint8Array => subnegotiation(OPT_TTYPE, new Uint8Array(size).fill(0x41));
  assert.equal(decodeWhole(frame(8192))[0]?.type, 'subnegotiation');
  assert.deepEqual(decodeWhole(frame(8193)), [{ type: 'overflow', option: OPT_TTYPE }]);
});

test('an IAC command inside SB ends the subnegotiation, then acts as that command', () => {
  const input = bytes(IAC, SB, OPT_TTYPE, TTYPE_IS, 0x41, IAC, WILL, OPT_ECHO, 0x62);
  assert.deepEqual(decodeWhole(input), [
    { type: 'subnegotiation', option: OPT_TTYPE, payload: bytes(TTYPE_IS, 0x41) },
    { type: 'negotiate', verb: WILL, option: OPT_ECHO },
    { type: 'data', bytes: bytes(0x62) },
  ]);
  assert.deepEqual(decodeWhole(bytes(IAC, SB, OPT_TTYPE, 1, IAC, NOP)), [
    { type: 'subnegotiation', option: OPT_TTYPE, payload: bytes(1) },
    { type: 'command', command: NOP },
  ]);
});

test('IAC SB inside SB ends the first subnegotiation and starts the next', () => {
  const input = bytes(IAC, SB, OPT_TTYPE, 1, IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE);
  assert.deepEqual(decodeWhole(input), [
    { type: 'subnegotiation', option: OPT_TTYPE, payload: bytes(1) },
    { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 80, 0, 24) },
  ]);
});

test('an overflowed SB ended by another command gives no subnegotiation event', () => {
  const decoder = new TelnetDecoder({ maxSubnegotiation: 1 });
  assert.deepEqual(decodeWhole(bytes(IAC, SB, OPT_TTYPE, 1, 2, 3, IAC, NOP), decoder), [
    { type: 'overflow', option: OPT_TTYPE },
    { type: 'command', command: NOP },
  ]);
});

const byteArrays = fc.uint8Array({ maxLength: 300 });
// Bytes drawn mostly from the telnet-significant range so sequences actually form.
const significant = fc.constantFrom(IAC, SB, SE, DO, DONT, WILL, WONT, NOP, 0, 13, 10, 31);
const telnetish = fc
  .array(fc.oneof(significant, fc.integer({ min: 0, max: 255 })), { maxLength: 300 })
  .map((values) => Uint8Array.from(values));
const input = fc.oneof(byteArrays, telnetish);
// Well-formed streams, from the encoder: escaped data, negotiations, commands and subnegotiations.
const frame = fc.oneof(
  byteArrays.map((data) => escapeIac(data)),
  fc.tuple(fc.constantFrom(DO, DONT, WILL, WONT), fc.nat(255)).map(([verb, option]) => negotiate(verb, option)),
  fc.constantFrom(NOP, AYT, GA).map((code) => bytes(IAC, code)),
  fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 40 })).map(([option, payload]) => subnegotiation(option, payload)),
);
const stream = fc.array(frame, { maxLength: 20 }).map((frames) => Uint8Array.from(Buffer.concat(frames)));

test('property: any chunking yields the same normalized events as the whole', () => {
  // Short chunks of telnet-heavy bytes put chunk ends inside every kind of sequence.
  const shortChunk = telnetish.map((c) => c.subarray(0, 6));
  const chunks = fc.array(fc.oneof(shortChunk, byteArrays), { maxLength: 30 });
  fc.assert(
    fc.property(chunks, fc.integer({ min: 0, max: 16 }), (parts, max) => {
      const whole = decodeWhole(Buffer.concat(parts), new TelnetDecoder({ maxSubnegotiation: max }));
      assert.deepEqual(decodeChunks(parts, new TelnetDecoder({ maxSubnegotiation: max })), whole);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 20 }), (data, cuts) => {
      assert.deepEqual(decodeChunks(cut(data, cuts)), decodeWhole(data));
    }),
    { numRuns: 500 },
  );
});

test('property: push() gives the events a sink is told', () => {
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 0, max: 16 }), (data, cuts, max) => {
      const chunks = cut(data, cuts);
      const pushed = new TelnetDecoder({ maxSubnegotiation: max });
      assert.deepEqual(
        normalize(chunks.flatMap((chunk) => pushed.push(chunk))),
        decodeChunks(chunks, new TelnetDecoder({ maxSubnegotiation: max })),
      );
    }),
    { numRuns: 500 },
  );
});

test('property: bytes lent to a sink are never written over by later decoding', () => {
  fc.assert(
    fc.property(fc.oneof(input, stream), fc.array(fc.nat(), { maxLength: 30 }), (data, cuts) => {
      const kept = new Recorder(false);
      const copied = new Recorder();
      const both: TelnetSink = {
        onData: (b) => (kept.onData(b), copied.onData(b)),
        onCommand: (c) => (kept.onCommand(c), copied.onCommand(c)),
        onNegotiate: (v, o) => (kept.onNegotiate(v, o), copied.onNegotiate(v, o)),
        onSubnegotiation: (o, p) => (kept.onSubnegotiation(o, p), copied.onSubnegotiation(o, p)),
        onOverflow: (o) => (kept.onOverflow(o), copied.onOverflow(o)),
      };
      const decoder = new TelnetDecoder({ maxSubnegotiation: 64 });
      for (const chunk of cut(Uint8Array.from(data), cuts)) decoder.decode(chunk, both);
      assert.deepEqual(normalize(kept.events), normalize(copied.events));
    }),
    { numRuns: 500 },
  );
});

test('property: byte-at-a-time decoding equals whole decoding', () => {
  fc.assert(
    fc.property(input, (data) => {
      assert.deepEqual(decodeChunks([...data].map((b) => bytes(b))), decodeWhole(data));
    }),
    { numRuns: 300 },
  );
});

test('property: the decoder never throws', () => {
  fc.assert(
    fc.property(fc.array(input, { maxLength: 5 }), fc.integer({ min: 0, max: 64 }), (chunks, max) => {
      const decoder = new TelnetDecoder({ maxSubnegotiation: max });
      const recorder = new Recorder(false);
      for (const chunk of chunks) decoder.decode(chunk, recorder);
      for (const chunk of chunks) decoder.push(chunk);
    }),
    { numRuns: 500 },
  );
});

test('property: escapeIac then decode gives back the original bytes', () => {
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 10 }), (data, cuts) => {
      const events = decodeChunks(cut(escapeIac(data), cuts));
      assert.ok(events.every((e) => e.type === 'data'));
      assert.deepEqual(dataOf(events), Uint8Array.from(data));
    }),
    { numRuns: 500 },
  );
});

test('property: encodeText then decode gives the CR LF normalized UTF-8 text', () => {
  const texts = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.array(fc.constantFrom('a', 'é', '\r', '\n', '\r\n', '\u00ff', '\u{1F600}', '\0')).map((p) => p.join('')),
  );
  fc.assert(
    fc.property(texts, (text) => {
      const events = decodeWhole(encodeText(text));
      assert.ok(events.every((e) => e.type === 'data'));
      // Reverse mapping of RFC 854 line ends: CR NUL was a lone CR, CR LF stands for LF.
      const decoded = Buffer.from(dataOf(events)).toString('utf8').replace(/\r\0/g, '\r');
      const expected = text.replace(/\r\n|\r|\n/g, (m) => (m === '\r' ? '\r' : '\r\n'));
      assert.equal(decoded, Buffer.from(expected, 'utf8').toString('utf8'));
    }),
    { numRuns: 500 },
  );
});

test('frames from the encoder decode to the matching events', () => {
  const stream = Buffer.concat([negotiate(WILL, OPT_ECHO), subnegotiation(OPT_NAWS, [0, 255, 0, 24])]);
  assert.deepEqual(decodeWhole(stream), [
    { type: 'negotiate', verb: WILL, option: OPT_ECHO },
    { type: 'subnegotiation', option: OPT_NAWS, payload: bytes(0, 255, 0, 24) },
  ]);
});
