// Tests of LINEMODE subnegotiation helpers (RFC 1184).

import assert from 'node:assert/strict';
import { test } from 'node:test';
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
  WILL,
} from './constants.js';
import { linemodeMode, parseLinemode } from './linemode.js';

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
