// Integration tests of the core over plain TCP: real sockets on 127.0.0.1, servers built in-process.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';

import { pino } from 'pino';

import { CAPACITY_MESSAGE, CharacterHandler, LineHandler, SHUTDOWN_MESSAGE, SessionClosedError } from '../src/index.js';
import type { HandlerClass, ProtocolServer, ServerSettings } from '../src/index.js';
import { makeCertificate } from './support/certificate.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { ReceivedText, until } from './support/received-text.js';
import { startServer } from './support/servers.js';

// Helpers: servers whose logs are kept, a client at the byte level, and deadlines.

/** Log records of every server started here, to check that failures are logged. */
const logs: Array<{ level: number; msg: string; session?: string; err?: { message: string } }> = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });

/** A TCP server whose log records go to `logs`. */
function startTcpServer(
  handlerClass: HandlerClass,
  settings: ServerSettings = {},
): Promise<{ server: ProtocolServer; port: number }> {
  return startServer('tcp', handlerClass, settings, { logger });
}

/** Sends `input` as it is and waits for `expected` in what arrives after it. */
async function ask(
  client: Pick<TestClient, 'text' | 'type' | 'waitFor'>,
  input: string,
  expected: string,
): Promise<void> {
  const from = client.text.length;
  client.type(input);
  await client.waitFor(expected, { from });
}

const rawClients: RawClient[] = [];

after(() => {
  for (const client of rawClients) client.socket.destroy();
});

/**
 * A TCP client at the byte level, for what the shared client hides: the bytes as they came,
 * writes cut anywhere, its own side left open, and reading slowly (a paused socket, bytes
 * counted instead of kept).
 */
class RawClient {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  readonly #received = new ReceivedText();
  readonly #decoder = new TextDecoder();
  #chunks: Buffer[] = [];
  #byteCount = 0;
  #tail = Buffer.alloc(0);
  /** When set, received bytes are only counted (for floods), not kept, but for the last few. */
  isCountingOnly = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#byteCount += chunk.length;
      if (this.isCountingOnly) {
        this.#tail = Buffer.concat([this.#tail, chunk]).subarray(-256);
        return;
      }
      this.#chunks.push(chunk);
      this.#received.add(this.#decoder.decode(chunk, { stream: true }));
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<RawClient> {
    const client = new RawClient(
      net.connect({ host: '127.0.0.1', port, allowHalfOpen: options.allowHalfOpen ?? false }),
    );
    rawClients.push(client);
    await once(client.socket, 'connect');
    return client;
  }

  get bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  get text(): string {
    return this.#received.text;
  }

  /** The last bytes received while counting only. */
  get tail(): string {
    return this.#tail.toString('utf8');
  }

  get byteCount(): number {
    return this.#byteCount;
  }

  get isClosed(): boolean {
    return this.socket.closed;
  }

