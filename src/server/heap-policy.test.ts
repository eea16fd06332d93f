// Tests of the heap policy: the memory reducer collects once a burst of sessions is over, and its collection frees old garbage.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';

import { MemoryReducer, collectAllGarbage } from './heap-policy.js';

const QUIET_MS = 100;
const IDLE_MS = 500;
/** From the burst's last session to the collection: quiet, then idle. */
const SETTLED_MS = QUIET_MS + IDLE_MS;

/** A reducer on mocked timers and clock, counting its collections. */
function reducerUnderTest(t: TestContext): {
  reducer: MemoryReducer;
  collections: () => number;
  after: (ms: number) => Promise<void>;
  fail: (isFailing: boolean) => void;
  busy: (utilization: number) => void;
} {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 1_000_000;
  let collections = 0;
  let isFailing = false;
  // What the event loop's utilization over a window comes to when the window ends.
  let utilization = 0;
  const reducer = new MemoryReducer({
    quietMs: QUIET_MS,
    idleWindowMs: IDLE_MS,
    utilization: () => () => utilization,
    now: () => now,
    collect: () => {
      collections++;
      return isFailing ? Promise.reject(new Error('no inspector')) : Promise.resolve();
    },
  });
  return {
    reducer,
    collections: () => collections,
    // A millisecond at a time: a timer set by a timer's callback runs from the end of the
    // mocked tick it fired in, not from when it fired.
    after: async (ms) => {
      for (let step = 0; step < ms; step++) {
        now++;
        t.mock.timers.tick(1);
        // The collection's settling is a promise job.
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    fail: (failing) => (isFailing = failing),
    busy: (share) => (utilization = share),
  };
}

test('a burst of sessions is collected once it has been quiet, and the process idle, not before', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let i = 1; i <= 1200; i++) {
    reducer.sessionCountChanged(i);
    if (i % 10 === 0) await after(1);
  }
  await after(QUIET_MS - 2);
  assert.equal(collections(), 0, 'collected before the quiet time had passed');
  await after(2 + IDLE_MS - 2);
  assert.equal(collections(), 0, 'collected before the process had been idle for its window');
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
  await after(SETTLED_MS);
  assert.equal(collections(), 1);
});

test("a burst's tail of work puts the collection off until the process is idle", async (t) => {
  const { reducer, collections, after, busy } = reducerUnderTest(t);
  for (let i = 1; i <= 1200; i++) reducer.sessionCountChanged(i);
  // No session starts or ends, but the burst's last welcomes keep the process busy for two windows.
  busy(0.5);
  await after(SETTLED_MS + IDLE_MS);
  assert.equal(collections(), 0, 'collected while the process was busy');
  busy(0.02);
  await after(IDLE_MS);
  assert.equal(collections(), 1);
  await after(SETTLED_MS * 5);
  assert.equal(collections(), 1, 'collected again with nothing new');
});

test('sessions at work are left alone, through a lull, until a session starts or ends', async (t) => {
  const { reducer, collections, after, busy } = reducerUnderTest(t);
  for (let i = 1; i <= 1200; i++) reducer.sessionCountChanged(i);
  // No session starts or ends: the 1,200 are busy with their lines for three windows, then pause.
  busy(0.5);
  await after(SETTLED_MS + 2 * IDLE_MS);
  busy(0.02);
  await after(SETTLED_MS * 5);
  assert.equal(collections(), 0, 'collected in a lull of sessions at work');
  reducer.sessionCountChanged(1201);
  await after(SETTLED_MS);
  assert.equal(collections(), 1);
});

test('a session that starts or ends during the idle window starts the wait again', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let i = 1; i <= 1200; i++) reducer.sessionCountChanged(i);
  await after(QUIET_MS + IDLE_MS - QUIET_MS / 2);
  reducer.sessionCountChanged(1201);
  await after(QUIET_MS / 2);
  assert.equal(collections(), 0, 'collected within the quiet time of a session starting');
  await after(SETTLED_MS);
  assert.equal(collections(), 1);
});

