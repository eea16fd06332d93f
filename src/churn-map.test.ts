// Tests of ChurnMap and ChurnSet: Map and Set behaviour, and members let go at once for the young generation's collections.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { ChurnMap, ChurnSet } from './churn-map.js';

test('ChurnMap gets, sets, deletes and iterates as a Map does', () => {
  const map = new ChurnMap<string, number>();
  map.set('a', 1).set('b', 2).set('c', 3);
  map.set('b', 20);
  assert.equal(map.size, 3);
  assert.equal(map.get('b'), 20);
  assert.equal(map.delete('a'), true);
  assert.equal(map.delete('a'), false);
  assert.equal(map.has('a'), false);
  assert.equal(map.get('a'), undefined);
  assert.deepEqual(
    [...map],
    [
      ['b', 20],
      ['c', 3],
    ],
  );
  assert.deepEqual([...map.keys()], ['b', 'c']);
  assert.deepEqual([...map.values()], [20, 3]);
  const seen: string[] = [];
  map.forEach((value, key) => seen.push(`${key}=${value}`));
  assert.deepEqual(seen, ['b=20', 'c=3']);
  map.clear();
  assert.equal(map.size, 0);
  assert.deepEqual([...map.values()], []);
});

test('ChurnMap: members deleted while it is iterated are not visited', () => {
  const map = new ChurnMap<number, string>();
  for (let i = 0; i < 10; i++) map.set(i, `member ${i}`);
  const visited: number[] = [];
  for (const [key] of map) {
    visited.push(key);
    map.delete(key + 1);
  }
  assert.deepEqual(visited, [0, 2, 4, 6, 8]);
});

test('ChurnSet holds members by their key: a different member with the same key is not in it', () => {
  const set = new ChurnSet<{ id: string }>((member) => member.id);
  const first = { id: 'x' };
  const impostor = { id: 'x' };
  set.add(first).add({ id: 'y' });
  assert.equal(set.size, 2);
  assert.equal(set.has(first), true);
  assert.equal(set.has(impostor), false);
  assert.equal(set.delete(impostor), false);
  assert.equal(set.has(first), true);
  assert.deepEqual(
    [...set].map((member) => member.id),
    ['x', 'y'],
  );
  assert.deepEqual([...set.entries()][0], [first, first]);
  assert.equal(set.delete(first), true);
  assert.deepEqual(
    [...set.values()].map((member) => member.id),
    ['y'],
  );
});

interface Table {
  set(key: number, value: unknown): unknown;
  delete(key: number): unknown;
}

/**
 * Bytes that reach the old generation when members of about 8 KiB join a table that lives in
 * the old generation and leave it soon after, with the young generation collected as they do:
 * none of them outlives the table's turn, so anything promoted is held by the table.
 */
function promotedByChurn(table: Table, gc: (options?: { type: 'minor' }) => void): number {
  const oldUsed = (): number =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!.space_used_size;
  // The table goes to the old generation, as a server's does in its first seconds.
  table.set(-1, undefined);
  gc();
  gc();
  const before = oldUsed();
  const alive = 16;
  for (let i = 0; i < MEMBERS; i++) {
    table.set(i, { index: i, payload: new Array(1000).fill(i) });
    if (i >= alive) table.delete(i - alive);
    if (i % 100 === 0) gc({ type: 'minor' });
  }
  for (let i = MEMBERS - alive; i < MEMBERS; i++) table.delete(i);
  // Survivors of two young collections are promoted.
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  return oldUsed() - before;
}

const MEMBERS = 2000;
/** What the members took in all, about: each is an object and its array of 1,000 slots. */
const MEMBERS_BYTES = MEMBERS * 8000;

test('ChurnMap lets a deleted member go at the next young collection, where a Map holds it', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options?: { type: 'minor' }) => void;
  const byMap = promotedByChurn(new Map(), gc);
  const byChurnMap = promotedByChurn(new ChurnMap(), gc);
  assert.ok(
    byChurnMap < MEMBERS_BYTES / 10,
    `ChurnMap: ${byChurnMap} bytes promoted of ${MEMBERS_BYTES} (a Map: ${byMap})`,
  );
});
