// Tests of KeyReader: bytes in, text runs and keys out, whatever the chunking.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KeyReader, readWholeLines } from './key-reader.js';
import type { InputToken, KeyName } from './key-reader.js';

const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

function key(name: KeyName, sequence: string): InputToken {
  return { type: 'key', name, sequence };
}

function text(value: string): InputToken {
  return { type: 'text', text: value };
}

/** Reads the chunks in order, then flushes, as a session does once input goes quiet. */
function readAll(chunks: Uint8Array[]): InputToken[] {
  const reader = new KeyReader();
  return [...chunks.flatMap((chunk) => reader.push(chunk)), ...reader.flush()];
}

/** Joins adjacent text tokens, since text may be cut wherever a push ends. */
function mergeText(tokens: InputToken[]): InputToken[] {
  const merged: InputToken[] = [];
  for (const token of tokens) {
    const last = merged[merged.length - 1];
    if (token.type === 'text' && last?.type === 'text') {
      merged[merged.length - 1] = text(last.text + token.text);
    } else {
      merged.push(token);
    }
  }
  return merged;
}

function splitAt(whole: Uint8Array, cut: number): Uint8Array[] {
  return [whole.subarray(0, cut), whole.subarray(cut)];
}

test('a run of printable characters is one text token', () => {
  assert.deepEqual(new KeyReader().push(bytes('hello, world')), [text('hello, world')]);
});

test('CR LF, CR NUL, bare CR and bare LF each give one enter', () => {
  for (const [input, sequence] of [
    ['a\r\nb', '\r'],
    ['a\r\0b', '\r'],
    ['a\rb', '\r'],
    ['a\nb', '\n'],
  ] as const) {
    assert.deepEqual(
      new KeyReader().push(bytes(input)),
      [text('a'), key('enter', sequence), text('b')],
      JSON.stringify(input),
    );
  }
});

test('CR at the end of one push and LF or NUL at the start of the next is one enter', () => {
  for (const after of ['\n', '\0']) {
    const reader = new KeyReader();
    assert.deepEqual(reader.push(bytes('ls\r')), [text('ls'), key('enter', '\r')]);
    assert.deepEqual(reader.push(bytes(`${after}pwd`)), [text('pwd')]);
  }
});

test('a CR LF cut by a flush is still one enter', () => {
  const reader = new KeyReader();
  reader.push(bytes('\r'));
  assert.deepEqual(reader.flush(), []);
  assert.deepEqual(reader.push(bytes('\n')), []);
});

test('CR CR is two enters, and only the byte right after a CR is swallowed', () => {
  assert.deepEqual(new KeyReader().push(bytes('\r\r\n\n')), [
    key('enter', '\r'),
    key('enter', '\r'),
    key('enter', '\n'),
  ]);
});

test('a NUL that does not follow a CR is ignored', () => {
  assert.deepEqual(new KeyReader().push(bytes('a\0b\0')), [text('a'), text('b')]);
});

test('multi-byte characters split at every byte boundary decode whole', () => {
  for (const input of ['é', '中', '😀', 'aé中😀z']) {
    const whole = bytes(input);
    for (let cut = 1; cut < whole.length; cut++) {
      assert.deepEqual(mergeText(readAll(splitAt(whole, cut))), [text(input)], `${input} cut at ${cut}`);
    }
  }
});

test('multi-byte characters fed one byte at a time decode whole', () => {
  const whole = bytes('é中😀');
  const reader = new KeyReader();
  const tokens = [...whole].flatMap((byte) => reader.push(Uint8Array.of(byte)));
  assert.deepEqual(mergeText(tokens), [text('é中😀')]);
});

test('a character cut off by ASCII reads as U+FFFD before it, however the bytes are pushed', () => {
  const whole = Uint8Array.of(0x61, 0xe4, 0xb8, 0x62, 0x63);
  for (let cut = 1; cut < whole.length; cut++) {
    assert.deepEqual(mergeText(readAll(splitAt(whole, cut))), [text('a\ufffdbc')], `cut at ${cut}`);
  }
});

test('ASCII after a whole multi-byte character reads as before it', () => {
  const reader = new KeyReader();
  assert.deepEqual(reader.push(bytes('né')), [text('né')]);
  assert.deepEqual(reader.push(bytes('e\r')), [text('e'), key('enter', '\r')]);
  assert.deepEqual(reader.push(bytes('\n\x1b[A')), [key('up', '\x1b[A')]);
});

