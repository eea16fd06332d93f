// Integration tests of the websocket and ws_telnet transports with the `ws` client on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';

import { WebSocket } from 'ws';

import { LineHandler, ProtocolServer, parseConfig } from '../src/index.js';
import { DO, IAC, OPT_ECHO, OPT_NAWS, OPT_TTYPE, SB, SE, WILL } from '../src/telnet/constants.js';
import { makeCertificate } from './support/certificate.js';
import { connect } from './support/clients.js';
import { EchoHandler } from './support/handlers.js';
import { ReceivedText, until } from './support/received-text.js';
import { startServer } from './support/servers.js';

/** The shared EchoHandler, plus `query` (the URL's token) and `size` (the window size). */
class QueryEchoHandler extends EchoHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'query') await this.sendLine(`token=${this.session.query.get('token') ?? ''}`);
    else if (command === 'size') await this.sendLine(`size=${this.terminal.cols}x${this.terminal.rows}`);
    else await super.onCommandSubmitted(command);
  }
}

const sockets: WebSocket[] = [];

after(() => {
  for (const socket of sockets) socket.terminate();
});

/**
 * A WebSocket client at the frame level, for what the shared client hides: binary frames (kept
 * in `binary`, and decoded as UTF-8 text too), the handshake's HTTP status, subprotocols and `ws`
 * options (headers, autoPong, TLS).
 */
class FrameClient {
  readonly ws: WebSocket;
  readonly received = new ReceivedText();
  binary: number[] = [];
  /** How many messages came in each type. */
  messages = { text: 0, binary: 0 };
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}, protocols?: string[]) {
    this.ws = new WebSocket(url, protocols, options);
    sockets.push(this.ws);
    // Failures surface through open(), refused() and closed; this keeps them off the process.
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) this.binary.push(...data);
      this.messages[isBinary ? 'binary' : 'text']++;
      this.received.add(data.toString('utf8'));
    });
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Connects and waits for the handshake to succeed. */
  static async open(...args: ConstructorParameters<typeof FrameClient>): Promise<FrameClient> {
    const client = new FrameClient(...args);
    await new Promise((resolve, reject) => {
      client.ws.once('open', resolve);
      client.ws.once('error', reject);
    });
    return client;
  }

  /** Resolves with the HTTP status of a refused handshake. */
  refused(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      this.ws.once('open', () => reject(new Error('handshake unexpectedly accepted')));
    });
  }

  get text(): string {
    return this.received.text;
  }

  waitFor(pattern: string | RegExp, options?: { from?: number }): Promise<void> {
    return this.received.waitFor(pattern, options);
  }
}

