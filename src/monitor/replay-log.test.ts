// Tests of the replay log: what a late viewer is shown of each session, however the log wraps.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { seededRandom } from '../../test/support/seeded-random.js';
import { REPLAY_CAP, REPLAY_KEPT, ReplayLog } from './replay-log.js';
import type { ReplayChain } from './replay-log.js';

/** Whole numbers below `n`, the same every run. */
function randomFrom(seed: number): (n: number) => number {
  const random = seededRandom(seed);
  return (n) => Math.floor(random() * n);
}

/** Chunks of many sizes; now and then one with no newline, some with characters of two to four bytes. */
function chunksFrom(random: (n: number) => number): string[] {
  const sizes = [0, 1, 1, 2, 20, 80, 300, 5000, 70_000];
  return Array.from({ length: 300 }, (_, i) => {
    const alphabet =
      i % 20 === 0 ? ['a', 'b', '\x1b'] : i % 3 === 0 ? ['a', '\n', 'é', '日', '😀'] : ['a', 'b', '\n', '\x1b'];
    return Array.from({ length: sizes[random(sizes.length)]! }, () => alphabet[random(alphabet.length)]).join('');
  });
}

/** What a session wrote: its total length, and its last bytes (enough to check a replay against). */
class Written {
  total = 0;
  tail = Buffer.alloc(0);

  add(text: string): void {
    const bytes = Buffer.from(text);
    this.total += bytes.length;
    this.tail = Buffer.concat([this.tail, bytes]);
    if (this.tail.length > 4 * REPLAY_CAP) this.tail = this.tail.subarray(this.tail.length - 2 * REPLAY_CAP);
  }
}

/**
 * What a replay must be, given what the session wrote: the end of it, starting on a whole line
 * (or nothing), at most REPLAY_CAP bytes; all of it while it is at most REPLAY_KEPT bytes, and
 * otherwise at least every whole line of its last REPLAY_KEPT bytes.
 */
function assertReplay(replay: string, written: Written, context: string): void {
  const { tail, total } = written;
  const kept = Buffer.from(replay);
  const start = tail.length - kept.length;
  assert.ok(start >= 0 && tail.subarray(start).equals(kept), `${context}: not the end of the output`);
  const isWhole = (start === 0 && total === tail.length) || kept.length === 0 || tail[start - 1] === 0x0a;
  assert.ok(isWhole, `${context}: does not start on a whole line`);
  assert.ok(kept.length <= REPLAY_CAP, `${context}: ${kept.length} bytes, over the cap`);
  if (total <= REPLAY_KEPT) {
    assert.equal(kept.length, total, `${context}: output under the minimum was cut`);
    return;
  }
  const newline = tail.indexOf(0x0a, tail.length - REPLAY_KEPT - 1);
  const least = newline === -1 ? 0 : tail.length - newline - 1;
  assert.ok(kept.length >= least, `${context}: ${kept.length} bytes kept, at least ${least} expected`);
}

for (const size of [64 * 1024, 1024 * 1024]) {
  test(`a busy and a quiet session share a ${size / 1024} KiB log; each replay keeps what it must`, () => {
    const log = new ReplayLog(size, size);
    const random = randomFrom(7);
    const chunks = chunksFrom(random);
    const busy = { chain: log.open(), written: new Written() };
    const quiet = { chain: log.open(), written: new Written() };
    const write = (session: { chain: ReplayChain; written: Written }, text: string): void => {
      log.append(session.chain, text);
      session.written.add(text);
    };
    write(quiet, 'Welcome!\r\n> ');
    for (let i = 0; i < 3000; i++) {
      write(busy, chunks[random(chunks.length)]!);
      if (random(50) === 0) write(quiet, `line ${i}\r\n> `);
      // Read now and then: the replay must not depend on when it is looked at either.
      if (random(7) === 0) assertReplay(log.read(busy.chain), busy.written, `busy, write ${i}`);
      if (random(7) === 0) assertReplay(log.read(quiet.chain), quiet.written, `quiet, write ${i}`);
    }
    // The quiet session wrote little: the log wrapped over it many times, and it has all of it.
    assert.ok(quiet.written.total === quiet.written.tail.length && quiet.written.total < REPLAY_KEPT);
    assert.equal(log.read(quiet.chain), quiet.written.tail.toString('utf8'));
    assertReplay(log.read(busy.chain), busy.written, 'busy, at the end');
    assert.equal(log.size, size);
  });
}

