// Tests of reads through the shared buffer: each read's bytes are the reader's own, pause and
// resume still hold the peer back, and the end and byte counts come as from any socket.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { readThroughSharedBuffer } from './shared-read.js';

/** A server socket as accepted, reading the default way, and the client connected to it. */
async function acceptedPair(t: { after(fn: () => void): void }): Promise<{ server: net.Socket; client: net.Socket }> {
  const listener = net.createServer({ noDelay: true });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  const [server] = await accepted;
  t.after(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client };
}

/** A server socket set up as the transports set theirs, and the client connected to it. */
async function connectedPair(t: { after(fn: () => void): void }): Promise<{ server: net.Socket; client: net.Socket }> {
  const pair = await acceptedPair(t);
  assert.equal(
    readThroughSharedBuffer(pair.server),
    true,
    'this Node reads server sockets into a buffer of our choosing',
  );
  return pair;
}

/** Resolves with the next chunk `socket` emits. */
function nextChunk(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => socket.once('data', resolve));
}

test('each read arrives in bytes of its own, which later reads do not overwrite', async (t) => {
  const { server, client } = await connectedPair(t);
  const chunks: Buffer[] = [];
  server.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const text of ['first line\r\n', 'SECOND\r\n', 'third and longest line\r\n']) {
    const arrived = nextChunk(server);
    client.write(text);
    await arrived;
  }
  assert.deepEqual(
    chunks.map((chunk) => chunk.toString('latin1')),
    ['first line\r\n', 'SECOND\r\n', 'third and longest line\r\n'],
  );
  assert.equal(server.bytesRead, 'first line\r\nSECOND\r\nthird and longest line\r\n'.length);
});

test('a paused socket reads nothing until resumed, then reads what waited, in order', async (t) => {
  const { server, client } = await connectedPair(t);
  const received: string[] = [];
  server.on('data', (chunk: Buffer) => received.push(chunk.toString('latin1')));
  const first = nextChunk(server);
  client.write('before\n');
  await first;
  server.pause();
  client.write('while paused\n');
  await sleep(100);
  assert.deepEqual(received, ['before\n']);
  const later = nextChunk(server);
  server.resume();
  await later;
  assert.deepEqual(received, ['before\n', 'while paused\n']);
});

test('what was read before the switch still comes first, and the end follows the last bytes', async (t) => {
  const { server, client } = await acceptedPair(t);
  // Read the default way, held in the stream's buffer: a PROXY header's leftovers come back so.
  server.pause();
  client.write('early\n');
  await sleep(100);
  assert.equal(readThroughSharedBuffer(server), true);
  let text = '';
  server.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  server.resume();
  client.end('late\n');
  await once(server, 'end');
  assert.equal(text, 'early\nlate\n');
});

test('TLS sockets keep their own reads', () => {
  const socket = new net.Socket() as net.Socket & { encrypted?: boolean };
  socket.encrypted = true;
  assert.equal(readThroughSharedBuffer(socket), false);
});
