// The session monitor over real servers and viewers (the wire protocol, late-join snapshots, hidden
// input, tokens, operator actions, audit lines, notices, slow viewers), and its screen model alone.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, test } from 'node:test';

import xterm from '@xterm/headless';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';

import { InProcessHub, TelnetHandler, parseConfig } from '../src/index.js';
import type { ConfigSettings, HandlerClass, HubMember, Launch, TransportName } from '../src/index.js';
import { MAX_VIEWER_BACKLOG, MAX_WATCHED_SESSIONS, Monitor } from '../src/monitor/monitor.js';
import { REPLAY_CAP, ReplayLog } from '../src/monitor/replay-log.js';
import { SessionScreen } from '../src/monitor/screen.js';
import { OPT_ECHO } from '../src/telnet/constants.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { EchoHandler, LoginHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { TRANSPORT_NAMES, quiet, startApplication, startLaunch } from './support/servers.js';
import { connectViewer } from './support/viewer.js';
import type { Message, Viewer } from './support/viewer.js';

const viewers: Viewer[] = [];
// Viewers hold their WebSocket port open: they go before the launches are stopped after the file.
afterEach(() => {
  for (const viewer of viewers.splice(0)) viewer.ws.terminate();
});

async function openViewer(url: string, headers: Record<string, string> = {}): Promise<Viewer> {
  const viewer = await connectViewer(url, headers);
  viewers.push(viewer);
  return viewer;
}

/** The HTTP status a monitor handshake gets: 101 when it opens. */
function handshakeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** A terminal client, once its prompt is there and (telnet, ws_telnet) the server echoes. */
async function connectTerminal(transport: TransportName, port: number): Promise<TestClient> {
  const client = await connect(transport, port, { telnet: 'terminal', size: [100, 30] });
  await client.waitFor('> ');
  if (transport === 'telnet' || transport === 'ws_telnet')
    await until(() => client.agreed.has(OPT_ECHO), 'server echo');
  return client;
}

/** Log records, parsed, from a pino logger writing into memory. */
function memoryLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), records };
}

/** A launch of `settings` plus a monitor port, with `handlerClass` on every server. */
async function launchWithMonitorPort(
  handlerClass: HandlerClass,
  settings: Record<string, unknown>,
  logger = quiet,
): Promise<{ monitorUrl: string; port: (server: string) => number; launch: Launch }> {
  const config = parseConfig({ monitor_port: 0, ...settings } as ConfigSettings, process.cwd(), {
    requireHandlerClass: false,
  });
  const launch = await startLaunch(config, { handlerClass, logger });
  const address = launch.observability!.address!;
  return {
    launch,
    monitorUrl: `ws://127.0.0.1:${address.port}/monitor`,
    port: (name) => launch.servers.find((server) => server.name === name)!.address!.port,
  };
}

/** The rows of a `cols` x `rows` terminal once `text` is written to it, as a person would read them. */
async function rendered(text: string, cols: number, rows: number): Promise<string[]> {
  const terminal = new xterm.Terminal({ cols, rows, allowProposedApi: true });
  await new Promise<void>((resolve) => terminal.write(text, resolve));
  const buffer = terminal.buffer.active;
  const lines = Array.from(
    { length: rows },
    (_, row) => buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '',
  );
  terminal.dispose();
  return lines;
}

const ofType =
  (type: string, sessionId?: string) =>
  (message: Message): boolean =>
    message.type === type && (sessionId === undefined || message.session_id === sessionId);

/** The id of the one session of `transport` in the application. */
async function idOf(launch: Launch, transport: TransportName): Promise<string> {
  const [info] = await launch.app.list({ transport });
  assert.ok(info !== undefined, `a ${transport} session`);
  return info.id;
}

