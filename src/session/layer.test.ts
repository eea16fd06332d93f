// Tests of toCrlf: every bare LF becomes CR LF, whatever text came before it (it keeps the last one it converted).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toCrlf } from './layer.js';

test('text without a line end is given back as it is', () => {
  assert.equal(toCrlf(''), '');
  assert.equal(toCrlf('> '), '> ');
});

test('one line ending in LF, or already in CR LF', () => {
  assert.equal(toCrlf('hello\n'), 'hello\r\n');
  assert.equal(toCrlf('hello\r\n'), 'hello\r\n');
  assert.equal(toCrlf('\n'), '\r\n');
});

test('text of several lines, bare LFs among CR LFs', () => {
  assert.equal(toCrlf('a\nb\nc'), 'a\r\nb\r\nc');
  assert.equal(toCrlf('a\r\nb\nc\n'), 'a\r\nb\r\nc\r\n');
  assert.equal(toCrlf('\n\n'), '\r\n\r\n');
});

test('the same text again, and other texts between, each converted as its own', () => {
  const welcome = 'Welcome!\nType help.\n';
  const menu = '1. Play\n2. Quit\n';
  for (let i = 0; i < 3; i++) {
    assert.equal(toCrlf(welcome), 'Welcome!\r\nType help.\r\n');
    assert.equal(toCrlf(menu), '1. Play\r\n2. Quit\r\n');
  }
  // Equal text in another string object is the same text.
  assert.equal(toCrlf(['Welcome!', 'Type help.', ''].join('\n')), 'Welcome!\r\nType help.\r\n');
});

test('a large text is converted whole, and the next one is not given its result', () => {
  const large = 'line\n'.repeat(10_000);
  assert.equal(toCrlf(large), 'line\r\n'.repeat(10_000));
  assert.equal(toCrlf(large), 'line\r\n'.repeat(10_000));
  assert.equal(toCrlf('x\ny\n'), 'x\r\ny\r\n');
  assert.equal(toCrlf(large.slice(0, -1)), `${'line\r\n'.repeat(9_999)}line`);
});
