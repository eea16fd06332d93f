// Tests of TERMINAL-TYPE helpers and the MTTS name cycle (RFC 1091, MTTS).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IAC, OPT_TTYPE, SB, SE, TTYPE_IS, TTYPE_SEND } from './constants.js';
import { MTTS, TerminalTypeCycle, parseMtts, parseTerminalType, requestTerminalType } from './terminal-type.js';

const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];

test('requestTerminalType builds IAC SB TTYPE SEND IAC SE', () => {
  assert.deepEqual([...requestTerminalType()], [IAC, SB, OPT_TTYPE, TTYPE_SEND, IAC, SE]);
});

test('parseTerminalType reads IS <name>', () => {
  assert.equal(parseTerminalType(Uint8Array.of(TTYPE_IS, ...ascii('XTERM-256COLOR'))), 'XTERM-256COLOR');
  assert.equal(parseTerminalType(Uint8Array.of(TTYPE_IS, ...ascii('MTTS 137'))), 'MTTS 137');
});

test('parseTerminalType rejects SEND, empty names and non-printable bytes', () => {
  assert.equal(parseTerminalType(Uint8Array.of()), undefined);
  assert.equal(parseTerminalType(Uint8Array.of(TTYPE_SEND)), undefined);
  assert.equal(parseTerminalType(Uint8Array.of(TTYPE_IS)), undefined);
  assert.equal(parseTerminalType(Uint8Array.of(TTYPE_IS, 0x41, 0)), undefined);
  assert.equal(parseTerminalType(Uint8Array.of(TTYPE_IS, 0xc3, 0xa9)), undefined);
});

test('parseMtts reads the bits of "MTTS <n>" only', () => {
  assert.equal(parseMtts('MTTS 137'), MTTS.ANSI | MTTS.COLORS_256 | MTTS.PROXY);
  assert.equal(parseMtts('mtts 0'), 0);
  assert.equal(parseMtts('MTTS'), undefined);
  assert.equal(parseMtts('MTTS x'), undefined);
  assert.equal(parseMtts('MTTS -1'), undefined);
  assert.equal(parseMtts('XTERM'), undefined);
});

test('a Mudlet-like cycle gives client name, terminal type and MTTS bits', () => {
  const cycle = new TerminalTypeCycle();
  assert.deepEqual(cycle.add('MUDLET'), { askAgain: true });
  assert.deepEqual(cycle.add('XTERM-256COLOR'), { askAgain: true });
  assert.deepEqual(cycle.add('MTTS 2825'), { askAgain: false });
  assert.equal(cycle.clientName, 'MUDLET');
  assert.equal(cycle.terminalType, 'XTERM-256COLOR');
  assert.equal(cycle.mtts, 2825);
  assert.equal((cycle.mtts ?? 0) & MTTS.COLORS_256, MTTS.COLORS_256);
  assert.deepEqual(cycle.names, ['MUDLET', 'XTERM-256COLOR', 'MTTS 2825']);
});

test('a netkit-telnet-like cycle stops when the name repeats', () => {
  const cycle = new TerminalTypeCycle();
  assert.deepEqual(cycle.add('XTERM'), { askAgain: true });
  assert.deepEqual(cycle.add('XTERM'), { askAgain: false });
  assert.deepEqual(cycle.names, ['XTERM']);
  assert.equal(cycle.terminalType, 'XTERM');
  assert.equal(cycle.clientName, 'XTERM');
  assert.equal(cycle.mtts, undefined);
});

test('a plain terminal listing several types keeps the first as terminal type', () => {
  const cycle = new TerminalTypeCycle();
  cycle.add('XTERM-256COLOR');
  cycle.add('XTERM');
  assert.deepEqual(cycle.add('XTERM'), { askAgain: false });
  assert.equal(cycle.terminalType, 'XTERM-256COLOR');
});

test('a client that starts the list over is done', () => {
  const cycle = new TerminalTypeCycle();
  cycle.add('TINTIN++');
  cycle.add('XTERM');
  assert.deepEqual(cycle.add('tintin++'), { askAgain: false });
  assert.equal(cycle.terminalType, 'XTERM');
});

test('a client name alone is also the terminal type', () => {
  const cycle = new TerminalTypeCycle();
  cycle.add('MUSHCLIENT');
  cycle.add('MUSHCLIENT');
  assert.equal(cycle.terminalType, 'MUSHCLIENT');
});

test('an endless distinct sequence is capped at 4 names', () => {
  const cycle = new TerminalTypeCycle();
  const answers = Array.from({ length: 10 }, (_, i) => cycle.add(`TYPE-${i}`).askAgain);
  assert.deepEqual(answers, [true, true, true, false, false, false, false, false, false, false]);
  assert.deepEqual(cycle.names, ['TYPE-0', 'TYPE-1', 'TYPE-2', 'TYPE-3']);
});

test('an empty cycle knows nothing', () => {
  const cycle = new TerminalTypeCycle();
  assert.equal(cycle.clientName, undefined);
  assert.equal(cycle.terminalType, undefined);
  assert.equal(cycle.mtts, undefined);
  assert.deepEqual(cycle.names, []);
});
