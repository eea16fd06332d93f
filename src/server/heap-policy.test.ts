// Tests of the heap policy: the memory reducer collects once a burst of sessions is over, and its collection frees old garbage.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';

import { MemoryReducer, collectAllGarbage } from './heap-policy.js';

const QUIET_MS = 100;

/** A reducer on mocked timers and clock, counting its collections. */
function reducerUnderTest(t: TestContext): {
  reducer: MemoryReducer;
  collections: () => number;
  after: (ms: number) => Promise<void>;
  fail: (isFailing: boolean) => void;
} {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 1_000_000;
  let collections = 0;
  let isFailing = false;
  const reducer = new MemoryReducer({
    quietMs: QUIET_MS,
    now: () => now,
    collect: () => {
      collections++;
      return isFailing ? Promise.reject(new Error('no inspector')) : Promise.resolve();
    },
  });
  return {
    reducer,
    collections: () => collections,
    after: async (ms) => {
      now += ms;
      t.mock.timers.tick(ms);
      // The collection's settling is a promise job.
      await new Promise((resolve) => setImmediate(resolve));
    },
    fail: (failing) => (isFailing = failing),
  };
}

test('a burst of sessions is collected once it has been quiet for the quiet time, not before', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let i = 1; i <= 1200; i++) {
    reducer.sessionCountChanged(i);
    if (i % 10 === 0) await after(1);
  }
  await after(QUIET_MS - 2);
  assert.equal(collections(), 0, 'collected before the quiet time had passed');
  await after(2);
  assert.equal(collections(), 1);
  await after(QUIET_MS * 10);
  assert.equal(collections(), 1, 'collected again with nothing new');
});

test('sessions that keep coming put the collection off until they stop', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let i = 1; i <= 1000; i++) reducer.sessionCountChanged(i);
  for (let i = 1; i <= 400; i++) {
    reducer.sessionCountChanged(1000 + (i % 50));
    await after(QUIET_MS / 2);
  }
  assert.equal(collections(), 0);
  await after(QUIET_MS);
  assert.equal(collections(), 1);
});

test('few sessions alive are never collected for, however many came and went', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let burst = 0; burst < 5; burst++) {
    for (let i = 1; i <= 999; i++) reducer.sessionCountChanged(i);
    for (let i = 998; i >= 0; i--) reducer.sessionCountChanged(i);
    await after(QUIET_MS * 3);
  }
  assert.equal(collections(), 0);
});

test('churn since the last collection must reach a quarter of the sessions alive, across bursts', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let i = 1; i <= 2000; i++) reducer.sessionCountChanged(i);
  await after(QUIET_MS * 3);
  assert.equal(collections(), 1);
  // 2,000 alive: 300 changes are not a quarter of them, 500 over two bursts are.
  for (let i = 1; i <= 300; i++) reducer.sessionCountChanged(2000 + (i % 2));
  await after(QUIET_MS * 3);
  assert.equal(collections(), 1);
  for (let i = 1; i <= 200; i++) reducer.sessionCountChanged(2000 + (i % 2));
  await after(QUIET_MS * 3);
  assert.equal(collections(), 2);
});

test('a failed collection does not stop the next', async (t) => {
  const { reducer, collections, after, fail } = reducerUnderTest(t);
  fail(true);
  for (let i = 1; i <= 1000; i++) reducer.sessionCountChanged(i);
  await after(QUIET_MS);
  assert.equal(collections(), 1);
  fail(false);
  for (let i = 1; i <= 1000; i++) reducer.sessionCountChanged(1000 + (i % 2));
  await after(QUIET_MS);
  assert.equal(collections(), 2);
});

test('collectAllGarbage frees garbage that had reached the old generation', async () => {
  const oldUsed = (): number =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!.space_used_size;
  // Kept through many young collections, so promoted; then dropped.
  let kept: Array<{ index: number; text: string }> | undefined = [];
  for (let i = 0; i < 300_000; i++) kept.push({ index: i, text: `item ${i}` });
  const before = oldUsed();
  assert.ok(kept.length === 300_000);
  kept = undefined;
  await collectAllGarbage();
  const freed = before - oldUsed();
  assert.ok(freed > 10 * 1024 * 1024, `freed only ${freed} bytes of the old generation`);
});