test('a long paste of non-ASCII text reads as UTF-8, whole or in two pieces', () => {
  const paste = 'héllo 中文 😀 '.repeat(20);
  const whole = bytes(`${paste}\r`);
  assert.deepEqual(new KeyReader().push(whole), [text(paste), key('enter', '\r')]);
  for (const cut of [1, 64, 65, 100, whole.length - 2]) {
    assert.deepEqual(mergeText(readAll(splitAt(whole, cut))), [text(paste), key('enter', '\r')], `cut at ${cut}`);
  }
});

test('push appends to the array it is given and returns it', () => {
  const tokens: InputToken[] = [text('before')];
  assert.equal(new KeyReader().push(bytes('a\r'), tokens), tokens);
  assert.deepEqual(tokens, [text('before'), text('a'), key('enter', '\r')]);
});

test('a long ASCII paste with controls reads like the same text in one-byte pushes', () => {
  const paste = `${'word '.repeat(40)}\tx\x7f\r\n`.repeat(20);
  const whole = new KeyReader().push(bytes(paste));
  const reader = new KeyReader();
  const byByte = [...bytes(paste)].flatMap((byte) => reader.push(Uint8Array.of(byte)));
  assert.deepEqual(mergeText(byByte), mergeText(whole));
  assert.equal(whole.filter((token) => token.type === 'key' && token.name === 'enter').length, 20);
});

test('invalid UTF-8 becomes U+FFFD and does not throw', () => {
  assert.deepEqual(new KeyReader().push(Uint8Array.of(0x61, 0xff, 0xc3, 0x62)), [text('a\ufffd\ufffdb')]);
});

test('backspace, DEL and the C0 controls map to their keys', () => {
  assert.deepEqual(new KeyReader().push(bytes('\x08\x7f\t\x03\x04\x15\x17\x0c\x01')), [
    key('backspace', '\x08'),
    key('backspace', '\x7f'),
    key('tab', '\t'),
    key('interrupt', '\x03'),
    key('eof', '\x04'),
    key('kill-line', '\x15'),
    key('kill-word', '\x17'),
    key('clear-screen', '\x0c'),
    key('control', '\x01'),
  ]);
});

const NAMED_SEQUENCES: [string, KeyName][] = [
  ['\x1b[A', 'up'],
  ['\x1b[B', 'down'],
  ['\x1b[C', 'right'],
  ['\x1b[D', 'left'],
  ['\x1bOA', 'up'],
  ['\x1bOB', 'down'],
  ['\x1bOC', 'right'],
  ['\x1bOD', 'left'],
  ['\x1b[H', 'home'],
  ['\x1b[1~', 'home'],
  ['\x1b[7~', 'home'],
  ['\x1bOH', 'home'],
  ['\x1b[F', 'end'],
  ['\x1b[4~', 'end'],
  ['\x1b[8~', 'end'],
  ['\x1bOF', 'end'],
  ['\x1b[5~', 'page-up'],
  ['\x1b[6~', 'page-down'],
  ['\x1b[2~', 'insert'],
  ['\x1b[3~', 'delete'],
  ['\x1b[1;5C', 'right'],
  ['\x1b[1;2A', 'up'],
  ['\x1b[3;5~', 'delete'],
];

test('escape sequences map to their keys', () => {
  for (const [sequence, name] of NAMED_SEQUENCES) {
    assert.deepEqual(
      new KeyReader().push(bytes(`a${sequence}b`)),
      [text('a'), key(name, sequence), text('b')],
      JSON.stringify(sequence),
    );
  }
});

test('escape sequences split at every byte read like the whole', () => {
  for (const [sequence, name] of NAMED_SEQUENCES) {
    const whole = bytes(`x${sequence}y`);
    for (let cut = 1; cut < whole.length; cut++) {
      const reader = new KeyReader();
      const tokens = [...reader.push(whole.subarray(0, cut)), ...reader.push(whole.subarray(cut))];
      assert.deepEqual(
        tokens,
        [text('x'), key(name, sequence), text('y')],
        `${JSON.stringify(sequence)} cut at ${cut}`,
      );
    }
  }
});

