// The testing helpers as a handler author uses them: servers on free ports, clients of every transport, expect().
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { TRANSPORTS } from '../config/schema.js';
import { TelnetHandler } from '../handlers/telnet-handler.js';
import { OPT_ECHO, OPT_SGA } from '../telnet/constants.js';
import { ExpectError, connectClient, startTestConfig, startTestServer } from './index.js';
import type { TestServer } from './index.js';

const ECHO_SAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'echo-server', 'config.yaml');

/** Greets, echoes lines, reports what it knows of the terminal, ends on `bye` and floods on `flood`. */
class ReportingHandler extends TelnetHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine(`Welcome, ${this.transport} user!`);
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    const { type, cols, rows } = this.terminal;
    if (command === 'terminal') await this.sendLine(`terminal: ${type ?? 'no type'} ${cols ?? '?'}x${rows ?? '?'}`);
    else if (command === 'bye') await this.endSession('See you.');
    else if (command === 'flood') await this.sendLine(Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n'));
    else await this.sendLine(`Echo: ${command}`);
  }

  override async onWindowSize(cols: number, rows: number): Promise<void> {
    await this.sendLine(`resized: ${cols}x${rows}`);
  }
}

const started: TestServer[] = [];
after(() => Promise.all(started.map((server) => server.stop())));

async function start(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const server = await startTestServer(...args);
  started.push(server);
  return server;
}

test('every transport: connect, expect the welcome, send a line, expect its echo, close', async () => {
  const server = await start(ReportingHandler);
  assert.deepEqual(Object.keys(server.ports).sort(), [...TRANSPORTS].sort());
  for (const transport of TRANSPORTS) {
    const client = await server.connect(transport);
    assert.equal(client.transport, transport);
    await client.expect(`Welcome, ${transport} user!\r\n> `);
    client.send('héllo 中文');
    await client.expect('Echo: héllo 中文\r\n> ');
    await client.close();
    assert.deepEqual(
      await client.closed,
      transport === 'websocket' || transport === 'ws_telnet' ? { code: 1000, reason: '' } : {},
    );
  }
});

test('a failed expect shows exactly what arrived since the last match, escaped', async () => {
  const server = await start(ReportingHandler, { transport: 'tcp' });
  const client = await server.connect('tcp');
  await client.expect('Welcome');
  const err = await client.expect('Echo: nothing', { timeoutMs: 150 }).then(
    () => assert.fail('expect resolved'),
    (error: unknown) => error,
  );
  assert.ok(err instanceof ExpectError);
  assert.equal(err.code, 'ERR_EXPECT_TIMEOUT');
  assert.equal(
    err.message,
    'expect("Echo: nothing") timed out after 150 ms on the tcp client; received since the last match: ", tcp user!\\r\\n> "',
  );
  assert.equal(err.received, ', tcp user!\r\n> ');
  // Only the tail of a long text is shown, with its length.
  client.send('flood');
  await client.expect('line 99\r\n> ');
  const long = await client.expect(/never/, { timeoutMs: 50, from: 0 }).catch((error: unknown) => error);
  assert.ok(long instanceof ExpectError);
  assert.match(
    long.message,
    /^expect\(\/never\/\) timed out after 50 ms on the tcp client; received since the last match: \d+ characters, the last 600: …"/,
  );
  assert.ok(long.message.endsWith('line 98\\r\\nline 99\\r\\n> "'), long.message);
});

test('an expect fails at once, naming the close, when the connection closes before the text arrives', async () => {
  const server = await start(ReportingHandler, { transport: 'websocket' });
  const client = await server.connect('websocket');
  await client.expect('> ');
  const begun = Date.now();
  client.send('bye');
  const err = await client.expect('Echo', { timeoutMs: 5000 }).catch((error: unknown) => error);
  assert.ok(err instanceof ExpectError);
  assert.equal(err.code, 'ERR_EXPECT_CLOSED');
  assert.equal(
    err.message,
    'expect("Echo") failed: the websocket connection closed (code 1000) before it arrived; received since the last match: "See you.\\r\\n"',
  );
  assert.ok(Date.now() - begun < 2000, 'without waiting for the timeout');
});

test('expect moves past each match: two prompts need two expects; from: 0 searches everything', async () => {
  const server = await start(ReportingHandler, { transport: 'tcp' });
  const client = await server.connect('tcp');
  const [welcome] = await client.expect(/Welcome, (\w+) user!/);
  assert.equal(welcome, 'Welcome, tcp user!');
  await client.expect('> ');
  await assert.rejects(client.expect('> ', { timeoutMs: 100 }), { code: 'ERR_EXPECT_TIMEOUT' });
  client.send('one');
  const match = await client.expect(/Echo: (\w+)\r\n> /g);
  assert.equal(match[1], 'one');
  assert.equal(client.text.slice(match.index), 'Echo: one\r\n> ');
  await client.expect('Welcome', { from: 0 });
});