test('a viewer is listed the sessions already there, then sees sessions of every transport start, change and end', async () => {
  const { ports } = await startApplication(EchoHandler, { enable_monitoring: true });
  const early = await connectTerminal('tcp', ports.tcp);
  early.send('hello');
  await early.waitFor('Echo: hello');
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);

  const [listing] = viewer.messages;
  assert.equal(listing?.access, 'viewer', 'open on 127.0.0.1 without a token');
  assert.equal(listing?.sessions?.length, 1);
  const listed = listing.sessions[0]!;
  assert.equal(listed.transport, 'tcp');
  assert.equal(listed.status, 'connected');
  assert.equal(listed.is_newest, true);
  assert.equal(listed.client.host, '127.0.0.1');
  assert.ok(listed.bytes_in >= 'hello\r\n'.length, 'the byte counts are current, not as of the start');
  assert.ok(Date.parse(listed.last_input_time) >= Date.parse(listed.start_time));

  const clients = new Map<TransportName, TestClient>();
  const ids = new Map<TransportName, string>();
  for (const transport of TRANSPORT_NAMES) {
    const from = viewer.messages.length;
    clients.set(transport, await connectTerminal(transport, ports[transport]));
    const started = await viewer.next((message) => message.type === 'session_started', { from });
    ids.set(transport, started.session!.id);
    assert.equal(started.session?.transport, transport);
    assert.equal(started.session?.server, transport);
    assert.equal(started.session?.client.host, '127.0.0.1');
    assert.equal(typeof started.session?.client.port, 'number');
    assert.equal(started.session?.secure, transport === 'ssh');
    assert.equal(started.session?.is_newest, true);
  }
  // Terminal clients report their size and type once negotiated (SSH: with the pty request): session_updated says so.
  for (const transport of ['telnet', 'ws_telnet', 'ssh'] as const) {
    const id = ids.get(transport);
    const updated = await viewer.next(
      (message) =>
        message.type === 'session_updated' &&
        message.session?.id === id &&
        (message.session?.terminal.type ?? null) !== null,
    );
    assert.deepEqual(updated.session?.terminal, { type: 'XTERM-256COLOR', cols: 100, rows: 30 });
  }

  const telnetId = ids.get('telnet');
  clients.get('telnet')!.send('quit');
  const quit = await viewer.next((message) => message.type === 'session_ended' && message.session?.id === telnetId);
  assert.equal(quit.session?.status, 'disconnected');
  assert.equal(quit.session?.reason, 'handler-ended');
  const tcpId = ids.get('tcp');
  clients.get('tcp')!.end();
  const left = await viewer.next((message) => message.type === 'session_ended' && message.session?.id === tcpId);
  assert.equal(left.session?.reason, 'client-closed');
  // One of the two tcp sessions ended; the other, listed at the start, is still there.
  early.send('who');
  await early.waitFor(`Online: ${TRANSPORT_NAMES.length - 1}`);
});

test('a late viewer is shown what is on the screen already, typed text included, then live input and output', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { enable_monitoring: true });
  const user = await connectTerminal('telnet', ports.telnet);
  user.type('hello\r');
  await user.waitFor('Echo: hello');
  user.type('half typ');
  await user.waitFor('> half typ');
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  const id = await idOf(launch, 'telnet');
  // Listed as it is now: the terminal it negotiated before the viewer came, and the bytes it sent.
  const listed = viewer.messages.find(ofType('active_sessions'))?.sessions?.find((session) => session.id === id);
  assert.deepEqual(listed?.terminal, { type: 'XTERM-256COLOR', cols: 100, rows: 30 });
  assert.ok((listed?.bytes_in ?? 0) >= 'hello\r'.length);

  const from = viewer.messages.length;
  viewer.send({ type: 'watch_session', session_id: id });
  const answer = await viewer.next(ofType('watch_response', id), { from });
  assert.equal(answer.status, 'success');
  const snapshot = await viewer.next(ofType('screen_snapshot', id), { from });
  assert.deepEqual([snapshot.data?.cols, snapshot.data?.rows], [100, 30]);
  assert.match(snapshot.data?.text ?? '', /Welcome!\r\n> hello\r\nEcho: hello\r\n> half typ$/);

  user.type('ed\r');
  await user.waitFor('Echo: half typed');
  const echoed = await viewer.next(
    (message) => message.type === 'server_message' && (message.data?.text ?? '').includes('Echo: half typed'),
    { from },
  );
  const live = viewer.messages.slice(viewer.messages.indexOf(snapshot), viewer.messages.indexOf(echoed) + 1);
  const keys = live.filter((message) => message.type === 'client_input' && message.data?.kind === 'keys');
  assert.equal(keys.map((message) => message.data?.text).join(''), 'ed\r');
  const lines = live.filter((message) => message.type === 'client_input' && message.data?.kind === 'line');
  assert.deepEqual(
    lines.map((message) => message.data?.text),
    ['half typed'],
  );
  // Only what came after the snapshot: the echo of "e", "d", the new line, the answer and the
  // prompt, which the handler wrote in the answer's turn.
  const shown = live.filter((message) => message.type === 'server_message').map((message) => message.data?.text);
  assert.equal(shown.join(''), 'ed\r\nEcho: half typed\r\n> ');
  assert.ok(
    viewer.messages.indexOf(snapshot) < viewer.messages.findIndex((message) => message.type === 'client_input'),
  );
});

