import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { LineHistory } from './line-history.js';

test('history keeps the newest lines under their numbers, as a list of every line would, whatever they hold', () => {
  // Lines of any text but a line end, long and short (the store grows and compacts), often repeated.
  const line = fc.oneof(
    fc.constantFrom('look', 'north', ''),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 12 }), fc.array(line, { maxLength: 200, size: 'max' }), (size, lines) => {
      const history = new LineHistory(size);
      const all: string[] = [];
      for (const text of lines) {
        history.add(text);
        if (size > 0 && all.at(-1) !== text) all.push(text);
        const first = Math.max(0, all.length - size);
        assert.equal(history.end, all.length);
        assert.equal(history.first, first);
        assert.equal(history.at(first - 1), undefined);
        assert.equal(history.at(all.length), undefined);
        for (let index = first; index < all.length; index++) assert.equal(history.at(index), all[index]);
      }
    }),
  );
});

test('lines typed in one read and stored together are kept as if added one at a time, and count before they are stored', () => {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength: 90,
  });
  // A read's lines, typed (stored together after the read) or added one at a time, as feeding keys does.
  const read = fc.record({
    lines: fc.array(fc.oneof(fc.constantFrom('look', 'north'), printable), { maxLength: 20 }),
    isTyped: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 12 }), fc.array(read, { maxLength: 40 }), (size, reads) => {
      const typed = new LineHistory(size);
      const added = new LineHistory(size);
      for (const { lines, isTyped } of reads) {
        // Cut from the text of the whole read, as the key reader cuts them.
        for (const line of lines.join('\n').split('\n')) {
          added.add(line);
          if (isTyped) typed.addTyped(line);
          else typed.add(line);
          assert.equal(typed.end, added.end);
          assert.equal(typed.first, added.first);
        }
        typed.storeTyped();
        for (let index = added.first - 1; index <= added.end; index++) assert.equal(typed.at(index), added.at(index));
      }
    }),
  );
});
