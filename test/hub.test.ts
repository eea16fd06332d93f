// One application across every transport: shared sessions, broadcast, admission and the event stream.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { LineHandler, TelnetHandler } from '../src/index.js';
import type { SessionEventMap, SessionEventType, SessionEvents, TransportName } from '../src/index.js';
import { OPT_ECHO } from '../src/telnet/constants.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { EchoHandler, LoginHandler, logInAndQuit } from './support/handlers.js';
import { until } from './support/received-text.js';
import { TRANSPORT_NAMES, startApplication } from './support/servers.js';

/**
 * A terminal client where the transport has one (telnet, ws_telnet): once the prompt is there
 * and the server echoes, as a person would start typing only then.
 */
async function connectAs(transport: TransportName, port: number): Promise<TestClient> {
  const client = await connect(transport, port, { telnet: 'terminal' });
  await client.waitFor('> ');
  if (transport === 'telnet' || transport === 'ws_telnet')
    await until(() => client.agreed.has(OPT_ECHO), 'server echo');
  return client;
}

/** An event with its type, as `record` keeps it. */
type Recorded = { [T in SessionEventType]: { type: T } & SessionEventMap[T] }[SessionEventType];

/** Records every event of the given types that the application publishes. */
function record(events: SessionEvents, ...types: SessionEventType[]): Recorded[] {
  const seen: Recorded[] = [];
  for (const type of types) events.on(type, (event) => seen.push({ type, ...event } as Recorded));
  return seen;
}

test('a line said on one transport reaches the users of every transport, and who counts them all', async () => {
  const { launch, ports } = await startApplication(EchoHandler);
  const clients = await Promise.all(TRANSPORT_NAMES.map((transport) => connectAs(transport, ports[transport])));
  const [telnet] = clients;
  telnet!.send('say hello everyone');
  for (const client of clients) await client.waitFor('telnet says hello everyone');
  telnet!.send('who');
  await telnet!.waitFor(`Online: ${TRANSPORT_NAMES.length}`);
  // Each server lists its own sessions; the application lists them all.
  for (const server of launch.servers) assert.equal(server.sessions.size, 1);
  const listed = await launch.app.list();
  assert.deepEqual(listed.map((info) => info.transport).sort(), [...TRANSPORT_NAMES].sort());
  assert.deepEqual((await launch.app.list({ transport: 'tcp' })).length, 1);
});

test('the application sends to one session by id, filters broadcasts and kicks', async () => {
  const { launch, ports } = await startApplication(EchoHandler);
  const tcp = await connectAs('tcp', ports.tcp);
  const websocket = await connectAs('websocket', ports.websocket);
  const [tcpInfo] = await launch.app.list({ transport: 'tcp' });
  assert.ok(tcpInfo !== undefined);
  assert.match(tcpInfo.id, /^[a-z2-7]{16}$/);
  assert.equal((await launch.app.get(tcpInfo.id))?.remoteAddress, '127.0.0.1');

  assert.equal(await launch.app.send(tcpInfo.id, 'just for you'), true);
  await tcp.waitFor('just for you');
  assert.equal(await launch.app.broadcast('not for tcp', { except: tcpInfo.id }), 1);
  await websocket.waitFor('not for tcp');
  assert.equal(await launch.app.send('nosuchsession', 'x'), false);

  assert.equal(await launch.app.kick(tcpInfo.id, 'Bye from the operator.'), true);
  await tcp.waitFor('Bye from the operator.');
  await tcp.closed;
  assert.ok(!tcp.text.includes('not for tcp'));
});

test('max_connections_per_ip counts an address across every server of the application', async () => {
  const { ports } = await startApplication(EchoHandler, { max_connections_per_ip: 2 });
  await connectAs('tcp', ports.tcp);
  await connectAs('websocket', ports.websocket);
  const third = await connect('telnet', ports.telnet);
  await third.waitFor('Too many connections from your address');
  await third.closed;
  await assert.rejects(connect('ws_telnet', ports.ws_telnet), /HTTP 429/);
});

