// Tests of CHARSET subnegotiation helpers (RFC 2066).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHARSET_ACCEPTED, CHARSET_REJECTED, CHARSET_REQUEST, IAC, OPT_CHARSET, SB, SE } from './constants.js';
import { acceptCharset, parseCharsetReply, rejectCharset, requestCharset } from './charset.js';

const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];

test('requestCharset lists names after a ";" separator', () => {
  assert.deepEqual(
    [...requestCharset(['UTF-8'])],
    [IAC, SB, OPT_CHARSET, CHARSET_REQUEST, ...ascii(';UTF-8'), IAC, SE],
  );
  assert.deepEqual([...requestCharset(['UTF-8', 'ISO-8859-1'])].slice(4, -2), ascii(';UTF-8;ISO-8859-1'));
});

test('acceptCharset and rejectCharset build our answers', () => {
  assert.deepEqual([...acceptCharset('UTF-8')], [IAC, SB, OPT_CHARSET, CHARSET_ACCEPTED, ...ascii('UTF-8'), IAC, SE]);
  assert.deepEqual([...rejectCharset()], [IAC, SB, OPT_CHARSET, CHARSET_REJECTED, IAC, SE]);
});

test('parseCharsetReply reads ACCEPTED and REJECTED', () => {
  assert.deepEqual(parseCharsetReply(Uint8Array.of(CHARSET_ACCEPTED, ...ascii('UTF-8'))), { accepted: 'UTF-8' });
  assert.deepEqual(parseCharsetReply(Uint8Array.of(CHARSET_REJECTED)), { rejected: true });
});

test('parseCharsetReply reads a client REQUEST with any separator', () => {
  assert.deepEqual(parseCharsetReply(Uint8Array.of(CHARSET_REQUEST, ...ascii(';UTF-8;US-ASCII'))), {
    request: ['UTF-8', 'US-ASCII'],
  });
  assert.deepEqual(parseCharsetReply(Uint8Array.of(CHARSET_REQUEST, ...ascii(' UTF-8 latin1'))), {
    request: ['UTF-8', 'latin1'],
  });
});

test('parseCharsetReply skips a [TTABLE] version prefix', () => {
  assert.deepEqual(parseCharsetReply(Uint8Array.of(CHARSET_REQUEST, ...ascii('[TTABLE]'), 1, ...ascii(';UTF-8'))), {
    request: ['UTF-8'],
  });
});

test('parseCharsetReply rejects malformed and TTABLE payloads', () => {
  assert.equal(parseCharsetReply(Uint8Array.of()), undefined);
  assert.equal(parseCharsetReply(Uint8Array.of(CHARSET_ACCEPTED)), undefined);
  assert.equal(parseCharsetReply(Uint8Array.of(CHARSET_REQUEST)), undefined);
  assert.equal(parseCharsetReply(Uint8Array.of(CHARSET_REQUEST, ...ascii(';'))), undefined);
  assert.equal(parseCharsetReply(Uint8Array.of(4, 1)), undefined);
});
