import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { destroyUnlessClosed } from './connection.js';

/** A stream whose peer neither sends nor closes, counting the destroy calls it gets. */
function silentStream(): { stream: Duplex; destroys: () => number } {
  let count = 0;
  const stream = new Duplex({ read() {}, write: (_chunk, _encoding, callback) => callback() });
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (error?: Error) => {
    count++;
    return destroy(error);
  };
  return { stream, destroys: () => count };
}

test('destroyUnlessClosed drops a stream that is still open when the wait is over', async () => {
  const { stream, destroys } = silentStream();
  destroyUnlessClosed(stream, 20);
  await sleep(60);
  assert.equal(destroys(), 1);
  assert.ok(stream.destroyed);
});

test('destroyUnlessClosed: a stream that closes first takes the timer with it, and is not touched again', async () => {
  const { stream, destroys } = silentStream();
  destroyUnlessClosed(stream, 20);
  stream.destroy();
  await sleep(60);
  assert.equal(destroys(), 1);
});

test('destroyUnlessClosed leaves a stream already destroyed alone', async () => {
  const { stream, destroys } = silentStream();
  stream.destroy();
  destroyUnlessClosed(stream, 20);
  await sleep(60);
  assert.equal(destroys(), 1);
});