test('few sessions alive are never collected for, however many came and went', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let burst = 0; burst < 5; burst++) {
    for (let i = 1; i <= 999; i++) reducer.sessionCountChanged(i);
    for (let i = 998; i >= 0; i--) reducer.sessionCountChanged(i);
    await after(SETTLED_MS * 2);
  }
  assert.equal(collections(), 0);
});

test('churn since the last collection must reach a quarter of the sessions alive, across bursts', async (t) => {
  const { reducer, collections, after } = reducerUnderTest(t);
  for (let i = 1; i <= 2000; i++) reducer.sessionCountChanged(i);
  await after(SETTLED_MS * 2);
  assert.equal(collections(), 1);
  // 2,000 alive: 300 changes are not a quarter of them, 500 over two bursts are.
  for (let i = 1; i <= 300; i++) reducer.sessionCountChanged(2000 + (i % 2));
  await after(SETTLED_MS * 2);
  assert.equal(collections(), 1);
  for (let i = 1; i <= 200; i++) reducer.sessionCountChanged(2000 + (i % 2));
  await after(SETTLED_MS * 2);
  assert.equal(collections(), 2);
});

test('a failed collection does not stop the next', async (t) => {
  const { reducer, collections, after, fail } = reducerUnderTest(t);
  fail(true);
  for (let i = 1; i <= 1000; i++) reducer.sessionCountChanged(i);
  await after(SETTLED_MS);
  assert.equal(collections(), 1);
  fail(false);
  for (let i = 1; i <= 1000; i++) reducer.sessionCountChanged(1000 + (i % 2));
  await after(SETTLED_MS);
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

/**
 * In a process of its own (V8's flags are the process's): grows the young generation to its cap
 * under allocation that survives, shrinks it with a full collection, allocates again and prints
 * the young generation's size, in MB, after each step.
 */
const YOUNG_GENERATION_SCRIPT = `
import { getHeapSpaceStatistics } from 'node:v8';
const policy = await import(${JSON.stringify(new URL('./heap-policy.ts', import.meta.url).href)});
const young = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size / 2 ** 20;
const kept = new Array(100_000);
let at = 0;
/** Until the young generation reaches the cap, or for at most ms. */
async function allocate(ms) {
  const until = Date.now() + ms;
  while (Date.now() < until && young() < 8) {
    // Objects that live through a few collections, as sessions' do: V8 grows the young generation for them.
    for (let i = 0; i < 20_000; i++) kept[at++ % kept.length] = { at, text: 'item ' + at };
    await new Promise((resolve) => setImmediate(resolve));
  }
}
policy.holdYoungGenerationInEveryThread();
policy.growYoungGenerationToCap();
if (process.argv.includes('--watch')) policy.regrowYoungGenerationAfterShrinks(50);
await allocate(5000);
const grown = young();
await policy.collectAllGarbage();
const shrunk = young();
await allocate(3000);
console.log(JSON.stringify({ grown, shrunk, again: young() }));
`;

function youngGenerationSizes(watch: boolean): { grown: number; shrunk: number; again: number } {
  const args = ['--import', 'tsx', '--input-type=module', '-e', YOUNG_GENERATION_SCRIPT];
  const child = spawnSync(process.execPath, watch ? [...args, '--', '--watch'] : args, { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as { grown: number; shrunk: number; again: number };
}

test('a young generation shrunk by a full collection grows back to its cap under load', () => {
  const watched = youngGenerationSizes(true);
  assert.equal(watched.grown, 8, `grew to ${watched.grown} MB, not the cap`);
  assert.ok(watched.shrunk < 8, `the collection left ${watched.shrunk} MB`);
  assert.equal(watched.again, 8, `grew back to ${watched.again} MB only`);
  // Without the watch the hold keeps it about where the collection left it.
  const held = youngGenerationSizes(false);
  assert.equal(held.grown, 8);
  assert.ok(held.again < 8, `held, it still grew back to ${held.again} MB`);
});
