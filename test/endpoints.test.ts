// One behaviour list, run on all four transports: what a handler does must not depend on the transport.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { WebSocket } from 'ws';

import { LineHandler, ProtocolServer, TelnetHandler, parseConfig } from '../src/index.js';
import type { HandlerClass, TransportName } from '../src/index.js';
import { DO, DONT, WILL, WONT } from '../src/telnet/constants.js';
import { TelnetDecoder } from '../src/telnet/decoder.js';
import { negotiate } from '../src/telnet/encoder.js';
import { ReceivedText, until } from './support/received-text.js';

class EchoHandler extends TelnetHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine(this.welcomeMessage ?? 'Welcome!');
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'fail') throw new Error('handler failure on purpose');
    if (command === 'broadcast') await this.server.sendGlobalMessage(`from ${this.sessionId}`);
    else await this.sendLine(`Echo: ${command}`);
  }
}

class LoginHandler extends LineHandler {
  override async onConnect(): Promise<void> {
    const name = await this.readLine('Name? ');
    const password = await this.readLine('Password? ', { echo: false });
    await this.sendLine(`Hello ${name}, your password has ${password.length} characters.`);
    await this.showPrompt();
  }
}

/** A client of any transport, seen as a user would: lines in, text out. */
interface Client {
  send(line: string): void;
  waitFor(pattern: string | RegExp): Promise<void>;
  readonly text: string;
  readonly closed: Promise<void>;
  destroy(): void;
}

const servers: ProtocolServer[] = [];
const clients: Client[] = [];

after(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(servers.map((server) => server.stop(100)));
});

async function startServer(
  transport: TransportName,
  handlerClass: HandlerClass,
  settings: Record<string, unknown> = {},
): Promise<{ server: ProtocolServer; port: number }> {
  const config = parseConfig(
    { transport, host: '127.0.0.1', port: 0, handler_class: './unused.ts:Unused', ...settings },
    process.cwd(),
  );
  const server = new ProtocolServer(config.servers[0]!, handlerClass);
  servers.push(server);
  const { port } = await server.start();
  return { server, port };
}

