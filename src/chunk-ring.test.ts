import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { ChunkRing } from './chunk-ring.js';

/** Writes `text` as a chunk of `ring` owned by slot 7; returns its position. */
function write(ring: ChunkRing, text: string): number {
  const at = ring.reserve(8 + text.length);
  ring.words[at / 4] = 7;
  ring.words[at / 4 + 1] = text.length;
  ring.bytes.write(text, at + 8, 'latin1');
  return ring.commit(text.length);
}

function textAt(ring: ChunkRing, position: number): string {
  const at = ring.offsetOf(position);
  return ring.bytes.toString('latin1', at + 8, at + 8 + ring.words[at / 4 + 1]!);
}

test('a ring passes every chunk once, oldest first, before writing over it, and keeps the rest readable', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ maxLength: 900 }).map((text) => text.replace(/[^\x20-\x7e]/g, 'x')),
        { maxLength: 120 },
      ),
      fc.boolean(),
      (texts, isKeeping) => {
        const passed: number[] = [];
        const kept = new Map<number, string>();
        // An owner that keeps everything passed makes the ring grow once a lap copies out a quarter.
        const ring: ChunkRing = new ChunkRing({
          name: 'test ring',
          size: 4096,
          minSize: 4096,
          maxSize: 16384,
          header: 8,
          align: 8,
          pass: (at, position) => {
            passed.push(position);
            assert.equal(ring.offsetOf(position), at);
            kept.set(position, textAt(ring, position));
            return isKeeping ? ring.words[at / 4 + 1]! : 0;
          },
        });
        const positions = texts.map((text) => write(ring, text));
        // Passed in the order written, each once, and only chunks the ring no longer has.
        assert.deepEqual(passed, positions.slice(0, passed.length));
        positions.forEach((position, index) => {
          assert.equal(ring.has(position), index >= passed.length);
          assert.equal(ring.has(position) ? textAt(ring, position) : kept.get(position), texts[index]);
        });
        if (!isKeeping) assert.equal(ring.size, 4096);
      },
    ),
  );
});

test('a ring refuses a size it cannot lay chunks out in, saying which ring', () => {
  const ring = (size: number, maxSize: number): ChunkRing =>
    new ChunkRing({ name: 'test ring', size, maxSize, minSize: 4096, header: 8, align: 8, pass: () => 0 });
  assert.throws(() => ring(4100, 8192), /a test ring's size must be a multiple of 8, at least 4 KiB/);
  assert.throws(() => ring(4096, 8196), /multiple of 8/);
  assert.throws(() => ring(2048, 8192), /at least 4 KiB/);
  assert.throws(() => ring(8192, 4096), /at most its maximum, not 8192 \(maximum 4096\)/);
});