  type(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  waitFor(pattern: string | RegExp, options: { from?: number; timeoutMs?: number } = {}): Promise<void> {
    return this.#received.waitFor(pattern, options);
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function refusesConnections(port: number): Promise<boolean> {
  const socket = net.connect({ host: '127.0.0.1', port });
  try {
    await once(socket, 'connect');
    socket.destroy();
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

// Handlers under test.

/**
 * Like the echo sample: welcome, prompt, Echo:, quit; `shout` to everyone. A LineHandler, unlike
 * the shared (terminal) EchoHandler, as these tests are of line input over TCP.
 */
class EchoHandler extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'shout') {
      await this.server.sendGlobalMessage(`${this.sessionId} shouts`);
      return;
    }
    await this.sendLine(`Echo: ${command}`);
  }
}

test('a client gets the welcome and the prompt, and each line is echoed', async () => {
  const { port } = await startTcpServer(EchoHandler, { welcome_message: 'Welcome to the TCP Server!' });
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  assert.equal(client.text, 'Welcome to the TCP Server!\r\n> ');
  await ask(client, 'hello\n', '> ');
  assert.equal(client.text, 'Welcome to the TCP Server!\r\n> Echo: hello\r\n> ');
});

test('LF, CRLF and a CR LF split across two writes each end one line', async () => {
  const { port } = await startTcpServer(EchoHandler);
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  await ask(client, 'one\n', 'Echo: one\r\n> ');
  await ask(client, 'two\r\n', 'Echo: two\r\n> ');
  const from = client.text.length;
  client.type('three\r');
  await sleep(30);
  client.type('\nfour\n');
  await client.waitFor('Echo: four\r\n> ', { from });
  assert.equal(client.text.slice(from), 'Echo: three\r\n> Echo: four\r\n> ');
});

test('several lines in one write are answered in order', async () => {
  const { port } = await startTcpServer(EchoHandler);
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  const from = client.text.length;
  client.type('a\nb\r\nc\n');
  await client.waitFor('Echo: c\r\n> ', { from });
  assert.equal(client.text.slice(from), 'Echo: a\r\n> Echo: b\r\n> Echo: c\r\n> ');
});

test('UTF-8 characters split across two TCP writes arrive whole', async () => {
  const { port } = await startTcpServer(EchoHandler);
  const client = await RawClient.connect(port);
  await client.waitFor('> ');
  for (const word of ['café', '中文', 'ok😀']) {
    const bytes = Buffer.from(`${word}\n`, 'utf8');
    // Cut inside the last multi-byte character, which is just before the newline.
    const cut = bytes.length - 2;
    const from = client.text.length;
    client.type(bytes.subarray(0, cut));
    await sleep(30);
    client.type(bytes.subarray(cut));
    await client.waitFor('> ', { from });
    assert.equal(client.text.slice(from), `Echo: ${word}\r\n> `);
  }
  assert.ok(!client.text.includes('\ufffd'));
});

test('quit says Goodbye! and the server closes the connection', async () => {
  const { server, port } = await startTcpServer(EchoHandler);
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  client.type('quit\n');
  await within(client.closed, 2000, 'close after quit');
  assert.ok(client.text.endsWith('Goodbye!\r\n'));
  await until(() => server.sessions.size === 0, 'session removal', 1000);
});

/** Answers each command after a while, as a handler that looks something up does. */
class Lookup extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    // An answer that takes a while: before, the client's half-close ended the session first.
    await sleep(30);
    await this.sendLine(`Found: ${command}`);
  }
}

test('a client that half-closes, as `printf ... | nc -N` does, gets every answer, then the server closes', async () => {
  const { server, port } = await startTcpServer(Lookup);
  const client = await RawClient.connect(port, { allowHalfOpen: true });
  await client.waitFor('> ');
  client.socket.end('one\ntwo\n');
  await within(client.closed, 2000, 'close after the answers');
  assert.match(client.text, /Found: one\r\n.*Found: two\r\n/s);
  await until(() => server.sessions.size === 0, 'session removal', 1000);

  // Nothing typed: the session ends as soon as the client's side does.
  const quiet = await RawClient.connect(port, { allowHalfOpen: true });
  await quiet.waitFor('> ');
  quiet.socket.end();
  await within(quiet.closed, 1000, 'close after an empty half-close');
  await until(() => server.sessions.size === 0, 'session removal', 1000);
});

test('over TLS too, a client that ends its side gets every answer, then the server closes', async () => {
  const certificate = makeCertificate('half-close');
  const { server, port } = await startTcpServer(Lookup, {
    use_ssl: true,
    ssl_cert: certificate.cert,
    ssl_key: certificate.key,
  });
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await until(() => text.endsWith('> '), 'the prompt', 2000);
  // close_notify and FIN after the lines: the client reads on.
  socket.end('one\ntwo\n');
  await within(closed, 2000, 'close after the answers');
  assert.match(text, /Found: one\r\n.*Found: two\r\n/s);
  await until(() => server.sessions.size === 0, 'session removal', 1000);
});

test('beyond max_connections a client is told the server is full and closed; the others still work', async () => {
  const { port } = await startTcpServer(EchoHandler, { max_connections: 2 });
  const first = await connect('tcp', port);
  const second = await connect('tcp', port);
  await first.waitFor('> ');
  await second.waitFor('> ');
  const third = await connect('tcp', port);
  await within(third.closed, 2000, 'third client closed');
  assert.equal(third.text, `${CAPACITY_MESSAGE}\r\n`);
  await ask(first, 'still here\n', 'Echo: still here');
  await ask(second, 'me too\n', 'Echo: me too');
  // A place frees up once a client leaves.
  first.type('quit\n');
  await first.closed;
  await sleep(50);
  const fourth = await connect('tcp', port);
  await fourth.waitFor('> ');
  assert.ok(!fourth.text.includes(CAPACITY_MESSAGE));
});

