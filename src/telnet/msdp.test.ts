// Tests of the MSDP codec (telnet option 69): variables, tables, arrays and commands.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import {
  IAC,
  MSDP_ARRAY_CLOSE,
  MSDP_ARRAY_OPEN,
  MSDP_TABLE_CLOSE,
  MSDP_TABLE_OPEN,
  MSDP_VAL,
  MSDP_VAR,
  OPT_MSDP,
  SB,
  SE,
} from './constants.js';
import { TelnetDecoder } from './decoder.js';
import { encodeMsdp, msdpCommands, parseMsdp } from './msdp.js';
import type { MsdpValue, MsdpVariables } from './msdp.js';

const text = (value: string): number[] => [...Buffer.from(value, 'utf8')];
/** Null-prototype tables as plain objects, for deep comparison. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
/** The payload of an encoded frame: between IAC SB MSDP and IAC SE (no IAC occurs in UTF-8 text). */
const payloadOf = (frame: Uint8Array): Uint8Array => frame.subarray(3, frame.length - 2);

test('encodeMsdp writes VAR name VAL value, numbers and booleans as text', () => {
  assert.deepEqual(
    [...encodeMsdp({ HEALTH: 10, NAME: 'Bob', AFK: false })],
    [
      IAC,
      SB,
      OPT_MSDP,
      MSDP_VAR,
      ...text('HEALTH'),
      MSDP_VAL,
      ...text('10'),
      MSDP_VAR,
      ...text('NAME'),
      MSDP_VAL,
      ...text('Bob'),
      MSDP_VAR,
      ...text('AFK'),
      MSDP_VAL,
      ...text('0'),
      IAC,
      SE,
    ],
  );
});

test('tables and arrays nest as TABLE_OPEN VAR … TABLE_CLOSE and ARRAY_OPEN VAL … ARRAY_CLOSE', () => {
  const frame = encodeMsdp({ ROOM: { EXITS: ['n', 's'] } });
  assert.deepEqual(
    [...payloadOf(frame)],
    [
      MSDP_VAR,
      ...text('ROOM'),
      MSDP_VAL,
      MSDP_TABLE_OPEN,
      MSDP_VAR,
      ...text('EXITS'),
      MSDP_VAL,
      MSDP_ARRAY_OPEN,
      MSDP_VAL,
      ...text('n'),
      MSDP_VAL,
      ...text('s'),
      MSDP_ARRAY_CLOSE,
      MSDP_TABLE_CLOSE,
    ],
  );
  assert.deepEqual(plain(parseMsdp(payloadOf(frame))), { ROOM: { EXITS: ['n', 's'] } });
});

test('text holding MSDP marker bytes, null and non-finite numbers are TypeErrors for the sender', () => {
  assert.throws(() => encodeMsdp({ NAME: 'a\x01b' }), TypeError);
  assert.throws(() => encodeMsdp({ 'A\x02': 'x' }), TypeError);
  assert.throws(() => encodeMsdp({ HP: Number.NaN }), TypeError);
  assert.throws(() => encodeMsdp({ HP: null as unknown as MsdpValue }), TypeError);
});

test('a VAR with several VALs is an array, as REPORT sends its names; a VAR without VAL is ""', () => {
  const payload = Uint8Array.from([
    MSDP_VAR,
    ...text('REPORT'),
    MSDP_VAL,
    ...text('HEALTH'),
    MSDP_VAL,
    ...text('MANA'),
    MSDP_VAR,
    ...text('EMPTY'),
  ]);
  const variables = parseMsdp(payload);
  assert.deepEqual(plain(variables), { REPORT: ['HEALTH', 'MANA'], EMPTY: '' });
  assert.deepEqual(msdpCommands(variables), [{ command: 'REPORT', names: ['HEALTH', 'MANA'] }]);
});

test('msdpCommands finds LIST, REPORT, RESET, SEND and UNREPORT, with one name or several', () => {
  assert.deepEqual(msdpCommands({ LIST: 'COMMANDS', SEND: ['HEALTH', 'ROOM'], UNREPORT: 'HEALTH', HEALTH: '5' }), [
    { command: 'LIST', names: ['COMMANDS'] },
    { command: 'SEND', names: ['HEALTH', 'ROOM'] },
    { command: 'UNREPORT', names: ['HEALTH'] },
  ]);
});

test('"__proto__" from a client is a plain variable, not a prototype', () => {
  const variables = parseMsdp(Uint8Array.from([MSDP_VAR, ...text('__proto__'), MSDP_VAL, ...text('x')]));
  assert.equal(Object.getPrototypeOf(variables), null);
  assert.equal(variables['__proto__'], 'x');
});

/** MSDP values as a client sends them back: text, arrays and tables (names unique, no marker bytes). */
const msdpText = fc.string({ maxLength: 12 }).filter((value) => !/[\x00-\x06]/.test(value));
const msdpValue: fc.Arbitrary<MsdpValue> = fc.letrec<{ value: MsdpValue }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3 },
    msdpText,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(msdpText, tie('value'), { maxKeys: 4 }),
  ),
})).value;

test('parseMsdp(encodeMsdp(x)) is x for text, arrays and tables', () => {
  fc.assert(
    fc.property(fc.dictionary(msdpText, msdpValue, { maxKeys: 5 }), (variables: MsdpVariables) => {
      assert.deepEqual(plain(parseMsdp(payloadOf(encodeMsdp(variables)))), plain(variables));
    }),
  );
});

test('parseMsdp never throws on arbitrary bytes, nor on tables nested past its depth limit', () => {
  const markers = fc.constantFrom(
    MSDP_VAR,
    MSDP_VAL,
    MSDP_TABLE_OPEN,
    MSDP_TABLE_CLOSE,
    MSDP_ARRAY_OPEN,
    MSDP_ARRAY_CLOSE,
  );
  fc.assert(
    fc.property(fc.array(fc.oneof(markers, fc.integer({ min: 0, max: 255 })), { maxLength: 300 }), (bytes) => {
      parseMsdp(Uint8Array.from(bytes));
    }),
  );
  const deep = [
    MSDP_VAR,
    ...text('X'),
    ...Array.from({ length: 5000 }, () => [MSDP_VAL, MSDP_TABLE_OPEN, MSDP_VAR, 65]).flat(),
  ];
  assert.doesNotThrow(() => parseMsdp(Uint8Array.from(deep)));
});

test('an MSDP frame cut anywhere decodes like the whole', () => {
  const whole = encodeMsdp({ ROOM: { NAME: 'Gate', EXITS: ['n', 's'] }, HEALTH: 7 });
  for (let cut = 1; cut < whole.length; cut++) {
    const decoder = new TelnetDecoder();
    const events = [...decoder.push(whole.subarray(0, cut)), ...decoder.push(whole.subarray(cut))];
    assert.equal(events.length, 1);
    const event = events[0]!;
    assert.ok(event.type === 'subnegotiation');
    assert.deepEqual(plain(parseMsdp(event.payload)), { ROOM: { NAME: 'Gate', EXITS: ['n', 's'] }, HEALTH: '7' });
  }
});
