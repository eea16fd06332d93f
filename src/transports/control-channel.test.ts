// Tests of the control channel's messages: what a client may send, and what is ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  TELNET_CONTROL_SUBPROTOCOL,
  TEXT_CONTROL_SUBPROTOCOL,
  controlMessageType,
  encodeControl,
  parseControl,
} from './control-channel.js';

test('control travels in the message type the subprotocol leaves free', () => {
  assert.equal(controlMessageType(TEXT_CONTROL_SUBPROTOCOL), 'binary');
  assert.equal(controlMessageType(TELNET_CONTROL_SUBPROTOCOL), 'text');
  assert.equal(controlMessageType('plain.mudstandards.org'), undefined);
  assert.equal(controlMessageType(''), undefined);
});

test('a size message gives the window size', () => {
  assert.deepEqual(parseControl('{"type":"size","cols":120,"rows":40}'), { cols: 120, rows: 40 });
});

test('sizes that are not whole numbers from 1 to 65535 are ignored', () => {
  for (const [cols, rows] of [
    [0, 24],
    [80, -1],
    [80.5, 24],
    ['80', 24],
    [65536, 24],
  ]) {
    assert.equal(parseControl(JSON.stringify({ type: 'size', cols, rows })), undefined, `${cols}x${rows}`);
  }
});

test('unknown types, other JSON and text that is not JSON are ignored', () => {
  for (const text of ['{"type":"hello"}', '[1,2]', 'null', '42', 'size 80 24', '{"type":"size"']) {
    assert.equal(parseControl(text), undefined, text);
  }
});

test('server messages are one JSON object each', () => {
  assert.equal(encodeControl({ type: 'input', hidden: true }), '{"type":"input","hidden":true}');
});
