// Tests of the telnet encoders (RFC 854, 855): NVT newlines, IAC escaping, frames.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AYT, CR, DO, IAC, LF, NUL, OPT_ECHO, OPT_NAWS, SB, SE, WILL } from './constants.js';
import { command, encodeText, escapeIac, negotiate, nvtText, subnegotiation } from './encoder.js';

const bytesOf = (buffer: Uint8Array): number[] => [...buffer];

test('escapeIac returns the very input when it holds no IAC', () => {
  const input = Buffer.from('plain text');
  assert.equal(escapeIac(input), input);
  const empty = new Uint8Array(0);
  assert.equal(escapeIac(empty), empty);
});

test('escapeIac doubles every IAC, at the edges and in runs', () => {
  assert.deepEqual(bytesOf(escapeIac(Uint8Array.of(IAC))), [IAC, IAC]);
  const escaped = [1, IAC, IAC, 2, IAC, IAC, IAC, IAC, 3, IAC, IAC];
  assert.deepEqual(bytesOf(escapeIac(Uint8Array.of(1, IAC, 2, IAC, IAC, 3, IAC))), escaped);
});

test('escapeIac respects the view of a subarray', () => {
  const backing = Uint8Array.of(IAC, 7, IAC, 8, IAC);
  assert.deepEqual(bytesOf(escapeIac(backing.subarray(1, 4))), [7, IAC, IAC, 8]);
});

test('property: escapeIac output without doubled IACs is the input', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (input) => {
      const out = bytesOf(escapeIac(input));
      const undone: number[] = [];
      for (let i = 0; i < out.length; i++) {
        undone.push(out[i]!);
        if (out[i] === IAC) {
          assert.equal(out[i + 1], IAC);
          i++;
        }
      }
      assert.deepEqual(undone, bytesOf(input));
    }),
  );
});

test('encodeText turns a lone LF into CR LF and keeps CR LF', () => {
  assert.deepEqual(bytesOf(encodeText('a\nb\r\nc')), [0x61, CR, LF, 0x62, CR, LF, 0x63]);
});

test('encodeText turns a lone CR into CR NUL', () => {
  assert.deepEqual(bytesOf(encodeText('a\rb')), [0x61, CR, NUL, 0x62]);
  assert.deepEqual(bytesOf(encodeText('\r')), [CR, NUL]);
  assert.deepEqual(bytesOf(encodeText('\r\r\n\n')), [CR, NUL, CR, LF, CR, LF]);
});

test('encodeText writes UTF-8 and its fast path matches plain encoding', () => {
  const text = 'héllo wörld ✓ \u{1F600}';
  assert.deepEqual(encodeText(text), Buffer.from(text, 'utf8'));
  assert.ok(Buffer.isBuffer(encodeText(text)));
  assert.ok(Buffer.isBuffer(encodeText('line\n')));
});

test('nvtText written as UTF-8 is encodeText, whatever the text', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
      assert.deepEqual(Buffer.from(nvtText(text), 'utf8'), encodeText(text));
    }),
  );
  assert.equal(nvtText('a\rb\n'), 'a\r\0b\r\n');
});

test('nvtText ends lines as RFC 854 says, however they fall', () => {
  const piece = fc.constantFrom('a', 'é', '\r', '\n', '\r\n');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
      const text = pieces.join('');
      const expected = text.replace(/\r\n|\r|\n/g, (end) => (end === '\r' ? '\r\0' : '\r\n'));
      assert.equal(nvtText(text), expected);
    }),
  );
});

test('encodeText output never holds a lone IAC', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
      const out = encodeText(text);
      for (let i = 0; i < out.length; i++) {
        if (out[i] === IAC) assert.equal(out[++i], IAC);
      }
    }),
  );
});

test('property: every CR in encodeText output is followed by LF or NUL', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', '\r', '\n', 'é', '\0'), { maxLength: 30 }), (parts) => {
      const out = encodeText(parts.join(''));
      for (let i = 0; i < out.length; i++) {
        if (out[i] === CR) assert.ok(out[i + 1] === LF || out[i + 1] === NUL);
        if (out[i] === LF) assert.equal(out[i - 1], CR);
      }
    }),
  );
});

test('negotiate builds IAC verb option', () => {
  assert.deepEqual(bytesOf(negotiate(WILL, OPT_ECHO)), [IAC, WILL, OPT_ECHO]);
  assert.deepEqual(bytesOf(negotiate(DO, OPT_NAWS)), [IAC, DO, OPT_NAWS]);
});

test('command builds IAC cmd', () => {
  assert.deepEqual(bytesOf(command(AYT)), [IAC, AYT]);
});

test('subnegotiation frames the payload and escapes IAC in it', () => {
  assert.deepEqual(bytesOf(subnegotiation(OPT_NAWS, [0, 80, 0, 24])), [IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE]);
  const framed = [IAC, SB, OPT_NAWS, 0, IAC, IAC, 0, 24, IAC, SE];
  assert.deepEqual(bytesOf(subnegotiation(OPT_NAWS, Uint8Array.of(0, IAC, 0, 24))), framed);
  assert.deepEqual(bytesOf(subnegotiation(OPT_ECHO, [])), [IAC, SB, OPT_ECHO, IAC, SE]);
});
