// Session resume and the control channel over real WebSocket connections on 127.0.0.1 (the `ws` client).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';

import { pino } from 'pino';
import { WebSocket } from 'ws';

import { TelnetHandler } from '../src/index.js';
import { IAC, DO, OPT_TTYPE } from '../src/telnet/constants.js';
import { TELNET_CONTROL_SUBPROTOCOL, TEXT_CONTROL_SUBPROTOCOL } from '../src/transports/control-channel.js';
import { connectClient } from '../src/testing/index.js';
import { ReceivedText, until } from './support/received-text.js';
import { startServer } from './support/servers.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** Counts lines across a dropped connection; `secret` asks a hidden question, `info` describes the terminal. */
class CountingHandler extends TelnetHandler {
  static resumed = 0;
  static disconnected = 0;
  count = 0;

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'info') {
      for (const line of this.describeTerminal()) await this.sendLine(line);
    } else if (command === 'token') {
      await this.sendLine(`token ${this.session.offerResume() ?? 'none'}`);
    } else if (command === 'secret') {
      const answer = await this.readLine('Password? ', { echo: false });
      await this.sendLine(`The password has ${answer.length} characters.`);
    } else {
      this.count++;
      await this.sendLine(`count ${this.count}`);
    }
  }

  override async onResume(): Promise<void> {
    CountingHandler.resumed++;
  }

  override async onDisconnect(): Promise<void> {
    CountingHandler.disconnected++;
  }
}

const sockets: WebSocket[] = [];
after(() => {
  for (const socket of sockets) socket.terminate();
});

interface Control {
  type: string;
  token?: string;
  resumed?: boolean;
  grace?: number;
  hidden?: boolean;
}

/** A client of our subprotocols: data in `received`, control messages parsed in `controls`. */
class ControlClient {
  readonly ws: WebSocket;
  readonly received = new ReceivedText();
  readonly controls: Control[] = [];
  readonly closed: Promise<number>;

  constructor(url: string, protocols: string[]) {
    this.ws = new WebSocket(url, protocols);
    sockets.push(this.ws);
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer, isBinary) => {
      const isControl = this.ws.protocol === TEXT_CONTROL_SUBPROTOCOL ? isBinary : !isBinary;
      if (this.ws.protocol !== '' && isControl) this.controls.push(JSON.parse(data.toString('utf8')) as Control);
      else this.received.add(data.toString('latin1'));
    });
    this.closed = new Promise((resolve) => this.ws.on('close', (code) => resolve(code)));
  }

  static async open(url: string, protocols: string[] = [TEXT_CONTROL_SUBPROTOCOL]): Promise<ControlClient> {
    const client = new ControlClient(url, protocols);
    await new Promise((resolve, reject) => {
      client.ws.once('open', resolve);
      client.ws.once('error', reject);
    });
    return client;
  }

  /** The token of the last session message, once one has come. */
  async token(): Promise<string> {
    await until(() => this.controls.some((control) => control.type === 'session'), 'a session message');
    return this.controls.findLast((control) => control.type === 'session')!.token!;
  }

  sendControl(message: object): void {
    const text = JSON.stringify(message);
    this.ws.send(this.ws.protocol === TEXT_CONTROL_SUBPROTOCOL ? Buffer.from(text) : text, {
      binary: this.ws.protocol === TEXT_CONTROL_SUBPROTOCOL,
    });
  }

  /** The network drops: the TCP connection goes without a close frame. */
  cut(): void {
    this.ws.terminate();
  }
}

describe('the control channel', () => {
  test('text.chuk-protocol-server: text as before, the window size reaches the handler, hidden input is announced', async () => {
    const { port } = await startServer('websocket', CountingHandler, { resume_grace: 30 });
    const client = await ControlClient.open(`ws://127.0.0.1:${port}/ws`);
    await client.received.waitFor('> ');
    const [offer] = client.controls;
    assert.equal(offer?.type, 'session');
    assert.equal(offer.resumed, false);
    assert.equal(offer.grace, 30);
    client.sendControl({ type: 'size', cols: 132, rows: 43 });
    client.ws.send('info');
    await client.received.waitFor('Window size: 132x43');
    client.ws.send('secret');
    await client.received.waitFor('Password? ');
    await until(() => client.controls.some((control) => control.type === 'input'), 'an input message');
    assert.deepEqual(client.controls.at(-1), { type: 'input', hidden: true });
    client.ws.send('sesame');
    await client.received.waitFor('The password has 6 characters.');
    assert.deepEqual(client.controls.at(-1), { type: 'input', hidden: false });
  });

  test('a client that offers no subprotocol of ours is sent no control messages and gets no token', async () => {
    const { server, port } = await startServer('websocket', CountingHandler, { resume_grace: 30 });
    const client = await ControlClient.open(`ws://127.0.0.1:${port}/ws`, []);
    client.ws.send('secret');
    await client.received.waitFor('Password? ');
    client.ws.send('sesame');
    await client.received.waitFor('The password has 6 characters.\r\n');
    assert.deepEqual(client.controls, []);
    assert.ok(!client.received.text.includes('{'), client.received.text);
    // Without a token it cannot come back, so its session ends with the connection.
    client.cut();
    await until(() => server.info().connections === 0, 'the session to end');
  });
});

