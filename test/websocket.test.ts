// Integration tests of the websocket and ws_telnet transports with the `ws` client on 127.0.0.1.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

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

  test('a client gone without a close frame ends its session, its frame parser ended once', async (t) => {
    const { server, port } = await startServer('websocket', EchoHandler);
    // Every end() of a stream already ended: Node builds an error (with its stack) for each.
    const end = Writable.prototype.end;
    let repeated = 0;
    t.mock.method(Writable.prototype, 'end', function (this: Writable, ...args: unknown[]) {
      if (this.writableEnded) repeated++;
      return (end as (...args: unknown[]) => Writable).apply(this, args);
    });
    const client = await FrameClient.open(`ws://127.0.0.1:${port}/ws`);
    await client.waitFor('> ');
    client.ws.terminate();
    await until(() => server.sessions.size === 0, 'the session ended');
    t.mock.restoreAll();
    assert.equal(repeated, 0);
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