test('unmapped sequences are unknown keys and never appear in text', () => {
  for (const sequence of ['\x1b[Z', '\x1b[?1;2c', '\x1b[15~', '\x1bOP', '\x1b[[A', '\x1b[200~', '\x1bx', '\x1b中']) {
    assert.deepEqual(
      new KeyReader().push(bytes(`a${sequence}b`)),
      [text('a'), key('unknown', sequence), text('b')],
      JSON.stringify(sequence),
    );
  }
});

test('a sequence broken by a control is unknown and the control still counts', () => {
  assert.deepEqual(new KeyReader().push(bytes('\x1b[1\r\n')), [key('unknown', '\x1b[1'), key('enter', '\r')]);
});

test('ESC before a control or another ESC is the Escape key', () => {
  assert.deepEqual(new KeyReader().push(bytes('\x1b\r\x1b\x1b[A')), [
    key('escape', '\x1b'),
    key('enter', '\r'),
    key('escape', '\x1b'),
    key('up', '\x1b[A'),
  ]);
});

test('an overlong sequence becomes one unknown key and its rest is dropped', () => {
  const params = '1;'.repeat(40);
  const tokens = new KeyReader().push(bytes(`a\x1b[${params}mb`));
  assert.equal(tokens.length, 3);
  assert.deepEqual(tokens[0], text('a'));
  assert.equal(tokens[1]?.type === 'key' && tokens[1].name, 'unknown');
  assert.equal(tokens[1]?.type === 'key' && tokens[1].sequence.length, 32);
  assert.deepEqual(tokens[2], text('b'));
});

test('an overlong sequence fed a byte at a time is capped the same way', () => {
  const reader = new KeyReader();
  const tokens = [...bytes(`\x1b[${'9'.repeat(1000)}`)].flatMap((byte) => reader.push(Uint8Array.of(byte)));
  assert.deepEqual(tokens, [key('unknown', `\x1b[${'9'.repeat(30)}`)]);
  assert.deepEqual(reader.push(bytes('~ok')), [text('ok')]);
});

test('a lone ESC waits, then flush gives the Escape key', () => {
  const reader = new KeyReader();
  assert.deepEqual(reader.push(bytes('\x1b')), []);
  assert.deepEqual(reader.flush(), [key('escape', '\x1b')]);
  assert.deepEqual(reader.flush(), []);
  assert.deepEqual(reader.push(bytes('[A')), [text('[A')]);
});

test('flush ends an incomplete sequence as unknown', () => {
  const reader = new KeyReader();
  assert.deepEqual(reader.push(bytes('\x1b[1;')), []);
  assert.deepEqual(reader.flush(), [key('unknown', '\x1b[1;')]);
});

test('any chunking of the same bytes gives the same tokens', () => {
  const piece = fc.oneof(
    fc.constantFrom('\r', '\n', '\0', '\r\n', '\x1b', '[', 'O', '1', ';', '~', 'A', '\x7f', '\x03', 'é', '中', '😀'),
    fc.string({ maxLength: 4 }),
  );
  const input = fc
    .tuple(fc.array(piece, { maxLength: 30 }), fc.uint8Array({ maxLength: 8 }))
    .map(([pieces, noise]) => new Uint8Array([...bytes(pieces.join('')), ...noise]));
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 6 }), (whole, rawCuts) => {
      const cuts = [...new Set(rawCuts.map((cut) => cut % (whole.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...cuts].map((start, n) => whole.subarray(start, cuts[n] ?? whole.length));
      assert.deepEqual(mergeText(readAll(chunks)), mergeText(readAll([whole])));
    }),
    { numRuns: 2000 },
  );
});

test('without escape sequences, the text is the UTF-8 decoding of the input less its controls', () => {
  const piece = fc.oneof(
    fc.constantFrom('\r', '\n', '\0', '\t', '\x7f', '\u0085', 'é', '中', '😀', 'abc'),
    fc.string({ maxLength: 8 }),
  );
  const input = fc
    .tuple(fc.array(piece, { maxLength: 60 }), fc.uint8Array({ maxLength: 8 }))
    .map(([pieces, noise]) => new Uint8Array([...bytes(pieces.join('')), ...noise].filter((byte) => byte !== 0x1b)));
  fc.assert(
    fc.property(input, fc.array(fc.nat(), { maxLength: 6 }), (whole, rawCuts) => {
      const cuts = [...new Set(rawCuts.map((cut) => cut % (whole.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...cuts].map((start, n) => whole.subarray(start, cuts[n] ?? whole.length));
      const read = readAll(chunks)
        .map((token) => (token.type === 'text' ? token.text : ''))
        .join('');
      // A character still cut at the end waits for its next bytes.
      assert.equal(read, new TextDecoder().decode(whole, { stream: true }).replace(/\p{Cc}/gu, ''));
    }),
    { numRuns: 2000 },
  );
});

test('text never contains control characters', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      for (const token of readAll([input])) {
        if (token.type === 'text') assert.doesNotMatch(token.text, /\p{Cc}/u);
      }
    }),
  );
});

