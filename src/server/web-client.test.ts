import assert from 'node:assert/strict';
import { test } from 'node:test';

import { titleFromWelcome } from './web-client.js';

test('the default title is the welcome message without its closing punctuation', () => {
  assert.equal(titleFromWelcome('Welcome to the Echo Server!'), 'Welcome to the Echo Server');
  assert.equal(titleFromWelcome('The Dungeon'), 'The Dungeon');
});

test('the default title is the first line that has words, without colours or rules', () => {
  assert.equal(titleFromWelcome('\x1b[1;32m====\x1b[0m\r\n\x1b[1mAda MUD\x1b[0m: welcome.\r\n---'), 'Ada MUD: welcome');
});

test('a long welcome is cut at a word to fit a tab', () => {
  const title = titleFromWelcome('Welcome to the Northern Lights chat server, where everyone meets!');
  assert.equal(title, 'Welcome to the Northern Lights chat…');
});

test('no welcome, or one with no words, gives no default title', () => {
  assert.equal(titleFromWelcome(undefined), undefined);
  assert.equal(titleFromWelcome('-----\n*****'), undefined);
});
