import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { READY } from './connection.js';
import { StreamSink, TurnWriter } from './turn-writer.js';

/** A stream that takes one write at a time and finishes it when told: a peer that reads slowly. */
function slowStream(highWaterMark: number): { stream: Writable; written: string[]; finishWrite: () => void } {
  const written: string[] = [];
  let finish: (() => void) | undefined;
  const stream = new Writable({
    highWaterMark,
    decodeStrings: false,
    write(chunk: string, _encoding, callback) {
      written.push(chunk);
      finish = callback;
    },
  });
  return { stream, written, finishWrite: () => finish?.() };
}

test("a turn's writes leave as one write at its end, and later turns wait for the stream to drain once it is full", async () => {
  const { stream, written, finishWrite } = slowStream(16);
  const writer = new TurnWriter(new StreamSink(stream));
  assert.equal(writer.isInTurn, false);
  writer.startTurn();
  assert.equal(writer.isInTurn, true);
  assert.equal(writer.write('hello'), READY);
  assert.equal(
    writer.write(', more than sixteen characters'),
    READY,
    'held in the turn: the stream has had none of it',
  );
  assert.deepEqual(written, []);
  await nextTurn();
  assert.deepEqual(written, ['hello, more than sixteen characters']);
  assert.equal(writer.isInTurn, false);

  // The stream is past its mark: every write of the next turn waits for the same drain.
  writer.startTurn();
  const first = writer.write('next');
  const second = writer.write(' and more');
  assert.notEqual(first, READY);
  assert.equal(second, first);
  let isDrained = false;
  void first.then(() => (isDrained = true));
  await nextTurn();
  assert.equal(isDrained, false);
  // The first write leaves, then the turn's that waited behind it; with both gone, the stream drains.
  finishWrite();
  finishWrite();
  await first;
  assert.deepEqual(written, ['hello, more than sixteen characters', 'next and more']);

  // Drained, and a small write: no waiting.
  writer.startTurn();
  assert.equal(writer.write('ok'), READY);
});

/** A stream that records each write or writev as the bytes it was handed. */
function recordingStream(): { stream: Writable; writes: Array<{ isWritev: boolean; bytes: Buffer }> } {
  const writes: Array<{ isWritev: boolean; bytes: Buffer }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push({ isWritev: false, bytes: chunk });
      callback();
    },
    writev(chunks, callback) {
      writes.push({ isWritev: true, bytes: Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer)) });
      callback();
    },
  });
  return { stream, writes };
}

test("a turn's text and bytes leave gathered in one write, text as UTF-8, in the order written", async () => {
  const { stream, writes } = recordingStream();
  const writer = new TurnWriter(new StreamSink(stream));
  writer.startTurn();
  writer.write(Uint8Array.from([255, 253, 24]));
  writer.write('Welcome, ');
  writer.write('café 😀\r\n> ');
  writer.write(Uint8Array.from([255, 239]));
  await nextTurn();
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.isWritev, false);
  assert.deepEqual(
    writes[0]!.bytes,
    Buffer.concat([
      Buffer.from([255, 253, 24]),
      Buffer.from('Welcome, café 😀\r\n> ', 'utf8'),
      Buffer.from([255, 239]),
    ]),
  );
});

test('a turn too long to gather leaves its pieces as they are, in one writev', async () => {
  const { stream, writes } = recordingStream();
  const writer = new TurnWriter(new StreamSink(stream));
  const long = 'é'.repeat(3000);
  writer.startTurn();
  writer.write(Uint8Array.from([255, 249]));
  writer.write(long);
  await nextTurn();
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.isWritev, true);
  assert.deepEqual(writes[0]!.bytes, Buffer.concat([Buffer.from([255, 249]), Buffer.from(long, 'utf8')]));
});

test('a write after the stream drained within the turn does not wait for a drain that will not come', async () => {
  const { stream, written, finishWrite } = slowStream(16);
  const writer = new TurnWriter(new StreamSink(stream));
  writer.startTurn();
  writer.write('more than sixteen characters');
  await nextTurn();
  // The stream is past its mark: this turn's first write waits for the drain.
  writer.startTurn();
  const waiting = writer.write('a');
  assert.notEqual(waiting, READY);
  // It drains (Node tells it on the next tick, still within this turn); the writer goes on writing.
  finishWrite();
  await waiting;
  assert.equal(writer.isInTurn, true);
  const next = writer.write('b');
  await nextTurn();
  assert.deepEqual(written, ['more than sixteen characters', 'ab']);
  const settled = await Promise.race([next.then(() => 'settled'), nextTurn().then(() => 'still waiting')]);
  assert.equal(settled, 'settled', 'the write waited for a drain after the stream had drained');
});