describe('websocket transport', () => {
  test('one message is one line; the reply and the prompt arrive without waiting for more', async () => {
    const { port } = await startServer('websocket', EchoHandler, { welcome_message: 'Hi there' });
    const client = await connect('websocket', port);
    await client.waitFor('Hi there\r\n> ');
    client.send('hello');
    await client.waitFor('Echo: hello\r\n> ');
  });

  test('a message with newlines is several lines; a binary message is read as UTF-8 text', async () => {
    const { port } = await startServer('websocket', EchoHandler);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws`);
    client.ws.send('one\ntwo\r\nthree');
    await client.waitFor('Echo: one\r\n> Echo: two\r\n> Echo: three\r\n');
    client.ws.send(Buffer.from('héllo 中文 😀', 'utf8'), { binary: true });
    await client.waitFor('Echo: héllo 中文 😀');
  });

  test('paths below ws_path and query strings are accepted; the handler sees the query', async () => {
    const { port } = await startServer('websocket', QueryEchoHandler);
    const client = await connect('websocket', port, { path: '/ws/room?token=abc' });
    client.send('query');
    await client.waitFor('token=abc');
  });

  test('any other path gets HTTP 404 before upgrading, including one that merely starts alike', async () => {
    const { port } = await startServer('websocket', EchoHandler);
    await assert.rejects(connect('websocket', port, { path: '/wsx' }), { message: 'HTTP 404' });
    await assert.rejects(connect('websocket', port, { path: '/other' }), { message: 'HTTP 404' });
  });

  test('an Origin outside allow_origins gets HTTP 403; a listed one and none at all are accepted', async () => {
    const { port } = await startServer('websocket', EchoHandler, { allow_origins: ['https://good.example'] });
    const url = `ws://127.0.0.1:${port}/ws`;
    assert.equal(await new FrameClient(url, { headers: { Origin: 'https://evil.example' } }).refused(), 403);
    await FrameClient.open(url, { headers: { Origin: 'https://good.example' } });
    await connect('websocket', port);
  });

  test('with require_origin a request without Origin gets HTTP 403; a listed Origin is accepted', async () => {
    const { port } = await startServer('websocket', EchoHandler, {
      allow_origins: ['https://good.example'],
      require_origin: true,
    });
    await assert.rejects(connect('websocket', port), { message: 'HTTP 403' });
    await FrameClient.open(`ws://127.0.0.1:${port}/ws`, { headers: { Origin: 'https://good.example' } });
  });

  test('at capacity the handshake gets HTTP 503 and existing sessions go on', async () => {
    const { port } = await startServer('websocket', EchoHandler, { max_connections: 1 });
    const first = await connect('websocket', port);
    await first.waitFor('> ');
    await assert.rejects(connect('websocket', port), { message: 'HTTP 503' });
    first.send('still here');
    await first.waitFor('Echo: still here');
  });

  test('quit closes the socket with 1000 "Session ended" after Goodbye!', async () => {
    const { port } = await startServer('websocket', EchoHandler);
    const client = await connect('websocket', port);
    client.send('quit');
    const { code, reason } = await client.closed;
    assert.equal(code, 1000);
    assert.equal(reason, 'Session ended');
    assert.match(client.text, /Goodbye!\r\n$/);
  });

  test('a client gone without a close frame ends its session as connection-lost', async () => {
    const { server, port } = await startServer('websocket', EchoHandler);
    const reasons = endReasons(server);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws`);
    await client.waitFor('> ');
    client.ws.terminate();
    await until(() => reasons.length === 1, 'the session ended');
    assert.deepEqual(reasons, ['connection-lost']);
  });

  test('a message over max_message_size closes the connection with 1009; others are unaffected', async () => {
    const { port } = await startServer('websocket', EchoHandler, { max_message_size: 1024 });
    const [bystander, big] = await Promise.all([connect('websocket', port), connect('websocket', port)]);
    big.send('x'.repeat(2048));
    assert.equal((await big.closed).code, 1009);
    bystander.send('fine');
    await bystander.waitFor('Echo: fine');
  });

  test('a peer that stops answering pings is dropped after ping_timeout', async () => {
    const { server, port } = await startServer('websocket', EchoHandler, { ping_interval: 0.2, ping_timeout: 0.2 });
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws`, { autoPong: false });
    await client.waitFor('> ');
    assert.equal(server.sessions.size, 1);
    await client.closed;
    await until(() => server.sessions.size === 0, 'the session to end');
  });

  test('a peer that answers pings stays connected', async () => {
    const { port } = await startServer('websocket', EchoHandler, { ping_interval: 0.1, ping_timeout: 0.1 });
    const client = await connect('websocket', port);
    await new Promise((resolve) => setTimeout(resolve, 500));
    client.send('alive');
    await client.waitFor('Echo: alive');
  });

  test('the telnet subprotocol selects telnet handling on the websocket transport', async () => {
    const { port } = await startServer('websocket', EchoHandler);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws`, {}, ['telnet.mudstandards.org']);
    assert.equal(client.ws.protocol, 'telnet.mudstandards.org');
    await client.waitFor('> ');
    assert.ok(client.binary.includes(IAC), 'telnet negotiation was sent');
  });
});

describe('ws_telnet transport', () => {
  test('negotiates in binary frames, echoes typed characters and reports the window size', async () => {
    const { port } = await startServer('ws_telnet', QueryEchoHandler);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws_telnet`);
    await client.waitFor('> ');
    const sent = Buffer.from(client.binary);
    assert.ok(sent.includes(Buffer.from([IAC, DO, OPT_TTYPE])), 'asks for the terminal type');
    assert.ok(sent.includes(Buffer.from([IAC, DO, OPT_NAWS])), 'asks for the window size');
    client.ws.send(Buffer.from([IAC, WILL, OPT_NAWS, IAC, SB, OPT_NAWS, 0, 120, 0, 40, IAC, SE]));
    client.ws.send(Buffer.from([IAC, WILL, OPT_TTYPE]));
    // WILL ECHO waits for the terminal type or a quarter second; then the client agrees.
    await until(() => Buffer.from(client.binary).includes(Buffer.from([IAC, WILL, OPT_ECHO])), 'WILL ECHO');
    assert.ok(Buffer.from(client.binary).includes(Buffer.from([IAC, WILL, OPT_ECHO])), 'offers to echo');
    client.ws.send(Buffer.from([IAC, DO, OPT_ECHO]));
    client.ws.send(Buffer.from('s'));
    client.ws.send(Buffer.from('ize\r'));
    await client.waitFor('size\r\nsize=120x40\r\n');
    // Telnet is binary: text, echo and negotiation alike.
    assert.deepEqual(client.messages, { text: 0, binary: client.messages.binary });
    // A whole line's echo, its answer and the prompt come in one message.
    const before = client.messages.binary;
    client.ws.send(Buffer.from('size\r\n'));
    await client.waitFor('size\r\nsize=120x40\r\n> ', { from: client.text.length });
    assert.equal(client.messages.binary, before + 1);
  });

  test('a text frame is accepted as telnet data too', async () => {
    const { port } = await startServer('ws_telnet', EchoHandler);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws_telnet`);
    await client.waitFor('> ');
    client.ws.send('hello\r\n');
    await client.waitFor('Echo: hello');
  });

  test('the plain subprotocol selects text handling on ws_telnet', async () => {
    const { port } = await startServer('ws_telnet', EchoHandler);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws_telnet`, {}, ['plain.mudstandards.org']);
    assert.equal(client.ws.protocol, 'plain.mudstandards.org');
    client.ws.send('hello');
    await client.waitFor('Echo: hello');
    assert.ok(!client.binary.includes(IAC) && !client.text.includes('\u00ff'), 'no telnet bytes');
  });
});

