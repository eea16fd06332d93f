// Tests of LINEMODE subnegotiation helpers (RFC 1184).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  DO,
  IAC,
  LM_FORWARDMASK,
  LM_MODE,
  LM_SLC,
  MODE_ACK,
  MODE_EDIT,
  MODE_TRAPSIG,
  OPT_LINEMODE,
  SB,
  SE,
  SLC_ACK,
  SLC_BRK,
  SLC_CANTCHANGE,
  SLC_DEFAULT,
  SLC_EC,
  SLC_EL,
  SLC_EOF,
  SLC_EW,
  SLC_IP,
  SLC_NOSUPPORT,
  SLC_VARIABLE,
  WILL,
} from './constants.js';
import { TelnetDecoder } from './decoder.js';
import { SpecialCharacters, linemodeMode, parseLinemode } from './linemode.js';

test('linemodeMode builds IAC SB LINEMODE MODE mask IAC SE', () => {
  assert.deepEqual([...linemodeMode(MODE_EDIT | MODE_TRAPSIG)], [IAC, SB, OPT_LINEMODE, LM_MODE, 3, IAC, SE]);
});

test('parseLinemode reads MODE and splits off the ACK bit', () => {
  assert.deepEqual(parseLinemode(Uint8Array.of(LM_MODE, MODE_EDIT | MODE_ACK)), { mode: MODE_EDIT, ack: true });
  assert.deepEqual(parseLinemode(Uint8Array.of(LM_MODE, MODE_TRAPSIG)), { mode: MODE_TRAPSIG, ack: false });
});

test('parseLinemode returns SLC triplets as they came', () => {
  assert.deepEqual(parseLinemode(Uint8Array.of(LM_SLC, 1, 2, 3, 4, 5, 6)), { slc: Uint8Array.of(1, 2, 3, 4, 5, 6) });
  assert.deepEqual(parseLinemode(Uint8Array.of(LM_SLC)), { slc: Uint8Array.of() });
});

test('parseLinemode recognises FORWARDMASK negotiation', () => {
  assert.deepEqual(parseLinemode(Uint8Array.of(WILL, LM_FORWARDMASK)), { forwardMask: true });
  assert.deepEqual(parseLinemode(Uint8Array.of(DO, LM_FORWARDMASK, 0, 1)), { forwardMask: true });
});

test('parseLinemode rejects malformed payloads', () => {
  assert.equal(parseLinemode(Uint8Array.of()), undefined);
  assert.equal(parseLinemode(Uint8Array.of(LM_MODE)), undefined);
  assert.equal(parseLinemode(Uint8Array.of(LM_MODE, 1, 2)), undefined);
  assert.equal(parseLinemode(Uint8Array.of(LM_SLC, 1, 2)), undefined);
  assert.equal(parseLinemode(Uint8Array.of(WILL, LM_SLC)), undefined);
  assert.equal(parseLinemode(Uint8Array.of(99)), undefined);
});

// Special characters (RFC 1184 section 2.3).

/** The SLC triplets of an IAC SB LINEMODE SLC ... IAC SE frame, read as a client's decoder reads it. */
function slcTriplets(frame: Buffer | undefined): number[][] {
  if (frame === undefined) return [];
  const events = new TelnetDecoder().push(frame);
  assert.equal(events.length, 1);
  const event = events[0]!;
  assert.ok(event.type === 'subnegotiation' && event.option === OPT_LINEMODE);
  const payload = parseLinemode(event.payload);
  assert.ok(payload !== undefined && 'slc' in payload, 'an SLC frame');
  const triplets: number[][] = [];
  for (let i = 0; i < payload.slc.length; i += 3) triplets.push([...payload.slc.subarray(i, i + 3)]);
  return triplets;
}

test('SLC: a character the client changes is taken and acknowledged with the ACK bit', () => {
  const table = new SpecialCharacters();
  const reply = table.answer(Uint8Array.of(SLC_EC, SLC_VARIABLE, 0x08, SLC_EL, SLC_CANTCHANGE, 0x18));
  assert.deepEqual(slcTriplets(reply), [
    [SLC_EC, SLC_VARIABLE | SLC_ACK, 0x08],
    [SLC_EL, SLC_CANTCHANGE | SLC_ACK, 0x18],
  ]);
  assert.equal(table.answer(Uint8Array.of(SLC_EC, SLC_VARIABLE, 0x08)), undefined, 'no answer to what is agreed');
});

test('SLC: what agrees with our table, and acknowledgements, get no reply', () => {
  const table = new SpecialCharacters();
  const flushes = 0x60;
  assert.equal(
    table.answer(Uint8Array.of(SLC_IP, SLC_VARIABLE | flushes, 0x03, SLC_EOF, SLC_VARIABLE, 0x04)),
    undefined,
  );
  assert.equal(table.answer(Uint8Array.of(SLC_EW, SLC_VARIABLE | SLC_ACK, 0x01)), undefined);
});

test('SLC: a function asked at DEFAULT gets our character, or NOSUPPORT where we have none', () => {
  const table = new SpecialCharacters();
  table.answer(Uint8Array.of(SLC_IP, SLC_VARIABLE, 0x10));
  assert.deepEqual(slcTriplets(table.answer(Uint8Array.of(SLC_IP, SLC_DEFAULT, 0, SLC_BRK, SLC_DEFAULT, 0))), [
    [SLC_IP, SLC_VARIABLE, 0x03],
    [SLC_BRK, SLC_NOSUPPORT, 0],
  ]);
});

test('SLC: function 0 at DEFAULT resets to our defaults and sends them; at VARIABLE sends the table as it is', () => {
  const table = new SpecialCharacters();
  table.answer(Uint8Array.of(SLC_EC, SLC_VARIABLE, 0x08));
  const current = slcTriplets(table.answer(Uint8Array.of(0, SLC_VARIABLE, 0)));
  assert.deepEqual(
    current.find(([func]) => func === SLC_EC),
    [SLC_EC, SLC_VARIABLE, 0x08],
  );
  const defaults = slcTriplets(table.answer(Uint8Array.of(0, SLC_DEFAULT, 0)));
  assert.deepEqual(
    defaults.find(([func]) => func === SLC_EC),
    [SLC_EC, SLC_VARIABLE, 0x7f],
  );
  assert.deepEqual(
    defaults.find(([func]) => func === SLC_IP),
    [SLC_IP, SLC_VARIABLE, 0x03],
  );
  assert.equal(defaults.length, current.length);
});

test('SLC: two ends answering each other by these rules fall silent within two rounds', () => {
  const triplet = fc.tuple(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 255 }),
    fc.integer({ min: 0, max: 255 }),
  );
  fc.assert(
    fc.property(fc.array(triplet, { maxLength: 20 }), (triplets) => {
      const server = new SpecialCharacters();
      const client = new SpecialCharacters();
      let frame: Buffer | undefined = server.answer(Uint8Array.from(triplets.flat()));
      const ends = [client, server];
      for (let round = 0; frame !== undefined; round++) {
        assert.ok(round < 2, `still talking after ${round} rounds`);
        frame = ends[round % 2]!.answer(Uint8Array.from(slcTriplets(frame).flat()));
      }
    }),
    { numRuns: 500 },
  );
});