test('connection_timeout closes an idle session with a notice, but input keeps it alive', async () => {
  const { port } = await startTcpServer(EchoHandler, { connection_timeout: 1 });
  const idle = await RawClient.connect(port);
  const busy = await RawClient.connect(port);
  await idle.waitFor('> ');
  await busy.waitFor('> ');
  const started = Date.now();
  for (let i = 0; i < 4; i++) {
    await sleep(400);
    await ask(busy, `tick ${i}\n`, `Echo: tick ${i}`);
  }
  // 1.6 s have passed: the idle client is gone, the busy one is not.
  assert.ok(idle.isClosed, 'idle client still connected');
  assert.match(idle.text, /Idle for 1 seconds?: closing the connection\.\r\n$/);
  assert.ok(!busy.isClosed);
  await within(busy.closed, 2000, 'busy client closed once idle');
  assert.ok(Date.now() - started >= 2400);
});

test('stop tells every client the server is shutting down, closes them and stops listening', async () => {
  let disconnects = 0;
  class CountingHandler extends EchoHandler {
    override async onDisconnect(): Promise<void> {
      disconnects += 1;
    }
  }
  class AskingHandler extends LineHandler {
    override async onConnect(): Promise<void> {
      await this.readLine('Name? ');
    }
  }
  const { server, port } = await startTcpServer(CountingHandler);
  const asking = await startTcpServer(AskingHandler);
  const a = await connect('tcp', port);
  const b = await connect('tcp', port);
  const c = await connect('tcp', asking.port);
  await a.waitFor('> ');
  await b.waitFor('> ');
  await c.waitFor('Name? ');
  await within(Promise.all([server.stop(), asking.server.stop()]), 1000, 'stop');
  for (const client of [a, b, c]) {
    await within(client.closed, 1000, 'client closed');
    assert.ok(client.text.endsWith(`${SHUTDOWN_MESSAGE}\r\n`), JSON.stringify(client.text));
  }
  assert.equal(disconnects, 2);
  assert.equal(server.sessions.size, 0);
  assert.equal(server.info().isRunning, false);
  assert.ok(await refusesConnections(port));
  assert.ok(await refusesConnections(asking.port));
  assert.equal(server.stop(), server.stop());
});

test('stop drops a client that never closes its side once the grace period is over', async () => {
  const { server, port } = await startTcpServer(EchoHandler);
  const stubborn = await RawClient.connect(port, { allowHalfOpen: true });
  await stubborn.waitFor('> ');
  const started = Date.now();
  await within(server.stop(200), 3000, 'stop');
  assert.ok(Date.now() - started < 1500, `stop took ${Date.now() - started} ms`);
  assert.equal(server.sessions.size, 0);
  assert.ok(stubborn.text.includes(SHUTDOWN_MESSAGE));
  assert.ok(stubborn.socket.readableEnded, 'the server did not end its side');
  assert.ok(await refusesConnections(port));
});

test('stop does not wait for a refused client that never closes its side', async () => {
  const { server, port } = await startTcpServer(EchoHandler, { max_connections: 1 });
  const first = await RawClient.connect(port);
  await first.waitFor('> ');
  const refused = await RawClient.connect(port, { allowHalfOpen: true });
  await refused.waitFor(CAPACITY_MESSAGE);
  const started = Date.now();
  await within(server.stop(200), 3000, 'stop');
  assert.ok(Date.now() - started < 1500, `stop took ${Date.now() - started} ms`);
  assert.ok(await refusesConnections(port));
});