describe('TLS', () => {
  let certDir = '';
  let certificate = { cert: '', key: '' };

  before(() => {
    certDir = mkdtempSync(join(tmpdir(), 'cps-tls-'));
    // In CI openssl is installed by .ci/run; a missing one fails this suite on purpose.
    certificate = makeCertificate('127.0.0.1');
  });

  test('wss:// serves sessions with the configured certificate', async () => {
    const { port } = await startServer('websocket', EchoHandler, {
      use_ssl: true,
      ssl_cert: certificate.cert,
      ssl_key: certificate.key,
    });
    const client = await FrameClient.open(`wss://127.0.0.1:${port}/ws`, { rejectUnauthorized: false });
    client.ws.send('secure');
    await client.waitFor('Echo: secure');
  });

  test('tcp over TLS serves the same handler with the same certificate', async () => {
    const { port } = await startServer('tcp', EchoHandler, {
      use_ssl: true,
      ssl_cert: certificate.cert,
      ssl_key: certificate.key,
    });
    const received = new ReceivedText();
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => received.add(text));
    await received.waitFor('> ');
    assert.equal(socket.getPeerCertificate().subject?.CN, '127.0.0.1');
    socket.write('over tls\r\n');
    await received.waitFor('Echo: over tls\r\n> ');
    socket.destroy();
  });

  test('a missing certificate file is a clear start-up error naming the key', async () => {
    const config = parseConfig(
      {
        servers: {
          secure: {
            transport: 'websocket',
            host: '127.0.0.1',
            port: 0,
            handler_class: './unused.ts:Unused',
            use_ssl: true,
            ssl_cert: join(certDir, 'missing.pem'),
            ssl_key: certificate.key,
          },
        },
      },
      process.cwd(),
    );
    const server = new ProtocolServer(config.servers[0]!, EchoHandler);
    await assert.rejects(server.start(), (err: Error & { code: string }) => {
      assert.equal(err.code, 'ERR_SERVER_START');
      assert.match(err.message, /^servers\.secure\.ssl_cert: cannot read .*missing\.pem: no such file$/);
      return true;
    });
  });

  test('a file that is not a certificate is a clear start-up error', async () => {
    const bogus = join(certDir, 'bogus.pem');
    writeFileSync(bogus, 'not a certificate');
    const config = parseConfig(
      {
        transport: 'websocket',
        host: '127.0.0.1',
        port: 0,
        handler_class: './x.ts:X',
        use_ssl: true,
        ssl_cert: bogus,
        ssl_key: bogus,
      },
      process.cwd(),
    );
    await assert.rejects(new ProtocolServer(config.servers[0]!, EchoHandler).start(), /invalid TLS certificate or key/);
  });

  test('the terminal page is served over https when web_client is on', async () => {
    const { port } = await startServer('websocket', EchoHandler, {
      use_ssl: true,
      ssl_cert: certificate.cert,
      ssl_key: certificate.key,
      web_client: true,
    });
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/assets/xterm.js', rejectUnauthorized: false }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        })
        .on('error', reject);
    });
    assert.equal(status, 200);
  });
});