for (const transport of TRANSPORT_NAMES) {
  test(`${transport}: the event stream sees the session start, its lines and output, hidden input withheld, and its end`, async () => {
    const { launch, ports } = await startApplication(LoginHandler);
    const events = record(launch.app.events, 'session-started', 'input', 'output', 'session-ended');
    await logInAndQuit(await connect(transport, ports[transport], { telnet: 'terminal' }));
    await until(() => events.some((event) => event.type === 'session-ended'), 'the end event');

    const started = events.find((event) => event.type === 'session-started');
    assert.ok(started?.type === 'session-started');
    assert.equal(started.session.transport, transport);
    assert.equal(started.session.remoteAddress, '127.0.0.1');
    const lines = events.flatMap((event) => (event.type === 'input' && event.kind === 'line' ? [event] : []));
    assert.deepEqual(
      lines.map((event) => [event.text, event.hidden]),
      [
        ['Ada', false],
        [undefined, true],
        ['hello', false],
        ['quit', false],
      ],
    );
    const output = events.map((event) => (event.type === 'output' ? event.text : '')).join('');
    assert.match(output, /Name\? /);
    assert.match(output, /Echo: hello\r\n/);
    assert.match(output, /Goodbye!/);
    assert.ok(!output.includes('sesame'), 'the password never appears in the output events');
    assert.ok(!JSON.stringify(events).includes('sesame'), 'nor anywhere in the stream');
    const ended = events.find((event) => event.type === 'session-ended');
    assert.ok(ended?.type === 'session-ended');
    assert.equal(ended.reason, 'handler-ended');
    assert.equal(ended.session.id, started.session.id);
    assert.ok(ended.session.bytesIn > 0 && ended.session.bytesOut > 0);
  });
}

for (const transport of ['tcp', 'telnet'] as const) {
  test(`${transport}: a password typed ahead of its question is still withheld from the event stream`, async () => {
    const { launch, ports } = await startApplication(LoginHandler);
    const events = record(launch.app.events, 'input');
    const client = await connect(transport, ports[transport], { telnet: 'terminal' });
    await client.waitFor('Name? ');
    client.type('Ada\r\nsesame\r\nhello\r\n');
    await client.waitFor('Echo: hello');
    const lines = events.flatMap((event) => (event.type === 'input' && event.kind === 'line' ? [event] : []));
    assert.deepEqual(
      lines.map((event) => [event.text, event.hidden]),
      [
        ['Ada', false],
        [undefined, true],
        ['hello', false],
      ],
    );
    assert.ok(!JSON.stringify(events).includes('sesame'));
  });
}

test('output events carry what a terminal was shown: the echo of typed keys and the redraws', async () => {
  const { launch, ports } = await startApplication(EchoHandler);
  const events = record(launch.app.events, 'input', 'output');
  const telnet = await connectAs('telnet', ports.telnet);
  const tcp = await connectAs('tcp', ports.tcp);
  telnet.type('ab');
  await telnet.waitFor('> ab');
  tcp.send('say hi');
  await telnet.waitFor('tcp says hi');
  const telnetId = (await launch.app.list({ transport: 'telnet' }))[0]!.id;
  const shown = events
    .map((event) => (event.type === 'output' && event.sessionId === telnetId ? event.text : ''))
    .join('');
  // The keys echoed one by one, then the line erased, the message, and the prompt and line again.
  assert.ok(shown.includes('ab'), JSON.stringify(shown));
  assert.ok(shown.includes('\r\x1b[Jtcp says hi\r\n> ab'), JSON.stringify(shown));
  const keys = events.map((event) =>
    event.type === 'input' && event.kind === 'keys' && event.sessionId === telnetId ? event.text : '',
  );
  assert.equal(keys.join(''), 'ab');
});

test('a consumer that throws never reaches the session that published', async () => {
  const { launch, ports } = await startApplication(EchoHandler);
  launch.app.events.on('output', () => {
    throw new Error('consumer failure');
  });
  launch.app.events.on('session-started', () => {
    throw new Error('consumer failure');
  });
  const client = await connectAs('tcp', ports.tcp);
  client.send('still here');
  await client.waitFor('Echo: still here');
});