test('a handler error closes only its own session and reaches onError', async () => {
  const errors: string[] = [];
  class FaultyHandler extends EchoHandler {
    override async processLine(line: string): Promise<boolean> {
      if (line === 'throw') throw new Error('thrown at once');
      if (line === 'reject') {
        await sleep(20);
        throw new Error('rejected later');
      }
      return super.processLine(line);
    }
    override async onError(error: Error): Promise<void> {
      errors.push(error.message);
    }
  }
  const { server, port } = await startTcpServer(FaultyHandler);
  const bystander = await connect('tcp', port);
  await bystander.waitFor('> ');
  for (const trigger of ['throw', 'reject']) {
    const victim = await connect('tcp', port);
    await victim.waitFor('> ');
    victim.type(`${trigger}\n`);
    await within(victim.closed, 2000, `close after ${trigger}`);
    await ask(bystander, `after ${trigger}\n`, `Echo: after ${trigger}`);
  }
  assert.deepEqual(errors, ['thrown at once', 'rejected later']);
  assert.equal(server.sessions.size, 1);
  const logged = logs.filter((record) => record.msg === 'handler error; closing this session');
  assert.deepEqual(
    logged.map((record) => record.err?.message),
    ['thrown at once', 'rejected later'],
  );
  assert.ok(logged.every((record) => /^[a-z2-7]{16}$/.test(record.session ?? '')));
});

test('a handler whose constructor throws closes only that connection', async () => {
  let constructed = 0;
  class FragileHandler extends EchoHandler {
    constructor(...args: ConstructorParameters<typeof EchoHandler>) {
      super(...args);
      constructed += 1;
      if (constructed === 2) throw new Error('constructor failed');
    }
  }
  const { server, port } = await startTcpServer(FragileHandler);
  const first = await connect('tcp', port);
  await first.waitFor('> ');
  const broken = await connect('tcp', port);
  await within(broken.closed, 2000, 'broken client closed');
  await ask(first, 'fine\n', 'Echo: fine');
  const third = await connect('tcp', port);
  await ask(third, 'fine too\n', 'Echo: fine too');
  assert.equal(server.sessions.size, 2);
  assert.ok(logs.some((record) => record.msg === 'handler constructor failed'));
});

test('onError that throws itself still closes only that session', async () => {
  class DoubleFaultHandler extends EchoHandler {
    override async processLine(line: string): Promise<boolean> {
      if (line === 'boom') throw new Error('first');
      return super.processLine(line);
    }
    override async onError(): Promise<void> {
      throw new Error('onError failed too');
    }
  }
  const { port } = await startTcpServer(DoubleFaultHandler);
  const bystander = await connect('tcp', port);
  const victim = await connect('tcp', port);
  await victim.waitFor('> ');
  victim.type('boom\n');
  await within(victim.closed, 2000, 'close after boom');
  await ask(bystander, 'ok\n', 'Echo: ok');
});

test('readLine inside processLine asks follow-up questions; answers typed ahead are kept in order', async () => {
  class WizardHandler extends EchoHandler {
    override async processLine(line: string): Promise<boolean> {
      if (line !== 'wizard') return super.processLine(line);
      const name = await this.readLine('Name? ');
      const colour = await this.readLine('Colour? ');
      await this.sendLine(`${name} likes ${colour}`);
      await this.showPrompt();
      return true;
    }
  }
  const { port } = await startTcpServer(WizardHandler);
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  await ask(client, 'wizard\n', 'Name? ');
  await ask(client, 'Ada\n', 'Colour? ');
  await ask(client, 'green\n', 'Ada likes green\r\n> ');
  // All three lines in one write: the two answers must answer the questions, in order.
  const from = client.text.length;
  client.type('wizard\nGrace\nblue\nafter\n');
  await client.waitFor('Echo: after\r\n> ', { from });
  assert.ok(client.text.slice(from).includes('Grace likes blue\r\n> '), JSON.stringify(client.text.slice(from)));
});

test('readLine with echo off reads a password and sends nothing back but the prompt', async () => {
  const received: string[] = [];
  class LoginHandler extends LineHandler {
    override async onConnect(): Promise<void> {
      const user = await this.readLine('User: ');
      const password = await this.readLine('Password: ', { echo: false });
      received.push(user, password);
      await this.sendLine('');
      await this.sendLine(`Hello ${user}`);
      await this.showPrompt();
    }
  }
  const { port } = await startTcpServer(LoginHandler);
  const client = await RawClient.connect(port);
  await ask(client, '', 'User: ');
  await ask(client, 'ada\n', 'Password: ');
  await ask(client, 's3cret\r\n', '> ');
  assert.deepEqual(received, ['ada', 's3cret']);
  assert.equal(client.text, 'User: Password: \r\nHello ada\r\n> ');
  assert.ok(!client.bytes.includes(255), 'telnet IAC sent on plain TCP');
});