test('watching an unknown session is answered "Session not found"', async () => {
  const { ports } = await startApplication(EchoHandler, { enable_monitoring: true });
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  viewer.send({ type: 'watch_session', session_id: 'nosuchsession234' });
  const answer = await viewer.next(ofType('watch_response', 'nosuchsession234'));
  assert.deepEqual(answer, {
    type: 'watch_response',
    session_id: 'nosuchsession234',
    status: 'error',
    error: 'Session not found',
  });
});

test('stop_watching is answered "stopped" and no more of that session follows', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { enable_monitoring: true });
  const user = await connectTerminal('websocket', ports.websocket);
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  const id = await idOf(launch, 'websocket');
  viewer.send({ type: 'watch_session', session_id: id });
  await viewer.next(ofType('screen_snapshot', id));
  user.send('one');
  await viewer.next((message) => message.type === 'server_message' && message.data?.text === 'Echo: one\r\n> ');

  viewer.send({ type: 'stop_watching', session_id: id });
  const stopped = await viewer.next(ofType('watch_response', id), { from: viewer.messages.length });
  assert.equal(stopped.status, 'stopped');
  const after = viewer.messages.length;
  user.send('two');
  await user.waitFor('Echo: two');
  user.send('quit');
  await viewer.next(ofType('session_ended'), { from: after });
  const leaked = viewer.messages
    .slice(after)
    .filter((message) => message.type === 'server_message' || message.type === 'client_input');
  assert.deepEqual(leaked, []);
});

test('hidden input reaches a viewer only as {"hidden": true}, on every transport', async () => {
  const { launch, ports } = await startApplication(LoginHandler, { enable_monitoring: true });
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  for (const transport of TRANSPORT_NAMES) {
    const from = viewer.messages.length;
    const user = await connect(transport, ports[transport], { telnet: 'terminal' });
    await user.waitFor('Name? ');
    const id = await idOf(launch, transport);
    viewer.send({ type: 'watch_session', session_id: id });
    await viewer.next(ofType('screen_snapshot', id), { from });
    user.send('Ada');
    await user.waitFor('Password? ');
    user.send('sesame');
    await user.waitFor('your password has 6 characters');
    await viewer.next(
      (message) => message.type === 'server_message' && (message.data?.text ?? '').includes('your password has 6'),
      { from },
    );
    const inputs = viewer.messages.slice(from).filter(ofType('client_input', id));
    assert.ok(
      inputs.some((message) => message.data?.kind === 'line' && message.data.text === 'Ada'),
      `${transport}: the name is shown`,
    );
    const hidden = inputs.filter((message) => message.data?.hidden === true);
    assert.ok(hidden.length > 0, `${transport}: the password is reported as hidden`);
    for (const message of hidden) assert.deepEqual(Object.keys(message.data ?? {}).sort(), ['hidden', 'kind']);
    user.end();
  }
  assert.ok(!viewer.raw.join('\n').includes('sesame'), 'the password appears nowhere the viewer was sent');
});

test('malformed and unknown messages get an error, and the viewer and the sessions carry on', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { enable_monitoring: true });
  const user = await connectTerminal('tcp', ports.tcp);
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  const other = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  const bad: Array<[unknown, RegExp]> = [
    ['{not json', /not valid JSON/],
    ['[1, 2]', /must be a JSON object/],
    [{ no: 'type' }, /needs a "type"/],
    [{ type: 'explode' }, /Unknown message type "explode"/],
    [{ type: 'watch_session' }, /watch_session needs a "session_id"/],
  ];
  for (const [message, error] of bad) {
    const from = viewer.messages.length;
    viewer.send(message);
    const answer = await viewer.next(ofType('error'), { from });
    assert.match(answer.error ?? '', error);
  }
  const from = viewer.messages.length;
  viewer.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.match((await viewer.next(ofType('error'), { from })).error ?? '', /JSON text/);

  const id = await idOf(launch, 'tcp');
  viewer.send({ type: 'watch_session', session_id: id });
  await viewer.next(ofType('screen_snapshot', id));
  user.send('still here');
  await user.waitFor('Echo: still here');
  await viewer.next((message) => message.type === 'server_message' && message.data?.text === 'Echo: still here\r\n> ');
  assert.equal(other.messages.filter(ofType('error')).length, 0, 'nobody else hears of it');
  assert.equal(other.ws.readyState, WebSocket.OPEN);
});

