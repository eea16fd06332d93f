// Tests of the MSSP codec (telnet option 70) and its plain-text reply.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { IAC, MSSP_VAL, MSSP_VAR, OPT_MSSP, SB, SE } from './constants.js';
import { encodeMssp, msspPlainText, parseMssp } from './mssp.js';

const text = (value: string): number[] => [...Buffer.from(value, 'utf8')];
const payloadOf = (frame: Uint8Array): Uint8Array => frame.subarray(3, frame.length - 2);

test('encodeMssp writes VAR name VAL value, a VAL per item of a list', () => {
  assert.deepEqual(
    [...encodeMssp({ NAME: 'Tiny', PORT: [4000, 4001], MCCP: true })],
    [
      IAC,
      SB,
      OPT_MSSP,
      MSSP_VAR,
      ...text('NAME'),
      MSSP_VAL,
      ...text('Tiny'),
      MSSP_VAR,
      ...text('PORT'),
      MSSP_VAL,
      ...text('4000'),
      MSSP_VAL,
      ...text('4001'),
      MSSP_VAR,
      ...text('MCCP'),
      MSSP_VAL,
      ...text('1'),
      IAC,
      SE,
    ],
  );
});

test('text holding MSSP marker bytes is a TypeError', () => {
  assert.throws(() => encodeMssp({ NAME: 'a\x01' }), TypeError);
});

test('the plain-text reply lists a variable per line, values after tabs, between the start and end markers', () => {
  assert.equal(
    msspPlainText({ NAME: 'Tiny MUD', PORT: [4000, 4001], PLAYERS: 3 }),
    '\r\nMSSP-REPLY-START\r\nNAME\tTiny MUD\r\nPORT\t4000\t4001\r\nPLAYERS\t3\r\nMSSP-REPLY-END\r\n',
  );
});

test('parseMssp(encodeMssp(x)) gives every variable its values as text', () => {
  const value = fc.string({ maxLength: 10 }).filter((item) => !/[\x00-\x02]/.test(item));
  const name = value.filter((item) => item !== '');
  fc.assert(
    fc.property(fc.dictionary(name, fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 }))), (variables) => {
      const expected = Object.fromEntries(
        Object.entries(variables).map(([key, item]) => [key, Array.isArray(item) ? item : [item]]),
      );
      assert.deepEqual({ ...parseMssp(payloadOf(encodeMssp(variables))) }, expected);
    }),
  );
});

test('parseMssp never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      parseMssp(bytes);
    }),
  );
});