test('readLine after the session closed rejects with SessionClosedError', async () => {
  let lateRead: Promise<unknown> | undefined;
  class LateHandler extends EchoHandler {
    override async onDisconnect(): Promise<void> {
      lateRead = this.readLine('Anyone? ').catch((err: unknown) => err);
    }
  }
  const { port } = await startTcpServer(LateHandler);
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  client.end();
  await client.closed;
  await until(() => lateRead !== undefined, 'onDisconnect', 1000);
  const err = await lateRead;
  assert.ok(err instanceof SessionClosedError);
  assert.equal(err.code, 'ERR_SESSION_CLOSED');
});

test('sendGlobalMessage reaches every client of the server', async () => {
  const { port } = await startTcpServer(EchoHandler);
  const clientsHere = await Promise.all([1, 2, 3].map(() => connect('tcp', port)));
  for (const client of clientsHere) await client.waitFor('> ');
  clientsHere[0]!.type('shout\n');
  for (const client of clientsHere) await client.waitFor(' shouts\r\n');
  const [shout] = clientsHere[0]!.text.match(/[a-z2-7]{16} shouts/) ?? [];
  assert.ok(shout !== undefined);
  for (const client of clientsHere) assert.ok(client.text.includes(shout));
});

test('a CharacterHandler with its own processCharacter sees each character, and Enter as CR', async () => {
  const seen: string[] = [];
  class KeyHandler extends CharacterHandler {
    override async onConnect(): Promise<void> {
      await this.sendLine('ready');
    }
    override async processCharacter(character: string): Promise<boolean> {
      seen.push(character);
      if (character === '\r') await this.sendLine(`got ${seen.length - 1}`);
      if (character === 'q') return false;
      return true;
    }
  }
  const { port } = await startTcpServer(KeyHandler);
  const client = await connect('tcp', port);
  await client.waitFor('ready');
  client.type('aé');
  await sleep(20);
  client.type('中\x7f\r\n');
  await client.waitFor('got 4');
  assert.deepEqual(seen, ['a', 'é', '中', '\x7f', '\r']);
  client.type('q');
  await within(client.closed, 2000, 'close on q');
});

test('a CharacterHandler without overrides edits lines on TCP like a line handler', async () => {
  class DefaultKeys extends CharacterHandler {
    override async onCommandSubmitted(command: string): Promise<void> {
      await this.sendLine(`Echo: ${command}`);
    }
  }
  const { port } = await startTcpServer(DefaultKeys);
  const client = await RawClient.connect(port);
  await client.waitFor('> ');
  await ask(client, 'helo\x7flo\n', 'Echo: hello\r\n> ');
  assert.ok(!client.bytes.includes(255));
});

test('plain TCP never sends telnet bytes, not even for a handler that asks for character input', async () => {
  const { port } = await startTcpServer(EchoHandler, { welcome_message: 'Olá ÿ' });
  const client = await RawClient.connect(port);
  await ask(client, 'ÿÿ\n', 'Echo: ÿÿ\r\n> ');
  await ask(client, 'quit\n', 'Goodbye!');
  assert.ok(!client.bytes.includes(255), 'byte 255 sent on plain TCP');
});

test('a 100 KB line is cut to max_line_length and the session goes on', async () => {
  const { port } = await startTcpServer(EchoHandler, { max_line_length: 1000 });
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  const from = client.text.length;
  client.type(`${'x'.repeat(100 * 1024)}\nnext\n`);
  await client.waitFor('Echo: next\r\n> ', { from });
  assert.equal(client.text.slice(from), `Echo: ${'x'.repeat(1000)}\r\n> Echo: next\r\n> `);
});