test('a telnet terminal reports its size and type, lets the server echo and edit, and reports a resize', async () => {
  const server = await start(ReportingHandler, { transport: ['telnet', 'ws_telnet'] });
  for (const transport of ['telnet', 'ws_telnet'] as const) {
    const client = await server.connect(transport, { cols: 300, rows: 50, terminalType: 'VT220' });
    await client.expect('> ');
    client.send('terminal');
    await client.expect('terminal: VT220 300x50\r\n> ');
    assert.ok(client.serverOptions.has(OPT_ECHO) && client.serverOptions.has(OPT_SGA), transport);
    // The server echoes each key and edits the line: Backspace takes the p back.
    client.type('hellp\x7fo');
    await client.expect('hellp\b \bo');
    client.send('');
    await client.expect('Echo: hello\r\n> ');
    client.resize(120, 40);
    await client.expect('resized: 120x40');
  }
});

test('an ssh client logs in by name on a pty of its size and type; the server echoes; a resize is a window-change', async () => {
  const server = await start(ReportingHandler, { transport: 'ssh' });
  const client = await server.connect('ssh', { cols: 300, rows: 50, terminalType: 'vt220', username: 'ada' });
  // The pty request comes before the session: the size is known before onConnect runs.
  await client.expect('resized: 300x50\r\nWelcome, ssh user!\r\n> ');
  assert.equal((await server.launch.app.list())[0]?.user, 'ada');
  client.send('terminal');
  await client.expect('terminal: vt220 300x50\r\n> ');
  client.type('hellp\x7fo\r');
  await client.expect('hellp\b \bo\r\nEcho: hello\r\n> ');
  client.resize(120, 40);
  await client.expect('resized: 120x40');
  client.send('bye');
  assert.deepEqual(await client.closed, { exitStatus: 0 });
});

test('a refusing telnet client gets plain lines: no echo, no size, no type', async () => {
  const server = await start(ReportingHandler, { transport: 'telnet' });
  const client = await server.connect('telnet', { telnet: 'refuse' });
  await client.expect('> ');
  client.send('terminal');
  await client.expect('terminal: no type ?x?\r\n> ');
  assert.equal(client.serverOptions.size, 0);
  assert.throws(() => client.resize(100, 30), /DO NAWS/);
});

test('a config file starts as the launcher starts it, handler_class loaded, on free ports of 127.0.0.1', async () => {
  const server = await startTestConfig(ECHO_SAMPLE);
  started.push(server);
  assert.deepEqual(Object.keys(server.ports).sort(), ['ssh', 'tcp', 'telnet', 'websocket', 'ws_telnet']);
  for (const port of Object.values(server.ports)) assert.ok(![8022, 8023, 8024, 8025, 8026].includes(port), `${port}`);
  for (const [name, welcome] of [
    ['telnet', 'Welcome to the Telnet Server!'],
    ['tcp', 'Welcome to the TCP Server!'],
    ['websocket', 'Welcome to the WebSocket Server!'],
    ['ws_telnet', 'Welcome to the WebSocket Telnet Server!'],
    ['ssh', 'Welcome to the SSH Server!'],
  ] as const) {
    const client = await server.connect(name);
    await client.expect(`${welcome}\r\n`);
    client.send('quit');
    await client.expect('Goodbye!');
    await client.closed;
  }
});

test('stop() drops every client connected through the server and closes every port; it is idempotent', async () => {
  const server = await startTestServer(ReportingHandler);
  const clients = await Promise.all(TRANSPORTS.map((transport) => server.connect(transport)));
  await Promise.all(clients.map((client) => client.expect('> ')));
  assert.equal(server.stop(), server.stop());
  await server.stop();
  await Promise.all(clients.map((client) => client.closed));
  for (const port of Object.values(server.ports)) assert.ok(await isRefused(port), `port ${port} still open`);
  await assert.rejects(server.connect('tcp'), /stopping/);
});

test('connect() names the servers there are when asked for one that is not', async () => {
  const server = await start(ReportingHandler, { transport: ['tcp', 'websocket'] });
  await assert.rejects(server.connect('telnet'), {
    message: 'connect(): no server is called telnet: tcp (tcp), websocket (websocket)',
  });
});

test('connectClient reaches a server by port, and a refused WebSocket upgrade rejects with its HTTP status', async () => {
  const server = await start(ReportingHandler, { transport: 'websocket' });
  const client = await connectClient('websocket', server.ports.websocket!);
  await client.expect('> ');
  await client.close();
  await assert.rejects(connectClient('websocket', server.ports.websocket!, { path: '/elsewhere' }), {
    message: 'HTTP 404',
  });
});

test('the helpers depend on no test runner: plain promises and Errors for node:test, vitest or any other', () => {
  const dir = import.meta.dirname;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    assert.doesNotMatch(source, /from '(node:test|vitest|mocha|jest)'/, file);
  }
});

function isRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}