test('a monitor open to other machines gets a generated token: 401 without it or with a wrong one, open with it', async () => {
  const { launch, monitorUrl } = await launchWithMonitorPort(EchoHandler, {
    monitor_host: '0.0.0.0',
    servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } },
  });
  const token = launch.observability?.generatedToken;
  assert.ok(token !== undefined && token.length >= 32);
  assert.equal(await handshakeStatus(monitorUrl), 401);
  assert.equal(await handshakeStatus(`${monitorUrl}?token=wrong`), 401);
  assert.equal(await handshakeStatus(monitorUrl, { Authorization: 'Bearer wrong' }), 401);
  const byHeader = await openViewer(monitorUrl, { Authorization: `Bearer ${token}` });
  assert.equal(byHeader.messages[0]?.access, 'viewer');
  const byQuery = await openViewer(`${monitorUrl}?token=${token}`);
  assert.equal(byQuery.messages[0]?.access, 'viewer');
});

test('a monitor on 127.0.0.1 with no token set is open, and no token is generated', async () => {
  const { launch, monitorUrl } = await launchWithMonitorPort(EchoHandler, {
    servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } },
  });
  assert.equal(launch.observability?.generatedToken, undefined);
  assert.equal(await handshakeStatus(monitorUrl), 101);
});

test('operator actions need the admin token; with it they message, broadcast and disconnect, each audited', async () => {
  const { logger, records } = memoryLogger();
  const { launch, monitorUrl, port } = await launchWithMonitorPort(
    EchoHandler,
    {
      monitor_admin_token: 'admin-secret-0123456789',
      servers: {
        tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 },
        telnet: { transport: 'telnet', host: '127.0.0.1', port: 0 },
      },
    },
    logger,
  );
  const tcp = await connectTerminal('tcp', port('tcp'));
  const telnet = await connectTerminal('telnet', port('telnet'));
  const tcpId = await idOf(launch, 'tcp');

  const plain = await openViewer(monitorUrl);
  assert.equal(plain.messages[0]?.access, 'viewer');
  for (const request of [
    { type: 'send_message', session_id: tcpId, text: 'psst' },
    { type: 'broadcast', text: 'hear ye' },
    { type: 'disconnect', session_id: tcpId },
  ]) {
    const from = plain.messages.length;
    plain.send(request);
    const answer = await plain.next(ofType('action_response'), { from });
    assert.equal(answer.action, request.type);
    assert.equal(answer.status, 'error');
    assert.equal(answer.error, 'Operator actions need the monitor_admin_token');
  }

  const admin = await openViewer(`${monitorUrl}?token=admin-secret-0123456789`);
  assert.equal(admin.messages[0]?.access, 'admin');
  admin.send({ type: 'send_message', session_id: tcpId, text: 'a word from the operator' });
  await tcp.waitFor('a word from the operator');
  assert.equal((await admin.next(ofType('action_response'))).status, 'success');

  let from = admin.messages.length;
  admin.send({ type: 'broadcast', text: 'maintenance at noon' });
  await tcp.waitFor('maintenance at noon');
  await telnet.waitFor('maintenance at noon');
  assert.equal((await admin.next(ofType('action_response'), { from })).status, 'success');

  from = admin.messages.length;
  admin.send({ type: 'send_message', session_id: 'nosuchsession234', text: 'x' });
  assert.equal((await admin.next(ofType('action_response'), { from })).error, 'Session not found');

  from = admin.messages.length;
  admin.send({ type: 'disconnect', session_id: tcpId });
  await tcp.closed;
  assert.match(tcp.text, /Disconnected by an operator\./);
  assert.equal((await admin.next(ofType('action_response'), { from })).status, 'success');
  const ended = await admin.next((message) => message.type === 'session_ended' && message.session?.id === tcpId);
  assert.equal(ended.session?.reason, 'kicked');
  assert.ok(!plain.raw.join('').includes('psst') && !tcp.text.includes('psst') && !tcp.text.includes('hear ye'));

  const audit = records.filter((record) => record.audit === true);
  const done = audit.filter((record) => record.refused === undefined);
  assert.deepEqual(
    done.map((record) => [record.action, record.session]),
    [
      ['send_message', tcpId],
      ['broadcast', undefined],
      ['send_message', 'nosuchsession234'],
      ['disconnect', tcpId],
    ],
  );
  for (const record of done) {
    assert.equal(record.level, 30, 'info');
    assert.equal(record.viewer, '127.0.0.1');
    assert.equal(typeof record.time, 'number');
  }
  assert.equal(audit.filter((record) => record.refused === true).length, 3, 'refused attempts are logged too');
});

