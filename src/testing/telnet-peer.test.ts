// TelnetPeer: the test client's side of negotiation, bytes in, replies out.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DO,
  DONT,
  IAC,
  OPT_ECHO,
  OPT_LINEMODE,
  OPT_NAWS,
  OPT_SGA,
  OPT_TTYPE,
  SB,
  SE,
  TTYPE_IS,
  TTYPE_SEND,
  WILL,
  WONT,
} from '../telnet/constants.js';
import { TelnetPeer } from './telnet-peer.js';

const terminal = (): TelnetPeer => new TelnetPeer({ style: 'terminal', cols: 300, rows: 24, terminalType: 'VT220' });
const replies = (peer: TelnetPeer, ...bytes: number[]): number[] =>
  peer.receive(Uint8Array.from(bytes)).replies.flatMap((reply) => [...reply]);

test('a terminal answers DO NAWS with WILL and its size, 16 bits a side, an IAC byte doubled', () => {
  const peer = new TelnetPeer({ style: 'terminal', cols: 255, rows: 24, terminalType: 'VT220' });
  assert.deepEqual(replies(peer, IAC, DO, OPT_NAWS), [
    IAC,
    WILL,
    OPT_NAWS,
    IAC,
    SB,
    OPT_NAWS,
    0,
    255,
    255,
    0,
    24,
    IAC,
    SE,
  ]);
});

test('a terminal gives its type on every TTYPE SEND once it agreed to TTYPE', () => {
  const peer = terminal();
  const send = [IAC, SB, OPT_TTYPE, TTYPE_SEND, IAC, SE];
  assert.deepEqual(replies(peer, ...send), [], 'not before DO TTYPE');
  assert.deepEqual(replies(peer, IAC, DO, OPT_TTYPE), [IAC, WILL, OPT_TTYPE]);
  const is = [IAC, SB, OPT_TTYPE, TTYPE_IS, ...Buffer.from('VT220'), IAC, SE];
  assert.deepEqual(replies(peer, ...send), is);
  assert.deepEqual(replies(peer, ...send), is);
});

test('a terminal lets the server echo and suppress go-ahead, and acknowledges only changes', () => {
  const peer = terminal();
  assert.deepEqual(replies(peer, IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA), [IAC, DO, OPT_ECHO, IAC, DO, OPT_SGA]);
  assert.deepEqual([...peer.serverOptions], [OPT_ECHO, OPT_SGA]);
  assert.deepEqual(replies(peer, IAC, WILL, OPT_ECHO), [], 'a second WILL ECHO gets no reply');
  assert.deepEqual(replies(peer, IAC, WONT, OPT_ECHO), [IAC, DONT, OPT_ECHO]);
  assert.deepEqual(replies(peer, IAC, WONT, OPT_ECHO), []);
  assert.deepEqual([...peer.serverOptions], [OPT_SGA]);
  assert.deepEqual(replies(peer, IAC, DO, OPT_LINEMODE), [IAC, WONT, OPT_LINEMODE]);
});

test('a refusing client says no to every option and reports nothing', () => {
  const peer = new TelnetPeer({ style: 'refuse', cols: 80, rows: 24, terminalType: 'VT220' });
  assert.deepEqual(replies(peer, IAC, DO, OPT_NAWS, IAC, WILL, OPT_ECHO), [IAC, WONT, OPT_NAWS, IAC, DONT, OPT_ECHO]);
  assert.equal(peer.serverOptions.size, 0);
  assert.equal(peer.resize(100, 30), undefined);
});

test('text around negotiation passes through as data, a sequence cut between chunks included', () => {
  const peer = terminal();
  const first = peer.receive(Uint8Array.of(0x68, 0x69, IAC));
  const second = peer.receive(Uint8Array.of(WILL, OPT_ECHO, 0x21));
  assert.deepEqual(Buffer.concat([...first.data, ...second.data]).toString(), 'hi!');
  assert.deepEqual(
    [...first.replies, ...second.replies].flatMap((reply) => [...reply]),
    [IAC, DO, OPT_ECHO],
  );
});

test('a resize after DO NAWS is reported at once', () => {
  const peer = terminal();
  replies(peer, IAC, DO, OPT_NAWS);
  assert.deepEqual([...peer.resize(100, 30)!], [IAC, SB, OPT_NAWS, 0, 100, 0, 30, IAC, SE]);
});
