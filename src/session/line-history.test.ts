import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { HistoryRing, LineHistory } from './line-history.js';

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

test('histories sharing a small ring keep their lines as lists would, whoever writes, quiet or busy, through laps and closes', () => {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength: 120,
  });
  const anyText = fc.oneof(printable, fc.string({ unit: 'grapheme', maxLength: 60 }), fc.constantFrom('look', 'north'));
  // A user adds a line, types a read's lines (stored together), or leaves (its history closed).
  // User 0 writes most: the ring comes round to the others' lines while they still keep them.
  const user = fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.nat(5), weight: 1 });
  const step = fc.oneof(
    fc.record({ user, line: anyText }),
    fc.record({
      user,
      typed: fc.array(fc.oneof(printable, fc.constant('look')), { minLength: 1, maxLength: 16 }),
    }),
    fc.record({ user, leaves: fc.constant(true) }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 6, maxLength: 6 }),
      fc.constantFrom(4096, 8192),
      fc.array(step, { minLength: 50, maxLength: 300, size: 'max' }),
      (sizes, maxSize, steps) => {
        const ring = new HistoryRing(4096, maxSize);
        const histories = sizes.map((size) => new LineHistory(size, ring));
        const lists: string[][] = sizes.map(() => []);
        const addToList = (user: number, line: string): void => {
          if (lists[user]!.at(-1) !== line) lists[user]!.push(line);
        };
        for (const s of steps) {
          const history = histories[s.user]!;
          if ('leaves' in s) {
            history.close();
            lists[s.user] = [];
          } else if ('typed' in s) {
            for (const line of s.typed) {
              history.addTyped(line);
              addToList(s.user, line);
            }
            history.storeTyped();
          } else {
            history.add(s.line);
            addToList(s.user, s.line);
          }
          // Every user's lines, not only the writer's: the ring may have come round to anyone's.
          histories.forEach((other, user) => {
            const all = lists[user]!;
            const first = Math.max(0, all.length - sizes[user]!);
            assert.equal(other.end, all.length);
            assert.equal(other.first, first);
            assert.equal(other.at(first - 1), undefined);
            assert.equal(other.at(all.length), undefined);
            for (let index = first; index < all.length; index++) assert.equal(other.at(index), all[index]);
          });
        }
        assert.ok(ring.size <= maxSize);
      },
    ),
    { numRuns: 150 },
  );
});

test('a ring whose users keep more lines than it holds grows to its maximum, and a long line grows it at once', () => {
  const ring = new HistoryRing(4096, 65536);
  // Eighty users with ten lines of 100 characters each kept: 80 KB that must stay, in a ring that
  // starts at 4 KiB and may reach 64 KiB. What it cannot hold is copied out.
  const histories = Array.from({ length: 80 }, () => new LineHistory(10, ring));
  for (let round = 0; round < 10; round++)
    histories.forEach((history, user) => history.add(`${user}:${round}:`.padEnd(100, 'x')));
  assert.equal(ring.size, 65536);
  for (const user of [0, 3, 79]) {
    for (let round = 0; round < 10; round++)
      assert.equal(histories[user]!.at(round), `${user}:${round}:`.padEnd(100, 'x'));
  }

  const grown = new HistoryRing(4096, 65536);
  const history = new LineHistory(5, grown);
  history.add('é'.repeat(3000));
  // Room for the worst case, three bytes a character, takes a quarter of the ring at most.
  assert.equal(grown.size, 65536);
  assert.equal(history.at(0), 'é'.repeat(3000));
  assert.throws(
    () => new LineHistory(5, new HistoryRing(4096, 8192)).add('y'.repeat(3000)),
    /does not fit a ring of at most 8192/,
  );
});

test('a quiet user keeps its lines while a busy one laps the ring, down to the oldest it keeps', () => {
  const ring = new HistoryRing(4096, 4096);
  const quiet = new LineHistory(3, ring);
  const busy = new LineHistory(1, ring);
  for (const line of ['a', 'b', 'c', 'd']) quiet.add(line);
  for (let i = 0; i < 200; i++) busy.add(`busy ${i}`.padEnd(60, '.'));
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((index) => quiet.at(index)),
    [undefined, 'b', 'c', 'd', undefined],
  );
  // The newest line, copied out, is still the one a repeat is told by.
  quiet.add('d');
  assert.equal(quiet.end, 4);
});

test("a line whose hash is the newest line's is still told from it by its text", () => {
  // FNV-1a gives these two the same hash.
  const history = new LineHistory(10, new HistoryRing(4096));
  history.add('say 511319');
  history.add('say 1256000');
  assert.equal(history.end, 2);
  assert.equal(history.at(1), 'say 1256000');
});

test('a closed history frees its slot for the next user, who never sees the lines of the one before', () => {
  const ring = new HistoryRing(4096, 65536);
  const leaving = new LineHistory(100, ring);
  for (let i = 0; i < 40; i++) leaving.add(`secret ${i}`.padEnd(60, '.'));
  leaving.close();
  assert.equal(leaving.end, 0);
  assert.equal(leaving.at(0), undefined);
  const next = new LineHistory(100, ring);
  next.add('mine');
  // Laps of other writing pass the old entries under the slot the new user now has: they are
  // dropped, not copied out to it (which would also grow the ring for nothing).
  const busy = new LineHistory(1, ring);
  for (let i = 0; i < 500; i++) busy.add(`busy line ${i}`);
  assert.equal(next.end, 1);
  assert.equal(next.at(0), 'mine');
  assert.equal(ring.size, 4096);
});

test('a history ring refuses a size it cannot lay entries out in', () => {
  assert.throws(() => new HistoryRing(4100), /multiple of 8, at least 4 KiB/);
  assert.throws(() => new HistoryRing(2048), /at least 4 KiB/);
  assert.throws(() => new HistoryRing(8192, 4096), /at most its maximum/);
});
