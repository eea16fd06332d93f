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