test('refused connections are published with their reason', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { max_connections: 1 });
  const refusals = record(launch.app.events, 'refused');
  await connectAs('tcp', ports.tcp);
  const second = await connect('tcp', ports.tcp);
  await second.closed;
  await assert.rejects(connect('websocket', ports.websocket, { path: '/elsewhere' }), /HTTP 404/);
  await until(() => refusals.length === 2, 'two refusals');
  assert.deepEqual(
    refusals.map((event) => (event.type === 'refused' ? [event.server, event.reason] : [])),
    [
      ['tcp', 'capacity'],
      ['websocket', 'path'],
    ],
  );
});

/** A handler that ends itself in ways chosen by the line typed. */
class Ender extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'boom') throw new Error('on purpose');
    await this.sendLine(`Echo: ${command}`);
  }
}

for (const transport of ['websocket', 'ws_telnet'] as const) {
  test(`${transport}: close reasons reach the event stream and the WebSocket close code says them`, async () => {
    const { launch, ports } = await startApplication(Ender, { connection_timeout: 0.3 });
    const ended = record(launch.app.events, 'session-ended');
    const cases: Array<{ act(client: TestClient, id: string): Promise<unknown>; reason: string; code: number }> = [
      { act: async (client) => client.send('quit'), reason: 'handler-ended', code: 1000 },
      { act: async (client) => client.send('boom'), reason: 'handler-error', code: 1011 },
      { act: (_client, id) => launch.app.kick(id), reason: 'kicked', code: 1008 },
      { act: async () => undefined, reason: 'idle-timeout', code: 1001 },
      { act: async (client) => client.end(), reason: 'client-closed', code: 1000 },
    ];
    for (const { act, reason, code } of cases) {
      const client = await connect(transport, ports[transport]);
      await client.waitFor('> ');
      const sessions = await launch.app.list({ transport });
      await act(client, sessions[0]!.id);
      const closed = await client.closed;
      await until(() => ended.length > 0, `the end of a session (${reason})`);
      const end = ended.shift();
      assert.ok(end?.type === 'session-ended');
      assert.equal(end.reason, reason);
      assert.equal(closed.code, code, `close code for ${reason}`);
    }
  });
}

test('max_session_time ends a busy session, telling the user why, and says so to the event stream', async () => {
  const { launch, ports } = await startApplication(Ender, { max_session_time: 0.6, connection_timeout: 0.3 });
  const ended = record(launch.app.events, 'session-ended');
  const tcp = await connectAs('tcp', ports.tcp);
  const websocket = await connectAs('websocket', ports.websocket);
  // Busy all along, so the idle timeout never fires.
  const typing = setInterval(() => {
    tcp.send('busy');
    websocket.send('busy');
  }, 100);
  try {
    await tcp.waitFor('This session has reached its time limit of 0.6 seconds: closing the connection.\r\n');
    assert.equal((await websocket.closed).code, 1001);
    await tcp.closed;
  } finally {
    clearInterval(typing);
  }
  await until(() => ended.length === 2, 'both ends');
  assert.ok(ended.every((event) => event.type === 'session-ended' && event.reason === 'session-time-limit'));
});

test('server shutdown ends every session with its reason, the notice on its own line, and code 1001', async () => {
  const { launch, ports } = await startApplication(EchoHandler);
  const ended = record(launch.app.events, 'session-ended');
  const tcp = await connectAs('tcp', ports.tcp);
  const telnet = await connectAs('telnet', ports.telnet);
  const websocket = await connectAs('websocket', ports.websocket);
  telnet.type('half');
  await telnet.waitFor('> half');
  const stopped = launch.stop(2000);
  // The prompt stays behind on the line the client drew it on; the notice starts a new line.
  await tcp.waitFor('> \r\nServer is shutting down\r\n');
  // Telnet sends a bare CR as CR NUL (RFC 854).
  await telnet.waitFor('> half\r\0\x1b[JServer is shutting down\r\n');
  assert.equal((await websocket.closed).code, 1001);
  await stopped;
  assert.equal(ended.length, 3);
  assert.ok(ended.every((event) => event.type === 'session-ended' && event.reason === 'server-shutdown'));
});