/** TCP, or telnet played by a client that refuses every option (as Python's telnetlib does). */
async function connectSocket(port: number, isTelnet: boolean): Promise<Client> {
  const socket = net.connect(port, '127.0.0.1');
  const connected = new Promise((resolve) => socket.once('connect', resolve));
  const screen = new ReceivedText();
  const decoder = new TelnetDecoder();
  const text = new TextDecoder();
  socket.on('data', (chunk: Buffer) => {
    if (!isTelnet) return screen.add(text.decode(chunk, { stream: true }));
    for (const event of decoder.push(chunk)) {
      if (event.type === 'data') screen.add(text.decode(event.bytes, { stream: true }));
      if (event.type === 'negotiate' && event.verb === DO) socket.write(negotiate(WONT, event.option));
      if (event.type === 'negotiate' && event.verb === WILL) socket.write(negotiate(DONT, event.option));
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await connected;
  return {
    send: (line) => void socket.write(`${line}\r\n`),
    waitFor: (pattern) => screen.waitFor(pattern),
    get text() {
      return screen.text;
    },
    closed,
    destroy: () => socket.destroy(),
  };
}

/** websocket (one text message per line), or ws_telnet refusing every option. */
async function connectWebSocket(port: number, isTelnet: boolean): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${isTelnet ? '/ws_telnet' : '/ws'}`);
  ws.on('error', () => undefined);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
  });
  const screen = new ReceivedText();
  const decoder = new TelnetDecoder();
  const text = new TextDecoder();
  ws.on('message', (data: Buffer) => {
    if (!isTelnet) return screen.add(data.toString('utf8'));
    for (const event of decoder.push(data)) {
      if (event.type === 'data') screen.add(text.decode(event.bytes, { stream: true }));
      if (event.type === 'negotiate' && event.verb === DO) ws.send(negotiate(WONT, event.option));
      if (event.type === 'negotiate' && event.verb === WILL) ws.send(negotiate(DONT, event.option));
    }
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  // Listeners are in place before the first message can arrive with the handshake.
  await opened;
  return {
    send: (line) => ws.send(isTelnet ? Buffer.from(`${line}\r\n`) : line),
    waitFor: (pattern) => screen.waitFor(pattern),
    get text() {
      return screen.text;
    },
    closed,
    destroy: () => ws.terminate(),
  };
}

async function connect(transport: TransportName, port: number): Promise<Client> {
  const client =
    transport === 'tcp' || transport === 'telnet'
      ? await connectSocket(port, transport === 'telnet')
      : await connectWebSocket(port, transport === 'ws_telnet');
  clients.push(client);
  return client;
}

async function refusedOrClosedWith(
  transport: TransportName,
  port: number,
  message: string,
  httpStatus: number,
): Promise<void> {
  // TCP transports say why in plain text; WebSocket ones refuse at the handshake with an HTTP status.
  if (transport === 'tcp' || transport === 'telnet') {
    const client = await connect(transport, port);
    await client.waitFor(message);
    await client.closed;
    return;
  }
  await assert.rejects(connect(transport, port), new RegExp(`HTTP ${httpStatus}`));
}

for (const transport of ['telnet', 'tcp', 'websocket', 'ws_telnet'] as const) {
  describe(`${transport} endpoint`, () => {
    test('welcome, prompt, echo and quit', async () => {
      const { server, port } = await startServer(transport, EchoHandler, { welcome_message: 'Hello from the test' });
      const client = await connect(transport, port);
      await client.waitFor('Hello from the test\r\n> ');
      const scheme = { telnet: 'telnet', tcp: 'tcp', websocket: 'ws', ws_telnet: 'ws' }[transport];
      assert.deepEqual(
        { ...server.info(), url: server.info().url?.replace(/\/ws(_telnet)?$/, '') },
        {
          name: transport,
          transport,
          host: '127.0.0.1',
          port,
          url: `${scheme}://127.0.0.1:${port}`,
          connections: 1,
          maxConnections: 100,
          connectionTimeout: 300,
          isRunning: true,
        },
      );
      client.send('hello');
      await client.waitFor('Echo: hello\r\n> ');
      client.send('quit');
      await client.waitFor('Goodbye!\r\n');
      await client.closed;
    });

    test('UTF-8 text round-trips', async () => {
      const { port } = await startServer(transport, EchoHandler);
      const client = await connect(transport, port);
      await client.waitFor('> ');
      client.send('héllo 中文 😀');
      await client.waitFor('Echo: héllo 中文 😀\r\n');
    });

    test('a client over max_connections is turned away; the others go on', async () => {
      const { port } = await startServer(transport, EchoHandler, { max_connections: 1 });
      const first = await connect(transport, port);
      await first.waitFor('> ');
      await refusedOrClosedWith(transport, port, 'Server is at maximum capacity', 503);
      first.send('still here');
      await first.waitFor('Echo: still here');
    });

    test('max_connections_per_ip turns away one address over its share, and frees the slot on close', async () => {
      const { server, port } = await startServer(transport, EchoHandler, { max_connections_per_ip: 1 });
      const first = await connect(transport, port);
      await first.waitFor('> ');
      await refusedOrClosedWith(transport, port, 'Too many connections from your address', 429);
      first.send('quit');
      await first.closed;
      await until(() => server.sessions.size === 0, 'the first session to end');
      const next = await connect(transport, port);
      await next.waitFor('> ');
    });

    test('an idle session is closed with a notice after connection_timeout', async () => {
      const { port } = await startServer(transport, EchoHandler, { connection_timeout: 0.5 });
      const client = await connect(transport, port);
      await client.waitFor('> ');
      await client.closed;
      assert.match(client.text, /Idle for 0\.5 seconds/);
    });

    test('a handler error closes only its own session', async () => {
      const { server, port } = await startServer(transport, EchoHandler);
      const failing = await connect(transport, port);
      const bystander = await connect(transport, port);
      await Promise.all([failing.waitFor('> '), bystander.waitFor('> ')]);
      failing.send('fail');
      await failing.closed;
      bystander.send('fine');
      await bystander.waitFor('Echo: fine');
      assert.equal(server.sessions.size, 1);
    });

    test('sendGlobalMessage reaches every session', async () => {
      const { port } = await startServer(transport, EchoHandler);
      const sender = await connect(transport, port);
      const listener = await connect(transport, port);
      await Promise.all([sender.waitFor('> '), listener.waitFor('> ')]);
      sender.send('broadcast');
      await listener.waitFor(/from \S+\r\n/);
    });

    test('readLine in onConnect asks questions in order; typed-ahead answers count', async () => {
      const { port } = await startServer(transport, LoginHandler);
      const client = await connect(transport, port);
      await client.waitFor('Name? ');
      client.send('Ada');
      client.send('s3cret');
      await client.waitFor('Hello Ada, your password has 6 characters.\r\n> ');
      assert.ok(!client.text.includes('s3cret'), 'the password is not echoed');
    });

    test('stop() tells every client the server is shutting down and closes them', async () => {
      const { server, port } = await startServer(transport, EchoHandler);
      const client = await connect(transport, port);
      await client.waitFor('> ');
      await server.stop(1000);
      await client.closed;
      assert.match(client.text, /Server is shutting down\r\n$/);
      assert.equal(server.sessions.size, 0);
    });
  });
}
