// Tests of OptionCounts: every option, side and outcome counted apart, listed by name.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { OPT_ECHO, OPT_NAWS, OPT_TTYPE } from '../telnet/constants.js';
import { OptionCounts } from './option-counts.js';

test('counts each option, side and outcome apart and lists them by option code', () => {
  const counts = new OptionCounts();
  assert.deepEqual(counts.list(), []);
  counts.count(OPT_TTYPE, 'remote', 'refused');
  counts.count(OPT_NAWS, 'remote', 'enabled');
  counts.count(OPT_NAWS, 'remote', 'enabled');
  counts.count(OPT_NAWS, 'remote', 'disabled');
  counts.count(OPT_ECHO, 'local', 'enabled');
  counts.count(OPT_ECHO, 'remote', 'refused');
  counts.count(200, 'local', 'refused');
  assert.deepEqual(counts.list(), [
    { option: 'ECHO', side: 'local', outcome: 'enabled', count: 1 },
    { option: 'ECHO', side: 'remote', outcome: 'refused', count: 1 },
    { option: 'TTYPE', side: 'remote', outcome: 'refused', count: 1 },
    { option: 'NAWS', side: 'remote', outcome: 'enabled', count: 2 },
    { option: 'NAWS', side: 'remote', outcome: 'disabled', count: 1 },
    { option: 'option 200', side: 'local', outcome: 'refused', count: 1 },
  ]);
});
