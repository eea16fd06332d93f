import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import { pino } from 'pino';

import { READY } from './connection.js';
import type { Connection, ConnectionEnd, ConnectionListener } from './connection.js';
import { DIRECT } from './client-address.js';
import { listenTcp } from './tcp.js';
import { acceptHandles } from './tcp-handle.js';
import type { AcceptedHandle } from './tcp-handle.js';

/** What a connection told its listener, in order. */
class Recorder implements ConnectionListener {
  readonly events: string[] = [];
  end: ConnectionEnd | undefined;
  readonly #waiters: Array<() => void> = [];

  data(_connection: Connection, bytes: Uint8Array): void {
    this.events.push(`data ${Buffer.from(bytes).toString()}`);
    this.#wake();
  }

  inputEnded(): void {
    this.events.push('input ended');
    this.#wake();
  }

  closed(_connection: Connection, end: ConnectionEnd): void {
    this.end = end;
    this.events.push(`closed ${end.reason}`);
    this.#wake();
  }

  terminal(): void {}

  async until(event: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.events.some((seen) => seen.startsWith(event))) {
      assert.ok(Date.now() < deadline, `no "${event}" in ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

const servers: net.Server[] = [];
const clients: net.Socket[] = [];
after(() => {
  for (const client of clients) client.destroy();
  for (const server of servers) server.close();
});

/** A listening server whose accepted sockets come to the returned queue as handles. */
async function listen(): Promise<{
  port: number;
  next(): Promise<AcceptedHandle>;
  errors: Array<{ error: Error; failures: number }>;
}> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted: AcceptedHandle[] = [];
  const errors: Array<{ error: Error; failures: number }> = [];
  let wake: (() => void) | undefined;
  assert.equal(
    acceptHandles(
      server,
      (handle) => {
        accepted.push(handle);
        wake?.();
      },
      (error, failures) => errors.push({ error, failures }),
    ),
    true,
    "this Node's stream bindings are as tcp-handle expects: plain TCP runs without a net.Socket each",
  );
  server.on('connection', () => assert.fail('Node built a net.Socket for a taken-over listener'));
  return {
    port: (server.address() as net.AddressInfo).port,
    errors,
    async next() {
      while (accepted.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return accepted.shift()!;
    },
  };
}

/** A client on `port` that keeps what it receives as text. */
async function dial(
  port: number,
  options: { allowHalfOpen?: boolean } = {},
): Promise<{ socket: net.Socket; text(): string; ended: Promise<unknown> }> {
  const socket = net.connect({ port, host: '127.0.0.1', ...options });
  clients.push(socket);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  socket.on('error', () => undefined);
  const ended = once(socket, 'end');
  await once(socket, 'connect');
  return { socket, text: () => text, ended };
}

async function connectionFor(server: Awaited<ReturnType<typeof listen>>, maxOutputBuffer = 1 << 20) {
  const accepted = await server.next();
  const peer = accepted.peer();
  const connection = accepted.connect(maxOutputBuffer, peer);
  const recorder = new Recorder();
  connection.listen(recorder);
  return { connection, recorder, peer };
}

test(
  'an accepted handle: its peer, bytes in lent, a turn written at once, the client end, then closed as the peer',
  { timeout: 10_000 },
  async () => {
    const server = await listen();
    const client = await dial(server.port);
    const { connection, recorder, peer } = await connectionFor(server);
    assert.deepEqual(peer, { address: '127.0.0.1', port: client.socket.localPort });
    assert.equal(connection.framing, 'stream');
    assert.equal(connection.secure, false);

    client.socket.write('ping');
    await recorder.until('data');
    assert.deepEqual(recorder.events, ['data ping']);

    assert.equal(connection.write('pong, '), READY);
    assert.equal(connection.write(Buffer.from('bytes, ')), READY);
    assert.equal(connection.write('ünïcode'), READY);
    connection.endTurn!();
    await until(() => client.text() === 'pong, bytes, ünïcode');

    client.socket.end();
    await recorder.until('input ended');
    assert.equal(connection.isClosed, false, 'the client ended its side only: ours stays open for answers');
    await connection.close('client-closed');
    assert.deepEqual(recorder.events, ['data ping', 'input ended', 'closed peer-closed']);
    assert.equal(connection.isClosed, true);
    assert.equal(connection.bytesIn, 4);
    assert.equal(connection.bytesOut, Buffer.byteLength('pong, bytes, ünïcode'));
    await client.ended;
  },
);

test(
  'close() with the client still open sends what was held, ends our side, and closes once the client ends too',
  { timeout: 10_000 },
  async () => {
    const server = await listen();
    const client = await dial(server.port, { allowHalfOpen: true });
    const { connection, recorder } = await connectionFor(server);
    void connection.write('last words');
    const closed = connection.close('handler-ended');
    await client.ended;
    assert.equal(client.text(), 'last words');
    assert.equal(connection.isClosed, false, 'waiting for the client to end its side');
    assert.equal(connection.write('more'), READY, 'a closing connection takes no more output');
    client.socket.end();
    await closed;
    assert.equal(recorder.end?.reason, 'local');
    assert.equal(client.text(), 'last words');
  },
);

test('a client that never ends its side is dropped two seconds after close()', { timeout: 10_000 }, async () => {
  const server = await listen();
  const client = await dial(server.port, { allowHalfOpen: true });
  const { connection, recorder } = await connectionFor(server);
  const started = Date.now();
  await connection.close('idle-timeout');
  const waited = Date.now() - started;
  assert.ok(waited >= 1900 && waited < 4000, `closed after ${waited} ms`);
  assert.equal(recorder.end?.reason, 'local');
  await client.ended; // our end came first, before the drop
});

test('a client that resets the connection ends it as a reset, with the error', { timeout: 10_000 }, async () => {
  const server = await listen();
  const client = await dial(server.port);
  const { connection, recorder } = await connectionFor(server);
  client.socket.resetAndDestroy();
  await recorder.until('closed');
  assert.equal(recorder.end?.reason, 'reset');
  assert.equal((recorder.end?.error as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
  assert.equal(connection.isClosed, true);
});

test(
  'writes wait for a client that stopped reading to drain, and a turn that begins over the limit drops it',
  { timeout: 10_000 },
  async () => {
    const server = await listen();
    const client = await dial(server.port);
    const { connection, recorder } = await connectionFor(server, 256 * 1024);
    client.socket.pause();
    const block = 'x'.repeat(64 * 1024);
    let waited: Promise<void> = READY;
    let written = 0;
    // One turn may write past the limit: nothing of it has had a chance to leave.
    for (let i = 0; i < 64 && waited === READY; i++) {
      waited = connection.write(block);
      written += block.length;
      connection.endTurn!();
    }
    assert.notEqual(waited, READY, 'the kernel took every byte: the client never stopped the sender');
    let isDrained = false;
    void waited.then(() => (isDrained = true));
    await sleep(50);
    assert.equal(isDrained, false);
    let received = 0;
    client.socket.removeAllListeners('data');
    client.socket.on('data', (chunk: Buffer) => (received += chunk.length));
    client.socket.resume();
    await waited;
    await until(() => received === written);

    client.socket.pause();
    // More than the kernel's buffers on both sides hold, grown as they are by the drain above.
    void connection.write(block.repeat(512));
    connection.endTurn!();
    await nextTurn();
    void connection.write('the next turn finds the output over the limit');
    await recorder.until('closed');
    assert.equal(recorder.end?.reason, 'slow-consumer');
  },
);

test('a paused connection reads nothing until resumed', { timeout: 10_000 }, async () => {
  const server = await listen();
  const client = await dial(server.port);
  const { connection, recorder } = await connectionFor(server);
  connection.pause();
  client.socket.write('held');
  await sleep(100);
  assert.deepEqual(recorder.events, []);
  connection.resume();
  await recorder.until('data');
  assert.deepEqual(recorder.events, ['data held']);
});

test('failed accepts (out of descriptors, say) are reported once a second, counted, and the listener serves on', async () => {
  const server = await listen();
  const listening = (servers.at(-1) as unknown as { _handle: { onconnection(status: number): void } })._handle;
  const reported = (): Array<[string | undefined, number]> =>
    server.errors.map(({ error, failures }) => [(error as NodeJS.ErrnoException).code, failures]);
  listening.onconnection(-24);
  listening.onconnection(-24);
  listening.onconnection(-24);
  assert.deepEqual(reported(), [['EMFILE', 1]]);
  await sleep(1100);
  listening.onconnection(-23);
  assert.deepEqual(reported(), [
    ['EMFILE', 1],
    ['ENFILE', 3],
  ]);
  const client = await dial(server.port);
  const { connection } = await connectionFor(server);
  void connection.write('still here');
  connection.endTurn!();
  await until(() => client.text() === 'still here');
});

/** A plain TCP listener on an ephemeral port. */
function listenPlain(onConnection: (connection: Connection) => void): ReturnType<typeof listenTcp> {
  return listenTcp({
    host: '127.0.0.1',
    port: 0,
    handshakeTimeoutMs: 1000,
    maxOutputBuffer: 1 << 20,
    admission: { screen: () => undefined, check: () => undefined, refused: () => undefined },
    proxy: DIRECT,
    logger: pino({ level: 'silent' }),
    onConnection,
  });
}

test('a plain TCP listener serves its clients on handles, not net.Sockets', { timeout: 10_000 }, async () => {
  const connections: Connection[] = [];
  const listener = await listenPlain((connection) => connections.push(connection));
  try {
    const client = await dial(listener.address.port);
    await until(() => connections.length === 1);
    assert.equal(connections[0]!.constructor.name, 'HandleConnection');
    assert.equal(connections[0]!.remotePort, client.socket.localPort);
    connections[0]!.destroy();
    await client.ended.catch(() => undefined);
  } finally {
    await listener.close();
  }
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await sleep(10);
  }
}