/** The lines a line client's session gets from `tokens`: text up to each Enter. */
function linesOf(tokens: InputToken[]): string[] {
  const lines: string[] = [];
  let line = '';
  for (const token of tokens) {
    if (token.type === 'text') line += token.text;
    else if (token.name === 'enter') {
      lines.push(line);
      line = '';
    }
  }
  return lines;
}

test('readLines reads whole lines of plain text as push would, in one pass, and leaves the reader as push would', () => {
  const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) });
  const lineEnd = fc.constantFrom('\n', '\r\n', '\r');
  const reads = fc.array(fc.array(fc.tuple(printable, lineEnd), { minLength: 1 }), { minLength: 1, maxLength: 4 });
  fc.assert(
    fc.property(reads, fc.constantFrom('\n', '\x00', 'next\r'), (chunks, after) => {
      // A terminal's Enter is a lone CR: its LF or NUL, if any, may come first in the next read.
      const reader = new KeyReader();
      const pushed = new KeyReader();
      for (const chunk of chunks) {
        const input = bytes(chunk.map(([line, end]) => line + end).join(''));
        // Only the LF of a CR that ended the read before, alone, is left to push.
        const read = reader.readLines(input) ?? linesOf(reader.push(input));
        assert.deepEqual(read, linesOf(pushed.push(input)), JSON.stringify(input));
      }
      assert.deepEqual(reader.push(bytes(after)), pushed.push(bytes(after)));
    }),
  );
});

test('a terminal sending lines one by one, each ended by its Enter (CR), has them read whole', () => {
  const reader = new KeyReader();
  assert.deepEqual(reader.readLines(bytes('look\r')), ['look']);
  assert.deepEqual(reader.readLines(bytes('north\r')), ['north']);
  // A CR LF cut between reads is one Enter, as is a CR NUL.
  assert.deepEqual(reader.readLines(bytes('\nsay hi\r')), ['say hi']);
  assert.deepEqual(reader.readLines(bytes('\x00quit\r\n')), ['quit']);
  assert.deepEqual(reader.readLines(bytes('one\rtwo\r\nthree\n')), ['one', 'two', 'three']);
});

test('readWholeLines, with no reader to remember a CR, leaves a read that ends with one to a reader', () => {
  assert.equal(readWholeLines(bytes('end\r')), undefined);
  assert.deepEqual(readWholeLines(bytes('a\rb\n')), ['a', 'b']);
  assert.deepEqual(readWholeLines(bytes('end\r'), true), ['end']);
});

test('readLines reads nothing from anything but whole lines of printable ASCII, or while input is pending', () => {
  for (const input of ['no end', 'tab\there\n', 'caf\u00e9\n', 'up\x1b[A\n', 'bs\x7f\n', 'nul\r\x00a\n', '']) {
    assert.equal(new KeyReader().readLines(bytes(input)), undefined, JSON.stringify(input));
  }
  for (const pending of ['\x1b', '\x1b[1', '\xe2\x82']) {
    const reader = new KeyReader();
    reader.push(Buffer.from(pending, 'latin1'));
    assert.equal(reader.readLines(bytes('next\n')), undefined, JSON.stringify(pending));
  }
  // Refused input leaves the reader as it was.
  const reader = new KeyReader();
  reader.push(bytes('\x1b['));
  reader.readLines(bytes('A\n'));
  assert.deepEqual(reader.push(bytes('A')), [key('up', '\x1b[A')]);
});

test('readMessage reads a message of printable ASCII as its line, and nothing from any other', () => {
  assert.equal(new KeyReader().readMessage(bytes('look north')), 'look north');
  assert.equal(new KeyReader().readMessage(bytes('')), '');
  for (const message of ['two\nlines', 'caf\u00e9', '\x03']) {
    assert.equal(new KeyReader().readMessage(bytes(message)), undefined, JSON.stringify(message));
  }
});