test('a handler writing 50 MB to a slow reader waits for it instead of buffering', async () => {
  const total = 50 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let written = 0;
  class FloodHandler extends LineHandler {
    override async onCommandSubmitted(): Promise<void> {
      while (written < total) {
        await this.sendRaw(chunk);
        written += chunk.length;
      }
    }
  }
  const { port } = await startTcpServer(FloodHandler);
  const client = await RawClient.connect(port);
  await client.waitFor('> ');
  client.isCountingOnly = true;
  client.socket.pause();
  client.type('go\n');
  // Wait until the writer stalls: it must, long before 50 MB, while the client reads nothing.
  let stalledAt = -1;
  await within(
    (async () => {
      while (stalledAt !== written) {
        stalledAt = written;
        await sleep(150);
      }
    })(),
    5000,
    'the writer waiting',
  );
  assert.ok(stalledAt > 0, 'the handler wrote nothing');
  assert.ok(stalledAt < 16 * 1024 * 1024, `${stalledAt} bytes taken while the client was paused`);
  client.socket.resume();
  await until(() => client.byteCount >= total, 'receiving 50 MB', 10_000);
  assert.equal(written, total);
  await until(() => client.tail.endsWith('> '), 'the prompt after the flood', 1000);
  assert.ok(!client.isClosed);
});

test('an answer that arrives while a long question is still being sent answers it', async () => {
  const question = `${'?'.repeat(12 * 1024 * 1024)}Name? `;
  class SlowQuestionHandler extends EchoHandler {
    override async processLine(line: string): Promise<boolean> {
      if (line !== 'ask') return super.processLine(line);
      const name = await this.readLine(question);
      await this.sendLine(`Hello ${name}`);
      return true;
    }
  }
  const { port } = await startTcpServer(SlowQuestionHandler);
  const client = await RawClient.connect(port);
  await client.waitFor('> ');
  client.isCountingOnly = true;
  client.socket.pause();
  client.type('ask\n');
  await sleep(100);
  client.type('Ada\n');
  await sleep(100);
  const before = client.byteCount;
  client.socket.resume();
  await until(() => client.tail.endsWith('Hello Ada\r\n'), 'the answer to the question', 5000);
  assert.equal(client.byteCount - before, question.length + 'Hello Ada\r\n'.length);
});

test('one write larger than the output limit reaches a client that reads it', async () => {
  const size = 20 * 1024 * 1024;
  class BigReplyHandler extends LineHandler {
    override async onCommandSubmitted(): Promise<void> {
      await this.sendRaw(Buffer.alloc(size, 'y'));
    }
  }
  const { port } = await startTcpServer(BigReplyHandler);
  const client = await RawClient.connect(port);
  await client.waitFor('> ');
  const before = client.byteCount;
  client.isCountingOnly = true;
  client.type('go\n');
  await until(() => client.tail.endsWith('> '), 'the reply and the prompt', 10_000);
  assert.equal(client.byteCount - before, size + 2);
});

test('a handler that ignores backpressure is cut off instead of buffering without bound', async () => {
  let disconnected = false;
  class CarelessHandler extends LineHandler {
    override async onCommandSubmitted(): Promise<void> {
      const chunk = Buffer.alloc(1024 * 1024, 'z');
      for (let i = 0; i < 64 && !disconnected; i++) {
        void this.sendRaw(chunk);
        await sleep(1);
      }
    }
    override async onDisconnect(): Promise<void> {
      disconnected = true;
    }
  }
  const { server, port } = await startTcpServer(CarelessHandler);
  const client = await RawClient.connect(port);
  await client.waitFor('> ');
  client.isCountingOnly = true;
  client.socket.pause();
  client.type('go\n');
  await until(() => disconnected, 'the careless session ending', 5000);
  assert.equal(server.sessions.size, 0);
});

test('stop() returns soon after the grace period even if a handler never finishes onDisconnect', async () => {
  class StuckHandler extends EchoHandler {
    override async onDisconnect(): Promise<void> {
      await new Promise(() => undefined);
    }
  }
  const { server, port } = await startTcpServer(StuckHandler);
  const client = await connect('tcp', port);
  await client.waitFor('> ');
  const started = Date.now();
  await within(server.stop(100), 3000, 'stop()');
  assert.ok(Date.now() - started < 2500);
  await client.closed;
  assert.ok(await refusesConnections(port));
});