test('a log too small for its busy sessions grows, up to its maximum, and loses nothing', () => {
  const log = new ReplayLog(64 * 1024, 512 * 1024);
  const random = randomFrom(11);
  const sessions = Array.from({ length: 20 }, () => ({ chain: log.open(), written: new Written() }));
  const sizes: number[] = [];
  for (let i = 0; i < 40_000; i++) {
    const session = sessions[random(sessions.length)]!;
    const line = `${i} ${'é'.repeat(random(40))}${'x'.repeat(random(80))}\r\n`;
    log.append(session.chain, line);
    session.written.add(line);
    if (sizes.at(-1) !== log.size) sizes.push(log.size);
    if (random(200) === 0) assertReplay(log.read(session.chain), session.written, `write ${i}`);
  }
  // 20 sessions keeping 48 KiB each need more than 512 KiB: it doubles each time, and stops there.
  assert.deepEqual(sizes, [64 * 1024, 128 * 1024, 256 * 1024, 512 * 1024]);
  for (const [index, session] of sessions.entries()) {
    assertReplay(log.read(session.chain), session.written, `session ${index} at the end`);
  }
});

test('a log with room for all of it keeps a session whole up to the minimum, then cuts on a line', () => {
  const log = new ReplayLog();
  const chain = log.open();
  const line = (i: number): string => `\x1b[31mred ${i}\x1b[0m ${'and more '.repeat(i % 9)}\r\n`;
  const written = new Written();
  for (let i = 0; written.total <= REPLAY_KEPT; i++) {
    log.append(chain, line(i));
    written.add(line(i));
    if (written.total <= REPLAY_KEPT) assert.equal(log.read(chain), written.tail.toString('utf8'));
  }
  for (let i = 0; i < 5000; i++) {
    log.append(chain, line(i));
    written.add(line(i));
  }
  const replay = log.read(chain);
  assertReplay(replay, written, 'after 5000 more lines');
  assert.match(replay, /^\x1b\[31mred \d+/);
});

test('a closed session is forgotten and its slot serves the next one, which starts empty', () => {
  const log = new ReplayLog(64 * 1024);
  const first = log.open();
  log.append(first, 'first session\r\n');
  log.close(first);
  assert.equal(log.read(first), '');
  log.append(first, 'written after the close\r\n');
  const second = log.open();
  assert.equal(second.slot, first.slot);
  assert.equal(log.read(second), '');
  // The first session's chunk is still in the log under the same slot: wrapping over it must not touch the second.
  log.append(second, 'second session\r\n');
  for (let i = 0; i < 2000; i++) log.append(log.open(), `${'x'.repeat(60)}\r\n`);
  assert.equal(log.read(second), 'second session\r\n');
});

test('a surrogate pair split across pieces of a long write stays one character', () => {
  const log = new ReplayLog(64 * 1024);
  const chain = log.open();
  // 8191 one-unit characters, then emoji: the first piece would end between the halves of one.
  const text = `${'a'.repeat(8191)}${'😀'.repeat(3)}\n`;
  log.append(chain, text);
  assert.equal(log.read(chain), text);
});

test('a log smaller than 64 KiB, not a multiple of 16 or over its maximum is refused', () => {
  assert.throws(() => new ReplayLog(1024), /at least 64 KiB/);
  assert.throws(() => new ReplayLog(64 * 1024 + 8), /multiple of 16/);
  assert.throws(() => new ReplayLog(128 * 1024, 64 * 1024), /at most its maximum/);
});