test('every watch start and stop is an audit line with the viewer, the session and the action', async () => {
  const { logger, records } = memoryLogger();
  const { launch, ports } = await startApplication(EchoHandler, { enable_monitoring: true }, { logger });
  await connectTerminal('tcp', ports.tcp);
  const id = await idOf(launch, 'tcp');
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  viewer.send({ type: 'watch_session', session_id: id });
  await viewer.next(ofType('screen_snapshot', id));
  viewer.send({ type: 'stop_watching', session_id: id });
  await viewer.next((message) => message.type === 'watch_response' && message.status === 'stopped');
  viewer.send({ type: 'watch_session', session_id: id });
  await viewer.next(ofType('screen_snapshot', id), { from: viewer.messages.length - 1 });
  viewer.ws.close();
  await viewer.closed;
  // Leaving while watching is a stop too.
  await until(() => records.filter((record) => record.audit === true).length === 4, 'four audit lines');
  const audit = records.filter((record) => record.audit === true);
  assert.deepEqual(
    audit.map((record) => [record.action, record.session, record.viewer, record.level]),
    [
      ['watch_session', id, '127.0.0.1', 30],
      ['stop_watching', id, '127.0.0.1', 30],
      ['watch_session', id, '127.0.0.1', 30],
      ['viewer-left', id, '127.0.0.1', 30],
    ],
  );
  assert.ok(audit.every((record) => typeof record.time === 'number'));
});

test('monitor_notice tells the user when watching starts and when the last viewer stops', async () => {
  const { launch, monitorUrl, port } = await launchWithMonitorPort(EchoHandler, {
    monitor_notice: true,
    servers: { telnet: { transport: 'telnet', host: '127.0.0.1', port: 0 } },
  });
  const user = await connectTerminal('telnet', port('telnet'));
  const id = await idOf(launch, 'telnet');
  const first = await openViewer(monitorUrl);
  const second = await openViewer(monitorUrl);
  first.send({ type: 'watch_session', session_id: id });
  await user.waitFor('[An operator is now watching this session]');
  await first.next(
    (message) => message.type === 'server_message' && (message.data?.text ?? '').includes('now watching'),
  );
  second.send({ type: 'watch_session', session_id: id });
  await second.next(ofType('screen_snapshot', id));
  first.send({ type: 'stop_watching', session_id: id });
  await first.next((message) => message.type === 'watch_response' && message.status === 'stopped');
  user.type('x\r');
  await user.waitFor('Echo: x');
  assert.ok(!user.text.includes('No operator'), 'another viewer still watches');
  // The last viewer leaving without a word counts as stopping.
  second.ws.terminate();
  await user.waitFor('[No operator is watching this session any more]');
  assert.equal(user.text.split('now watching').length - 1, 1, 'told once, not once per viewer');
  await until(() => launch.observability?.monitor?.viewerCount === 1, 'the dead viewer forgotten');
});

