// Tests of MUD client recognition by terminal-type name (MTTS).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMudClient } from './mud-client.js';

test('isMudClient knows the clients that read WILL ECHO as password mode, in any case', () => {
  const names = [
    'MUDLET',
    'Mudlet 4.17.2',
    'TINTIN++',
    'MUSHCLIENT',
    'zMUD',
    'CMUD',
    'MUDRAMMER',
    'BlowTorch',
    'ATLANTIS',
    'POTATO',
    'KBTIN',
    'AXMUD',
    'MudMaster',
    'mudmaster2k6',
  ];
  for (const name of names) assert.equal(isMudClient(name), true, name);
});

test('isMudClient is false for terminals and look-alikes', () => {
  for (const name of ['XTERM', 'xterm-256color', 'VT100', 'ANSI', 'PuTTY', '', 'MUDLETTER', 'TINTIN', 'not mudlet']) {
    assert.equal(isMudClient(name), false, name);
  }
});