test('a LineHandler over websocket behaves as over TCP: readLine inside processLine', async () => {
  class Wizard extends LineHandler {
    override async processLine(line: string): Promise<boolean> {
      if (line !== 'register') return super.processLine(line);
      const name = await this.readLine('Name? ');
      await this.sendLine(`Hello, ${name}!`);
      await this.showPrompt();
      return true;
    }
  }
  const { port } = await startServer('websocket', Wizard);
  const client = await connect('websocket', port);
  client.send('register');
  await client.waitFor('Name? ');
  client.send('Ada');
  await client.waitFor('Hello, Ada!\r\n> ');
});

/** A WebSocket client written by hand on a TCP socket: it sends exactly what a test says. */
class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  readonly ended: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (bytes) => (this.received = Buffer.concat([this.received, bytes])));
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    return new RawClient(socket);
  }

  /** The answer's status line and headers, each ending in CR LF. */
  get head(): string {
    const end = this.received.indexOf('\r\n\r\n');
    return end === -1 ? '' : this.received.subarray(0, end + 2).toString('latin1');
  }

  /** The frames after the head: opcode and payload. */
  get frames(): Array<{ opcode: number; payload: Buffer }> {
    const frames: Array<{ opcode: number; payload: Buffer }> = [];
    let at = this.received.indexOf('\r\n\r\n') + 4;
    while (at + 2 <= this.received.length) {
      let length = this.received[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        length = this.received.readUInt16BE(at + 2);
        start += 2;
      }
      if (start + length > this.received.length) break;
      frames.push({ opcode: this.received[at]! & 0x0f, payload: this.received.subarray(start, start + length) });
      at = start + length;
    }
    return frames;
  }

  /** The text of the data frames so far. */
  get text(): string {
    return this.frames
      .filter((frame) => frame.opcode === 1 || frame.opcode === 2)
      .map((frame) => frame.payload.toString('utf8'))
      .join('');
  }

  /** The status code of the server's close frame, once it has come. */
  get closeCode(): number | undefined {
    const close = this.frames.find((frame) => frame.opcode === 8);
    return close === undefined ? undefined : close.payload.readUInt16BE(0);
  }
}