test('a viewer that stops reading while a session floods is dropped, and the session stays prompt', async () => {
  class Flood extends TelnetHandler {
    override async onCommandSubmitted(command: string): Promise<void> {
      if (command === 'flood') {
        // Control characters are six bytes each in JSON: 2 MB of output is 12 MB for the viewer,
        // more than loopback socket buffers and the monitor's cap together.
        const line = '\x01'.repeat(1000);
        for (let i = 0; i < 2000; i++) await this.sendLine(line);
        await this.sendLine('flood done');
      } else {
        await this.sendLine(`Echo: ${command}`);
      }
    }
  }
  const { logger, records } = memoryLogger();
  const { launch, monitorUrl, port } = await launchWithMonitorPort(
    Flood,
    { servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } } },
    logger,
  );
  const user = await connectTerminal('tcp', port('tcp'));
  const id = await idOf(launch, 'tcp');
  const slow = await openViewer(monitorUrl);
  slow.send({ type: 'watch_session', session_id: id });
  await slow.next(ofType('screen_snapshot', id));
  slow.ws.pause();

  user.send('flood');
  await user.waitFor('flood done', { timeoutMs: 15_000 });
  await until(() => launch.observability?.monitor?.viewerCount === 0, 'the slow viewer dropped', 5000);
  const started = Date.now();
  const from = user.text.length;
  user.send('ping');
  await user.waitFor('Echo: ping', { from });
  // A monitor that waited for its viewer would never answer; a busy test machine may be slow.
  assert.ok(Date.now() - started < 1000, `echo took ${Date.now() - started} ms`);
  const dropped = records.find((record) => record.msg === 'monitor: viewer too slow; dropped');
  assert.ok(dropped !== undefined && (dropped.buffered as number) > MAX_VIEWER_BACKLOG);

  // Once it reads again it finds the close at the end of what was queued for it.
  slow.ws.resume();
  assert.deepEqual(await slow.closed, { code: 1008, reason: 'Viewer too slow' });
});

test(`watching more than ${MAX_WATCHED_SESSIONS} sessions at once is refused with a clear error`, async () => {
  const { launch, ports } = await startApplication(EchoHandler, {
    enable_monitoring: true,
    max_connections: MAX_WATCHED_SESSIONS + 10,
  });
  await Promise.all(Array.from({ length: MAX_WATCHED_SESSIONS + 1 }, () => connectTerminal('tcp', ports.tcp)));
  const ids = (await launch.app.list()).map((info) => info.id);
  const viewer = await openViewer(`ws://127.0.0.1:${ports.websocket}/monitor`);
  for (const id of ids.slice(0, MAX_WATCHED_SESSIONS)) viewer.send({ type: 'watch_session', session_id: id });
  await until(
    () => viewer.messages.filter(ofType('screen_snapshot')).length === MAX_WATCHED_SESSIONS,
    'every snapshot',
    10_000,
  );
  const last = ids[MAX_WATCHED_SESSIONS]!;
  viewer.send({ type: 'watch_session', session_id: last });
  const refused = await viewer.next(ofType('watch_response', last));
  assert.equal(refused.status, 'error');
  assert.match(refused.error ?? '', /Too many sessions are being watched at once \(at most 100\)/);
  // Stopping one makes room.
  viewer.send({ type: 'stop_watching', session_id: ids[0] });
  viewer.send({ type: 'watch_session', session_id: last });
  await viewer.next(ofType('screen_snapshot', last));
});

test('stopping the launch closes every viewer with 1001, and viewers that leave are forgotten', async () => {
  const { launch, monitorUrl } = await launchWithMonitorPort(EchoHandler, {
    servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } },
  });
  const monitor = launch.observability!.monitor!;
  const leaving = await openViewer(monitorUrl);
  const staying = await openViewer(monitorUrl);
  assert.equal(monitor.viewerCount, 2);
  leaving.ws.close();
  await leaving.closed;
  await until(() => monitor.viewerCount === 1, 'the viewer that left forgotten');
  await launch.stop(100);
  assert.deepEqual(await staying.closed, { code: 1001, reason: 'Monitor stopping' });
  assert.equal(monitor.viewerCount, 0);
});

test('a snapshot shows exactly the output before it, even when a flood outruns the terminal parser', async () => {
  const screen = new SessionScreen({ cols: 40, rows: 10 }, new ReplayLog());
  const outputs: Array<{ seq: number; text: string }> = [];
  const write = (text: string): void => void outputs.push({ seq: screen.write(text), text });
  write('Welcome!\r\n> ');
  screen.attach();
  const early = screen.snapshot();
  write('typed');
  assert.equal((await early)?.text, 'Welcome!\r\n> ');
  // Written in one turn, far more than the parser may lag: later output is skipped, then replayed.
  const mid = screen.snapshot();
  for (let i = 0; i < 20_000; i++) write(`line ${i}\r\n`);
  const late = screen.snapshot();
  write('> tail');
  for (const snapshot of [await mid, await late]) {
    assert.ok(snapshot !== undefined);
    const after = outputs.filter((output) => output.seq > snapshot.seq).map((output) => output.text);
    assert.deepEqual(
      await rendered(snapshot.text + after.join(''), 40, 10),
      await rendered(outputs.map((output) => output.text).join(''), 40, 10),
      'the snapshot and the output after it draw what the user sees',
    );
  }
  screen.dispose();
});

