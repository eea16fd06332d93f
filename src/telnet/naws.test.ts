// Tests of NAWS payload parsing (RFC 1073).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNaws } from './naws.js';

test('parseNaws reads big-endian width and height', () => {
  assert.deepEqual(parseNaws(Uint8Array.of(0, 80, 0, 24)), { cols: 80, rows: 24 });
  assert.deepEqual(parseNaws(Uint8Array.of(1, 44, 0, 255)), { cols: 300, rows: 255 });
  assert.deepEqual(parseNaws(Uint8Array.of(255, 255, 255, 255)), { cols: 65535, rows: 65535 });
});

test('parseNaws keeps 0, which means the client does not know', () => {
  assert.deepEqual(parseNaws(Uint8Array.of(0, 0, 0, 24)), { cols: 0, rows: 24 });
});

test('parseNaws rejects payloads that are not exactly 4 bytes', () => {
  assert.equal(parseNaws(Uint8Array.of()), undefined);
  assert.equal(parseNaws(Uint8Array.of(0, 80, 0)), undefined);
  assert.equal(parseNaws(Uint8Array.of(0, 80, 0, 24, 0)), undefined);
});