describe('session resume', () => {
  test('a cut connection resumed with its token: the output written meanwhile, then live, the state intact', async () => {
    const logged: string[] = [];
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logged.push(chunk.toString());
          done();
        },
      }),
    );
    const { server, port } = await startServer('websocket', CountingHandler, { resume_grace: 30 }, { logger });
    const url = `ws://127.0.0.1:${port}/ws?room=blue`;
    const first = await ControlClient.open(url);
    const token = await first.token();
    first.ws.send('one');
    await first.received.waitFor('count 1\r\n> ');
    const resumedBefore = CountingHandler.resumed;
    const disconnectedBefore = CountingHandler.disconnected;
    first.cut();
    const detached = new Promise((resolve) => server.hub.events.on('session-detached', resolve));
    await detached;
    const [waiting] = await server.hub.list();
    assert.equal(typeof waiting?.detachedAt, 'number', 'listed as waiting for its client');
    await server.sendGlobalMessage('Written while you were away');

    const second = await ControlClient.open(`${url}&resume=${token}`);
    await second.received.waitFor('Written while you were away');
    const offer = second.controls.find((control) => control.type === 'session');
    assert.equal(offer?.resumed, true);
    assert.notEqual(offer.token, token, 'a new token on every resume');
    second.ws.send('two');
    await second.received.waitFor('count 2\r\n> ');
    assert.ok(!second.received.text.includes('Welcome'), 'no second welcome: the same session');
    assert.equal(CountingHandler.resumed, resumedBefore + 1);
    assert.equal(CountingHandler.disconnected, disconnectedBefore);
    const [listed] = await server.hub.list();
    assert.equal(listed?.detachedAt, undefined);
    assert.equal(server.info().connections, 1);
    const logs = logged.join('');
    assert.match(logs, /session resumed/);
    assert.ok(!logs.includes(token) && !logs.includes(offer.token!), 'tokens are never logged');
  });

  test('a used, unknown or another server’s token gets a fresh session', async () => {
    const { port } = await startServer('websocket', CountingHandler, { resume_grace: 30 });
    const { port: otherPort } = await startServer('websocket', CountingHandler, { resume_grace: 30 });
    const first = await ControlClient.open(`ws://127.0.0.1:${port}/ws`);
    const token = await first.token();
    first.ws.send('one');
    await first.received.waitFor('count 1');
    first.cut();
    const elsewhere = await ControlClient.open(`ws://127.0.0.1:${otherPort}/ws?resume=${token}`);
    await elsewhere.received.waitFor('> ');
    assert.equal(elsewhere.controls[0]?.resumed, false);
    const back = await ControlClient.open(`ws://127.0.0.1:${port}/ws?resume=${token}`);
    back.ws.send('two');
    await back.received.waitFor('count 2');
    for (const stale of [token, 'A'.repeat(22)]) {
      const client = await ControlClient.open(`ws://127.0.0.1:${port}/ws?resume=${stale}`);
      await client.received.waitFor('> ');
      assert.equal(client.controls[0]?.resumed, false);
      client.ws.send('again');
      await client.received.waitFor('count 1');
    }
  });

  test('a connection the server has not seen drop is taken over by the client that comes back', async () => {
    const { server, port } = await startServer('websocket', CountingHandler, { resume_grace: 30 });
    const first = await ControlClient.open(`ws://127.0.0.1:${port}/ws`);
    first.ws.send('one');
    await first.received.waitFor('count 1');
    const second = await ControlClient.open(`ws://127.0.0.1:${port}/ws?resume=${await first.token()}`);
    second.ws.send('two');
    await second.received.waitFor('count 2');
    assert.equal(await first.closed, 1006, 'the old connection is dropped');
    assert.equal(server.info().connections, 1);
  });

  test('a client coming back is let in at max_connections: its session holds its place', async () => {
    const { port } = await startServer('websocket', CountingHandler, { resume_grace: 30, max_connections: 1 });
    const first = await ControlClient.open(`ws://127.0.0.1:${port}/ws`);
    const token = await first.token();
    first.cut();
    const refused = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    sockets.push(refused);
    refused.on('error', () => undefined);
    const status = await new Promise((resolve) =>
      refused.once('unexpected-response', (_, res) => resolve(res.statusCode)),
    );
    assert.equal(status, 503);
    const back = await ControlClient.open(`ws://127.0.0.1:${port}/ws?resume=${token}`);
    back.ws.send('one');
    await back.received.waitFor('count 1');
  });

  test('a session whose grace period ends gets onDisconnect once; shutdown ends waiting sessions', async () => {
    const { server, port } = await startServer('websocket', CountingHandler, { resume_grace: 0.3 });
    const before = CountingHandler.disconnected;
    const first = await ControlClient.open(`ws://127.0.0.1:${port}/ws`);
    const token = await first.token();
    first.cut();
    await until(() => CountingHandler.disconnected === before + 1, 'onDisconnect', 3000);
    assert.equal(server.info().connections, 0);
    const late = await ControlClient.open(`ws://127.0.0.1:${port}/ws?resume=${token}`);
    await late.received.waitFor('> ');
    assert.equal(late.controls[0]?.resumed, false);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(CountingHandler.disconnected, before + 1);

    const { server: other, port: otherPort } = await startServer('websocket', CountingHandler, { resume_grace: 60 });
    const waiting = await ControlClient.open(`ws://127.0.0.1:${otherPort}/ws`);
    await waiting.token();
    waiting.cut();
    await until(() => other.info().connections === 1 && CountingHandler.disconnected === before + 1, 'the drop');
    await other.stop(100);
    assert.equal(CountingHandler.disconnected, before + 2);
  });

  test('ws_telnet: the token comes in a text message under telnet.chuk-protocol-server; the new connection negotiates afresh', async () => {
    const { port } = await startServer('ws_telnet', CountingHandler, { resume_grace: 30 });
    const url = `ws://127.0.0.1:${port}/ws_telnet`;
    const first = await ControlClient.open(url, [TELNET_CONTROL_SUBPROTOCOL]);
    const token = await first.token();
    assert.ok(first.received.text.includes(String.fromCharCode(IAC, DO, OPT_TTYPE)));
    first.ws.send(Buffer.from('one\r\n'), { binary: true });
    await first.received.waitFor('count 1');
    first.cut();
    const second = await ControlClient.open(`${url}?resume=${token}`, [TELNET_CONTROL_SUBPROTOCOL]);
    await second.received.waitFor(String.fromCharCode(IAC, DO, OPT_TTYPE));
    assert.equal(second.controls[0]?.resumed, true);
    second.ws.send(Buffer.from('two\r\n'), { binary: true });
    await second.received.waitFor('count 2');
  });

  test('ssh: the handler shows a token, and a client that comes back with RESUME in its environment gets the session', async (t) => {
    const { server, port } = await startServer('ssh', CountingHandler, { resume_grace: 30 });
    const proxy = await TcpProxy.start(port);
    t.after(() => proxy.close());
    const first = await connectClient('ssh', proxy.port);
    t.after(() => first.destroy());
    first.send('one');
    await first.expect('count 1');
    first.send('token');
    await first.expect(/token ([\w-]{22})\r\n/);
    const token = /token ([\w-]{22})\r\n/.exec(first.text)![1]!;
    const detached = new Promise((resolve) => server.hub.events.on('session-detached', resolve));
    proxy.cut();
    await detached;
    await server.sendGlobalMessage('Written while you were away');
    const second = await connectClient('ssh', port, { environment: { RESUME: token, LANG: 'C.UTF-8' } });
    t.after(() => second.destroy());
    await second.expect('Written while you were away');
    second.send('two');
    await second.expect('count 2');
    second.send('info');
    await second.expect('Environment: LANG=C.UTF-8\r\n');
    // A resumed session offers a new token; the used one is gone from the environment and the screen.
    second.send('token');
    await second.expect(/token [\w-]{22}\r\n/);
    assert.ok(!second.text.includes(token), second.text);
  });

  test('telnet and tcp offer no token: their clients have no way to present one', async () => {
    for (const transport of ['telnet', 'tcp'] as const) {
      const { port } = await startServer(transport, CountingHandler, { resume_grace: 30 });
      const client = await connectClient(transport, port);
      client.send('token');
      await client.expect('token none');
      client.destroy();
    }
  });
});