test('the replay kept for late viewers stays under its cap and starts on a whole line', async () => {
  // Tall enough to show all of the replay: where it starts is on screen.
  const screen = new SessionScreen({ cols: 200, rows: 1000 }, new ReplayLog());
  // Lines of different lengths: no cut lands on a line boundary by chance.
  const line = (i: number): string =>
    `\x1b[31mred ${i}\x1b[0m ${'and some more text '.repeat(4)}${'.'.repeat(i % 7)}\r\n`;
  for (let i = 0; i < 10_000; i++) screen.write(line(i));
  const kept = Buffer.byteLength(screen.replay);
  assert.ok(kept <= REPLAY_CAP && kept > REPLAY_CAP / 2, String(kept));
  screen.attach();
  const snapshot = await screen.snapshot();
  assert.ok(snapshot !== undefined);
  const rows = (await rendered(snapshot.text, 200, 1000)).filter((row) => row !== '');
  assert.ok(rows.length > 100);
  for (const row of rows) assert.match(row, /^red \d+ (and some more text ){4}\.*$/);
  assert.match(rows.at(-1)!, /^red 9999 /);
  screen.dispose();
});

test('a viewer who joins while a flood has the screen model catching up gets each line once', async () => {
  const hub = new InProcessHub();
  const monitor = new Monitor(hub, { notice: false, logger: quiet });
  monitor.start();
  const sockets = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(sockets, 'listening');
  let flood = (): void => undefined;
  sockets.on('connection', (ws: WebSocket) => {
    // Before the monitor's own listener: the flood is published in the very turn the watch arrives.
    ws.on('message', (data: Buffer) => {
      if ((JSON.parse(data.toString()) as Message).type === 'watch_session') flood();
    });
    monitor.addViewer(ws, { address: '127.0.0.1', level: 'viewer' });
  });
  const url = `ws://127.0.0.1:${(sockets.address() as { port: number }).port}`;
  const id = 'floodedsession23';
  const outputs: string[] = [];
  const output = (text: string): void => {
    outputs.push(text);
    hub.events.publish('output', { sessionId: id, text });
  };
  try {
    const now = Date.now();
    hub.events.publish('session-started', {
      session: {
        id,
        instance: hub.instance,
        server: 'tcp',
        transport: 'tcp',
        remoteAddress: '127.0.0.1',
        remotePort: 40000,
        secure: false,
        startedAt: now,
        lastInputAt: now,
        user: undefined,
        terminal: { type: undefined, cols: 40, rows: 10 },
        bytesIn: 0,
        bytesOut: 0,
      },
    });
    output('Welcome!\r\n> ');
    const first = await openViewer(url);
    first.send({ type: 'watch_session', session_id: id });
    await first.next(ofType('screen_snapshot', id));

    // Far more than the screen model's parser may lag, so it skips and later catches up; and more
    // output after the watch, before the parser has run at all.
    flood = () => {
      flood = () => undefined;
      for (let i = 0; i < 4000; i++) output(`flood ${i} ${'-'.repeat(60)}\r\n`);
      setImmediate(() => output('after the watch\r\n'));
    };
    const second = await openViewer(url);
    second.send({ type: 'watch_session', session_id: id });
    const snapshot = await second.next(ofType('screen_snapshot', id));
    output('> later');
    await second.next((message) => message.type === 'server_message' && message.data?.text === '> later');
    const live = second.messages.slice(second.messages.indexOf(snapshot)).filter(ofType('server_message', id));
    assert.deepEqual(
      await rendered((snapshot.data?.text ?? '') + live.map((message) => message.data?.text).join(''), 40, 10),
      await rendered(outputs.join(''), 40, 10),
    );
  } finally {
    await monitor.stop();
    sockets.close();
  }
});