/** A client's upgrade request for `path`, with `headers` added. */
function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  return `GET ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
}

/** A client's frame, masked as a client's must be unless `masked` is false. */
function clientFrame(opcode: number, payload: Buffer | string, masked = true): Buffer {
  const bytes = Buffer.from(payload);
  const mask = masked ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : Buffer.alloc(0);
  const header = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | bytes.length]);
  const body = Buffer.from(bytes.map((byte, i) => (masked ? byte ^ mask[i % 4]! : byte)));
  return Buffer.concat([header, mask, body]);
}

/** The reasons the server's sessions end with, from now on, in order. */
function endReasons(server: ProtocolServer): string[] {
  const reasons: string[] = [];
  server.hub.events.on('session-ended', ({ reason }) => reasons.push(reason));
  return reasons;
}

/** Counts the events Node's HTTP servers emit from now on, by name. */
function countHttpEvents(t: TestContext): Map<string | symbol, number> {
  const counts = new Map<string | symbol, number>();
  const emit = http.Server.prototype.emit;
  t.mock.method(
    http.Server.prototype,
    'emit',
    function (this: http.Server, event: string | symbol, ...args: unknown[]) {
      counts.set(event, (counts.get(event) ?? 0) + 1);
      return (emit as (this: http.Server, ...all: unknown[]) => boolean).call(this, event, ...args);
    },
  );
  return counts;
}

describe('upgrade requests read off the socket (a plain port)', () => {
  test("a session's upgrade is read and answered without Node's HTTP server; a page request goes to it", async (t) => {
    const { port } = await startServer('websocket', EchoHandler);
    const events = countHttpEvents(t);
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws`);
    await client.waitFor('> ');
    client.ws.send('hello');
    await client.waitFor('Echo: hello');
    assert.equal(events.get('connection'), undefined);
    assert.equal(events.get('upgrade'), undefined);
    const page = await fetch(`http://127.0.0.1:${port}/nothing-here`);
    assert.equal(page.status, 404);
    assert.equal(events.get('connection'), 1);
  });

  test('a request that comes in pieces, and frames sent with it, are read as they would be whole', async () => {
    const { port } = await startServer('websocket', EchoHandler);
    const slow = await RawClient.connect(port);
    const request = upgradeRequest('/ws');
    for (const piece of [request.slice(0, 5), request.slice(5, 60), request.slice(60)]) {
      slow.socket.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await until(() => slow.text.endsWith('> '), 'the welcome after a request in three pieces');
    assert.match(slow.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.match(slow.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);

    const eager = await RawClient.connect(port);
    eager.socket.write(Buffer.concat([Buffer.from(upgradeRequest('/ws')), clientFrame(1, 'hello')]));
    await until(() => eager.text.includes('Echo: hello\r\n'), 'the echo of a frame sent with the request');
  });

  test("requests that are not plain go to Node's HTTP server as they came, and are answered there", async (t) => {
    const { port } = await startServer('websocket', EchoHandler);
    const events = countHttpEvents(t);
    // A body's length on an upgrade: unusual, left to Node's parser; still a session.
    const unusual = await RawClient.connect(port);
    unusual.socket.write(upgradeRequest('/ws', { 'Content-Length': '0' }));
    await until(() => unusual.text.endsWith('> '), 'the welcome through Node');
    assert.equal(events.get('upgrade'), 1);
    // A head past Node's header limit.
    const huge = await RawClient.connect(port);
    huge.socket.write(upgradeRequest('/ws', { Cookie: 'x'.repeat(20_000) }));
    await until(() => huge.received.length > 0, 'an answer to an oversized head');
    assert.match(huge.received.toString('latin1'), /^HTTP\/1\.1 431 /);
  });

  test('a bad handshake gets the status and words the ws package gives', async () => {
    const { port } = await startServer('websocket', EchoHandler);
    const version = await RawClient.connect(port);
    version.socket.write(upgradeRequest('/ws', { 'Sec-WebSocket-Version': '7' }));
    await version.ended;
    assert.match(version.head, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(version.head, /\r\nSec-WebSocket-Version: 13, 8/);
    assert.match(version.received.toString(), /Missing or invalid Sec-WebSocket-Version header$/);
    const key = await RawClient.connect(port);
    key.socket.write(upgradeRequest('/ws', { 'Sec-WebSocket-Key': 'short' }));
    await key.ended;
    assert.match(key.head, /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  test('a frame that breaks the protocol is answered with its close code; a ping gets its pong', async () => {
    const { server, port } = await startServer('websocket', EchoHandler);
    const reasons = endReasons(server);
    const unmasked = await RawClient.connect(port);
    unmasked.socket.write(Buffer.concat([Buffer.from(upgradeRequest('/ws')), clientFrame(1, 'hi', false)]));
    await unmasked.ended;
    assert.equal(unmasked.closeCode, 1002);
    const badText = await RawClient.connect(port);
    badText.socket.write(
      Buffer.concat([Buffer.from(upgradeRequest('/ws')), clientFrame(1, Buffer.from([0xc3, 0x28]))]),
    );
    await badText.ended;
    assert.equal(badText.closeCode, 1007);
    await until(() => server.sessions.size === 0, 'both sessions ended');
    assert.deepEqual(reasons, ['connection-lost', 'connection-lost']);

    const pinger = await FrameClient.open(`ws://127.0.0.1:${port}/ws`);
    const pong = new Promise<Buffer>((resolve) => pinger.ws.once('pong', resolve));
    pinger.ws.ping(Buffer.from('are you there'));
    assert.equal((await pong).toString(), 'are you there');
  });

  test('a client that closes is answered with its own code, and the session ends as client-closed', async () => {
    const { server, port } = await startServer('websocket', EchoHandler);
    const reasons = endReasons(server);
    const client = await RawClient.connect(port);
    client.socket.write(upgradeRequest('/ws'));
    await until(() => client.text.endsWith('> '), 'the welcome');
    const code = Buffer.alloc(2);
    code.writeUInt16BE(4000);
    client.socket.write(clientFrame(8, code));
    await until(() => client.closeCode !== undefined, 'the close frame answered');
    assert.equal(client.closeCode, 4000);
    // The server ends the TCP connection once the close handshake is done.
    client.socket.end();
    await client.ended;
    await until(() => reasons.length === 1, 'the session ended');
    assert.deepEqual(reasons, ['client-closed']);
  });
});