test('a flood of lines to a busy handler stops being read, then every line is handled in order', async () => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const handled: string[] = [];
  class BusyHandler extends LineHandler {
    override async onConnect(): Promise<void> {}

    override async processLine(line: string): Promise<boolean> {
      await released;
      // Another client's lines, read while these waited.
      if (line.startsWith('y')) return true;
      handled.push(line.slice(0, 8));
      if (handled.length === LINES) await this.sendLine('all handled');
      return true;
    }
  }
  const LINES = 20_000;
  const { port } = await startTcpServer(BusyHandler, { max_line_length: 2000 });
  const client = await RawClient.connect(port);
  const lines = Array.from({ length: LINES }, (_, i) => `${String(i).padStart(8, '0')}${'x'.repeat(992)}\n`);
  client.socket.write(lines.join(''));
  // 20 MB cannot all sit in loopback buffers: once the server stops reading, the rest waits here.
  await until(() => client.socket.writableLength > 0, 'the client holding back unread data', 2000);
  // The server reads all sockets into one buffer: what the first session holds must be its own.
  const other = await RawClient.connect(port);
  other.type(`${'y'.repeat(1000)}\n`.repeat(200));
  // Unpaused, the server would have read it all by now (about 300 ms here) and queued every line.
  await sleep(1000);
  assert.ok(client.socket.writableLength > 0, 'the server is still not reading');
  release();
  await client.waitFor('all handled', { timeoutMs: 10_000 });
  assert.equal(handled.length, LINES);
  // Every line whole and in its place: the reads that waited were not overwritten by later ones.
  const misplaced = handled.findIndex((line, i) => line !== String(i).padStart(8, '0'));
  assert.equal(misplaced, -1, `line ${misplaced} arrived as ${handled[misplaced]}`);
});

test('a welcome and prompt written at once leave in the turn that accepted the client, on every transport that holds output for a turn', async () => {
  for (const transport of ['tcp', 'telnet', 'websocket', 'ws_telnet'] as const) {
    const sentByTurnEnd: number[] = [];
    class Probe extends LineHandler {
      override onConnect(): Promise<void> {
        const shown = super.onConnect();
        // Microtasks run once the accept's callback has returned, before the turn's end (setImmediate).
        queueMicrotask(() => sentByTurnEnd.push(this.session.info().bytesOut));
        return shown;
      }
    }
    const { port } = await startServer(transport, Probe, { welcome_message: 'Hello' }, { logger });
    const client = await connect(transport, port);
    await client.waitFor('> ');
    client.end();
    assert.equal(sentByTurnEnd.length, 1, transport);
    // The welcome and the prompt whole (a WebSocket's 101 answer, a telnet opening come with them).
    assert.ok(
      sentByTurnEnd[0]! >= 'Hello\r\n> '.length,
      `${transport}: ${sentByTurnEnd[0]} bytes written by the end of the turn that accepted it`,
    );
  }
});

test('a line answered at once is written in the turn that read it, on the byte-stream transports', async () => {
  for (const transport of ['tcp', 'telnet'] as const) {
    const sentByTurnEnd: Array<[number, number]> = [];
    class Probe extends LineHandler {
      override onCommandSubmitted(command: string): Promise<void> {
        const before = this.session.info().bytesOut;
        const answered = this.sendLine(`Echo: ${command}`);
        // Microtasks run once the read's callback has returned, before the turn's end (setImmediate).
        queueMicrotask(() => sentByTurnEnd.push([before, this.session.info().bytesOut]));
        return answered;
      }
    }
    const { port } = await startServer(transport, Probe, {}, { logger });
    const client = await connect(transport, port);
    await client.waitFor('> ');
    await ask(client, 'look\r\n', 'Echo: look\r\n> ');
    client.end();
    assert.equal(sentByTurnEnd.length, 1, transport);
    const [before, after] = sentByTurnEnd[0]!;
    // The answer and the prompt after it, whole.
    assert.ok(
      after - before >= 'Echo: look\r\n> '.length,
      `${transport}: ${after - before} bytes of the answer written by the end of the read's callback`,
    );
  }
});