test('a viewer who joins during a flood ends up seeing the screen the user sees', async () => {
  // Paced, so that output is still being made when the viewer joins and after.
  class Counter extends TelnetHandler {
    override async onCommandSubmitted(command: string): Promise<void> {
      const count = Number(command);
      for (let i = 1; i <= count; i++) {
        await this.sendLine(`\x1b[3${i % 8}mline ${i}\x1b[0m`);
        if (i % 50 === 0) await sleep(2);
      }
      await this.sendLine('counted');
    }
  }
  const { launch, monitorUrl, port } = await launchWithMonitorPort(Counter, {
    servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } },
  });
  const user = await connectTerminal('tcp', port('tcp'));
  const id = await idOf(launch, 'tcp');
  const viewer = await openViewer(monitorUrl);
  user.send('5000');
  await user.waitFor('line 500');
  viewer.send({ type: 'watch_session', session_id: id });
  await user.waitFor('counted', { timeoutMs: 10_000 });
  await viewer.next((message) => message.type === 'server_message' && (message.data?.text ?? '').includes('counted'), {
    timeoutMs: 10_000,
  });
  const snapshot = viewer.messages.find(ofType('screen_snapshot', id));
  assert.ok(snapshot?.data?.text !== undefined);
  const live = viewer.messages.slice(viewer.messages.indexOf(snapshot)).filter(ofType('server_message', id));
  assert.ok(!snapshot.data.text.includes('counted'), 'the viewer joined before the end');
  assert.deepEqual(
    await rendered(snapshot.data.text + live.map((message) => message.data?.text).join(''), 80, 24),
    await rendered(user.text, 80, 24),
  );
});

test('is_newest marks the session that started last, as sessions start and end in any order', async () => {
  const hub = new InProcessHub();
  const monitor = new Monitor(hub, { notice: false, logger: quiet });
  monitor.start();
  const sockets = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(sockets, 'listening');
  sockets.on('connection', (ws: WebSocket) => monitor.addViewer(ws, { address: '127.0.0.1', level: 'viewer' }));
  const url = `ws://127.0.0.1:${(sockets.address() as { port: number }).port}`;
  const t = Date.now();
  const session = (id: string, startedAt: number) => ({
    id,
    instance: hub.instance,
    server: 'tcp',
    transport: 'tcp' as const,
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    secure: false,
    startedAt,
    lastInputAt: startedAt,
    user: undefined,
    terminal: { type: undefined, cols: undefined, rows: undefined },
    bytesIn: 0,
    bytesOut: 0,
  });
  // b and c in the same millisecond (the later to arrive is the newer); d arrives last but started before both.
  const started = { a: t, b: t + 10, c: t + 10, d: t + 5 };
  // As a session does: in the hub before its start is told, out of it before its end is.
  const members = new Map<string, HubMember>();
  try {
    for (const [id, at] of Object.entries(started)) {
      const member: HubMember = {
        id,
        remoteAddress: '127.0.0.1',
        info: () => session(id, at),
        notify: () => Promise.resolve(),
        kick: () => Promise.resolve(),
      };
      members.set(id, member);
      hub.add(member);
      hub.events.publish('session-started', { session: session(id, at) });
    }
    assert.equal(hub.events.has('input'), false, 'nobody watches: sessions publish no input');
    const viewer = await openViewer(url);
    assert.equal(hub.events.has('input'), true);
    const listed = viewer.messages.find(ofType('active_sessions'))?.sessions ?? [];
    assert.deepEqual(
      listed.filter((listedSession) => listedSession.is_newest).map((listedSession) => listedSession.id),
      ['c'],
    );
    const updated = async (id: string): Promise<boolean | undefined> => {
      const from = viewer.messages.length;
      hub.events.publish('user', { sessionId: id, user: `user-${id}` });
      return (
        await viewer.next((message) => message.type === 'session_updated' && message.session?.id === id, { from })
      ).session?.is_newest;
    };
    const ended = async (id: string): Promise<boolean | undefined> => {
      const from = viewer.messages.length;
      hub.remove(members.get(id)!);
      hub.events.publish('session-ended', {
        session: session(id, started[id as keyof typeof started]),
        reason: 'kicked',
      });
      return (await viewer.next((message) => message.type === 'session_ended' && message.session?.id === id, { from }))
        .session?.is_newest;
    };
    assert.equal(await updated('c'), true);
    assert.equal(await updated('b'), false);
    // No session still open started after b: c started in the same millisecond.
    assert.equal(await ended('b'), true);
    assert.equal(await ended('c'), true);
    assert.equal(await updated('d'), true);
    assert.equal(await ended('a'), false);
    assert.equal(await ended('d'), true);
    viewer.ws.close();
    await viewer.closed;
    await until(() => monitor.viewerCount === 0, 'the viewer forgotten');
    assert.equal(hub.events.has('input'), false, 'the last viewer gone: no input again');
  } finally {
    await monitor.stop();
    sockets.close();
  }
});
