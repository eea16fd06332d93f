// Tests of NEW-ENVIRON subnegotiation helpers (RFC 1572).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ENV_ESC,
  ENV_INFO,
  ENV_IS,
  ENV_SEND,
  ENV_USERVAR,
  ENV_VALUE,
  ENV_VAR,
  IAC,
  OPT_NEW_ENVIRON,
  SB,
  SE,
} from './constants.js';
import { isWindowsTelnet, parseEnvironment, requestEnvironment } from './environ.js';

const ascii = (text: string): number[] => [...Buffer.from(text, 'utf8')];
const parsed = (...payload: number[]): unknown => {
  const report = parseEnvironment(Uint8Array.from(payload));
  return report && { kind: report.kind, vars: { ...report.vars } };
};

test('requestEnvironment asks for variables by name, then for any others (a bare VAR and USERVAR)', () => {
  const frame = [...requestEnvironment()];
  assert.deepEqual(frame.slice(0, 4), [IAC, SB, OPT_NEW_ENVIRON, ENV_SEND]);
  assert.deepEqual(frame.slice(4, 9), [ENV_VAR, ...ascii('USER')]);
  assert.deepEqual(frame.slice(-4), [ENV_VAR, ENV_USERVAR, IAC, SE]);
  const names = Buffer.from(frame.slice(4, -4))
    .toString('latin1')
    .split(/[\x00\x03]/)
    .filter((name) => name !== '');
  assert.deepEqual(names, ['USER', 'DISPLAY', 'SYSTEMTYPE', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TERM', 'COLORTERM']);
});

test('requestEnvironment(false) leaves USER out, for Windows telnet', () => {
  const frame = Buffer.from(requestEnvironment(false));
  assert.equal(frame.includes('USER'), false);
  assert.ok(frame.includes('DISPLAY'));
});

test('isWindowsTelnet: ANSI then VT100; undecided after ANSI alone; anything else is not', () => {
  assert.equal(isWindowsTelnet(['ANSI', 'VT100']), true);
  assert.equal(isWindowsTelnet(['ansi']), undefined);
  assert.equal(isWindowsTelnet(['ANSI', 'ANSI']), false);
  assert.equal(isWindowsTelnet(['XTERM']), false);
  assert.equal(isWindowsTelnet([]), false);
});

test('parseEnvironment reads VAR and USERVAR with their values', () => {
  const payload = [
    ENV_IS,
    ENV_VAR,
    ...ascii('USER'),
    ENV_VALUE,
    ...ascii('alice'),
    ENV_USERVAR,
    ...ascii('CLIENT_NAME'),
    ENV_VALUE,
    ...ascii('Mudlet'),
  ];
  assert.deepEqual(parsed(...payload), { kind: 'is', vars: { USER: 'alice', CLIENT_NAME: 'Mudlet' } });
});

test('parseEnvironment reads INFO updates', () => {
  assert.deepEqual(parsed(ENV_INFO, ENV_VAR, ...ascii('LANG'), ENV_VALUE, ...ascii('en_US.UTF-8')), {
    kind: 'info',
    vars: { LANG: 'en_US.UTF-8' },
  });
});

test('parseEnvironment keeps empty values and leaves out variables without VALUE', () => {
  assert.deepEqual(parsed(ENV_IS, ENV_VAR, ...ascii('EMPTY'), ENV_VALUE, ENV_VAR, ...ascii('UNSET')), {
    kind: 'is',
    vars: { EMPTY: '' },
  });
  assert.deepEqual(parsed(ENV_IS), { kind: 'is', vars: {} });
});

test('parseEnvironment unquotes ESC in names and values', () => {
  const payload = [
    ENV_IS,
    ENV_USERVAR,
    ...ascii('A'),
    ENV_ESC,
    ENV_VAR,
    ENV_VALUE,
    ...ascii('x'),
    ENV_ESC,
    ENV_VALUE,
    ENV_ESC,
    ENV_ESC,
  ];
  const report = parseEnvironment(Uint8Array.from(payload));
  assert.deepEqual({ ...report?.vars }, { 'A\u0000': 'x\u0001\u0002' });
});

test('parseEnvironment decodes UTF-8 values', () => {
  assert.deepEqual(parsed(ENV_IS, ENV_USERVAR, ...ascii('NAME'), ENV_VALUE, ...ascii('Zoë')), {
    kind: 'is',
    vars: { NAME: 'Zoë' },
  });
});

test('parseEnvironment treats "__proto__" as an ordinary name', () => {
  const report = parseEnvironment(Uint8Array.of(ENV_IS, ENV_VAR, ...ascii('__proto__'), ENV_VALUE, ...ascii('x')));
  assert.equal(Object.keys(report?.vars ?? {}).length, 1);
  assert.equal(report?.vars['__proto__'], 'x');
});

test('parseEnvironment rejects malformed payloads', () => {
  assert.equal(parseEnvironment(Uint8Array.of()), undefined);
  assert.equal(parseEnvironment(Uint8Array.of(ENV_SEND, ENV_VAR)), undefined);
  assert.equal(parseEnvironment(Uint8Array.of(ENV_IS, ...ascii('USER'))), undefined);
  assert.equal(parseEnvironment(Uint8Array.of(ENV_IS, ENV_VALUE, ...ascii('x'))), undefined);
  assert.equal(parseEnvironment(Uint8Array.of(ENV_IS, ENV_VAR, 65, ENV_VALUE, 66, ENV_VALUE, 67)), undefined);
  assert.equal(parseEnvironment(Uint8Array.of(ENV_IS, ENV_VAR, 65, ENV_ESC)), undefined);
});
