// Tests of DeadlineWheel: entries asked once their deadline has passed, never before, and moved on when it moved.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineWheel } from './deadline-wheel.js';
import type { WheelEntry } from './deadline-wheel.js';

const RESOLUTION_MS = 20;

/** An entry whose deadline is `deadline`, recording when it fired. */
function entry(deadline: number): WheelEntry & { deadline: number; firedAt: number | undefined } {
  return {
    wheelSlot: undefined,
    wheelIndex: 0,
    deadline,
    firedAt: undefined,
    due(now) {
      if (now < this.deadline) return this.deadline;
      this.firedAt = now;
      return undefined;
    },
  };
}

test('an entry fires after its deadline, at most a resolution late', async () => {
  const wheel = new DeadlineWheel(RESOLUTION_MS);
  const waiting = entry(Date.now() + 50);
  wheel.add(waiting, waiting.deadline);
  await sleep(50 + RESOLUTION_MS * 4);
  assert.ok(waiting.firedAt !== undefined, 'not fired');
  assert.ok(waiting.firedAt >= waiting.deadline);
  assert.equal(waiting.wheelSlot, undefined);
});

test('a deadline moved on is waited for anew', async () => {
  const wheel = new DeadlineWheel(RESOLUTION_MS);
  const moving = entry(Date.now() + 40);
  wheel.add(moving, moving.deadline);
  moving.deadline += 80;
  await sleep(40 + RESOLUTION_MS * 2);
  assert.equal(moving.firedAt, undefined);
  await sleep(80 + RESOLUTION_MS * 2);
  assert.ok(moving.firedAt !== undefined && moving.firedAt >= moving.deadline);
});

test('a deleted entry never fires, and one deleted by another entry of its slot is skipped', async () => {
  const wheel = new DeadlineWheel(RESOLUTION_MS);
  const deadline = Date.now() + 30;
  const deleted = entry(deadline);
  const victim = entry(deadline);
  const killer: WheelEntry = {
    wheelSlot: undefined,
    wheelIndex: 0,
    due: () => {
      wheel.delete(victim);
      return undefined;
    },
  };
  wheel.add(deleted, deadline);
  wheel.add(killer, deadline);
  wheel.add(victim, deadline);
  wheel.delete(deleted);
  await sleep(30 + RESOLUTION_MS * 4);
  assert.equal(deleted.firedAt, undefined);
  assert.equal(victim.firedAt, undefined);
});

test('entries deleted from anywhere in a slot leave the others to fire, once each', async () => {
  const wheel = new DeadlineWheel(RESOLUTION_MS);
  const deadline = Date.now() + 30;
  const entries = Array.from({ length: 20 }, () => entry(deadline));
  for (const waiting of entries) wheel.add(waiting, deadline);
  const deletedIndexes = [3, 7, 0, 19, 12];
  for (const index of deletedIndexes) wheel.delete(entries[index]!);
  // Deleting twice, or an entry no longer in the wheel, changes nothing.
  wheel.delete(entries[3]!);
  await sleep(30 + RESOLUTION_MS * 4);
  entries.forEach((waiting, index) => {
    assert.equal(waiting.firedAt !== undefined, !deletedIndexes.includes(index), `entry ${index}`);
    assert.equal(waiting.wheelSlot, undefined, `entry ${index} still in a slot`);
  });
});

test('entries of one slot that delete each other as they fire: each fires or is deleted, never both', async () => {
  const wheel = new DeadlineWheel(RESOLUTION_MS);
  const deadline = Date.now() + 30;
  const fired: number[] = [];
  const deleted = new Set<number>();
  const entries: WheelEntry[] = [];
  for (let i = 0; i < 12; i++) {
    entries.push({
      wheelSlot: undefined,
      wheelIndex: 0,
      due: () => {
        fired.push(i);
        // Each one deletes the entry four places on: some still waiting, some fired already.
        const other = (i + 4) % entries.length;
        if (entries[other]!.wheelSlot !== undefined) deleted.add(other);
        wheel.delete(entries[other]!);
        return undefined;
      },
    });
  }
  for (const waiting of entries) wheel.add(waiting, deadline);
  await sleep(30 + RESOLUTION_MS * 4);
  assert.equal(fired.length + deleted.size, entries.length);
  for (const index of fired) assert.ok(!deleted.has(index), `entry ${index} fired and was deleted`);
  assert.equal(new Set(fired).size, fired.length);
});