test('output that arrives while a prompt is on screen starts on its own line on every transport', async () => {
  const { ports } = await startApplication(EchoHandler);
  const clients = Object.fromEntries(
    await Promise.all(
      TRANSPORT_NAMES.map(async (transport) => [transport, await connectAs(transport, ports[transport])]),
    ),
  ) as Record<TransportName, TestClient>;
  const from = Object.fromEntries(TRANSPORT_NAMES.map((transport) => [transport, clients[transport].text.length]));
  clients.ws_telnet.send('say news');
  // Where the server draws the line it erases the prompt, prints, and draws the prompt again;
  // where the client draws it, the message starts on a new line and the prompt follows it.
  await clients.telnet.waitFor('\r\0\x1b[Jws_telnet says news\r\n> ', { from: from.telnet });
  await clients.tcp.waitFor('\r\nws_telnet says news\r\n> ', { from: from.tcp });
  await clients.websocket.waitFor('\r\nws_telnet says news\r\n> ', { from: from.websocket });
  // The sender pressed Enter: its reply follows its own line as usual.
  await clients.ws_telnet.waitFor(/say news\r\nws_telnet says news\r\n> $/);
});

/** Writes many lines without awaiting them, as a careless handler might. */
class Flooder extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command !== 'flood') return;
    for (let i = 0; i < 20_000; i++) void this.sendLine(`line ${i} of the flood, padded to make it longer`);
    await this.sendLine('flood done');
  }
}

test('a handler writing 20,000 lines without awaiting adds no listener per write', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.name);
  process.on('warning', onWarning);
  try {
    const { ports } = await startApplication(Flooder);
    for (const transport of ['tcp', 'websocket'] as const) {
      const client = await connect(transport, ports[transport]);
      await client.waitFor('> ');
      client.send('flood');
      await client.waitFor('flood done', { timeoutMs: 10_000 });
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});

/** readLine with a deadline and with a signal. */
class Quiz extends TelnetHandler {
  override async onConnect(): Promise<void> {
    try {
      const answer = await this.readLine('Quick, a number? ', { timeoutMs: 300 });
      await this.sendLine(`You said ${answer}.`);
    } catch (err) {
      await this.sendLine(`Too slow (${(err as { code?: string }).code}).`);
    }
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('withdrawn')), 300).unref();
    try {
      await this.readLine('Another? ', { signal: controller.signal });
    } catch (err) {
      await this.sendLine(`Question ${(err as Error).message}.`);
    }
    await this.showPrompt();
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(`Echo: ${command}`);
  }
}

test('readLine gives up after timeoutMs or when its signal aborts, and the screen moves on cleanly', async () => {
  const { ports } = await startApplication(Quiz);
  for (const transport of ['telnet', 'tcp'] as const) {
    const client = await connect(transport, ports[transport], { telnet: 'terminal' });
    await client.waitFor('Quick, a number? ');
    await client.waitFor('Quick, a number? \r\nToo slow (ERR_READLINE_TIMEOUT).\r\nAnother? ');
    await client.waitFor('Another? \r\nQuestion withdrawn.\r\n> ');
    client.send('after');
    await client.waitFor('Echo: after');
  }
});

test('the session signal aborts when the session ends', async () => {
  let aborted: Promise<unknown> | undefined;
  class Watcher extends LineHandler {
    override async onConnect(): Promise<void> {
      const { signal } = this;
      aborted = new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
      await super.onConnect();
    }
  }
  const { ports } = await startApplication(Watcher);
  const client = await connect('websocket', ports.websocket);
  await client.waitFor('> ');
  client.end();
  const reason = await aborted;
  assert.equal((reason as { code?: string }).code, 'ERR_SESSION_CLOSED');
});

test('session ids are unique across processes', () => {
  const script =
    "import { newSessionId } from './src/hub/session-id.ts';" +
    'console.log(Array.from({ length: 5000 }, () => newSessionId()).join("\\n"));';
  const run = (): string[] => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim().split('\n');
  };
  const first = run();
  const second = run();
  const all = new Set([...first, ...second]);
  assert.equal(all.size, 10_000);
  assert.ok([...all].every((id) => /^[a-z2-7]{16}$/.test(id)));
});
