// Prometheus metrics and health checks, scraped over HTTP as Prometheus and a load balancer would.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';

import { InProcessHub, parseConfig } from '../src/index.js';
import type {
  SessionEventMap,
  SessionEvents,
  SessionEventType,
  SessionFilter,
  SessionInfo,
  TransportName,
} from '../src/index.js';
import { DO, IAC, OPT_ECHO, OPT_NAWS, WILL, WONT } from '../src/telnet/constants.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { EchoHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { quiet, startApplication, startLaunch } from './support/servers.js';

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** One sample of the text format: `name{label="value",...} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped, label values unescaped). */
function parseMetrics(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name!] = value!.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of `name` over the samples whose labels include `where`; the metric must exist. */
function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  const series = samples.filter((sample) => sample.name === name);
  assert.ok(series.length > 0, `no ${name} in the metrics`);
  return series
    .filter((sample) => Object.entries(where).every(([label, value]) => sample.labels[label] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** GETs `path` from 127.0.0.1:`port`, as a scraper or a health check would. */
async function get(port: number, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The status and body of a health check. */
async function bodyOf(port: number, path: string): Promise<[number, string]> {
  const { status, body } = await get(port, path);
  return [status, body];
}

/** GETs /metrics and parses it, checking that it is the Prometheus text format. */
async function scrape(port: number, headers: Record<string, string> = {}): Promise<Sample[]> {
  const { status, headers: responseHeaders, body } = await get(port, '/metrics', headers);
  assert.equal(status, 200);
  assert.match(responseHeaders.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(body);
}

/** Counts the events of `type` the application publishes from now on. */
function counting<T extends SessionEventType>(events: SessionEvents, type: T): Array<SessionEventMap[T]> {
  const seen: Array<SessionEventMap[T]> = [];
  events.on(type, (event) => seen.push(event));
  return seen;
}

/** A client at its prompt; a telnet 'terminal' client also once the server echoes its typing. */
async function ready(transport: TransportName, port: number, style: 'terminal' | 'refuse'): Promise<TestClient> {
  const client = await connect(transport, port, { telnet: style });
  await client.waitFor('> ');
  if (style === 'terminal') await until(() => client.agreed.has(OPT_ECHO), 'server echo');
  return client;
}

test('sessions on every transport are counted by transport and by why they ended, refusals by why they were refused', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { metrics_path: '/metrics', max_connections: 2 });
  const ended = counting(launch.app.events, 'session-ended');
  const refused = counting(launch.app.events, 'refused');

  const terminal = await ready('telnet', ports.telnet, 'terminal');
  const refusing = await ready('telnet', ports.telnet, 'refuse');
  const overCapacity = await connect('telnet', ports.telnet);
  await overCapacity.waitFor('Server is at maximum capacity');
  await overCapacity.closed;
  terminal.send('quit');
  refusing.send('fail');
  await assert.rejects(connect('websocket', ports.websocket, { path: '/nowhere' }), /HTTP 404/);

  const tcpQuitting = await ready('tcp', ports.tcp, 'refuse');
  const tcpStaying = await ready('tcp', ports.tcp, 'refuse');
  tcpStaying.send('hello');
  await tcpStaying.waitFor('Echo: hello');
  tcpQuitting.send('quit');
  const websocket = await ready('websocket', ports.websocket, 'refuse');
  websocket.end();
  const wsTelnet = await ready('ws_telnet', ports.ws_telnet, 'refuse');
  wsTelnet.send('quit');
  await until(() => ended.length === 5 && refused.length === 2, 'five sessions ended and two refusals');

  const samples = await scrape(ports.websocket);
  for (const [transport, opened] of [
    ['telnet', 2],
    ['tcp', 2],
    ['websocket', 1],
    ['ws_telnet', 1],
  ] as const) {
    assert.equal(total(samples, 'chuk_sessions_opened_total', { transport }), opened, `${transport} opened`);
    assert.equal(
      total(samples, 'chuk_sessions_active', { transport }),
      transport === 'tcp' ? 1 : 0,
      `${transport} active`,
    );
    assert.ok(total(samples, 'chuk_received_bytes_total', { transport }) > 0, `${transport} received bytes`);
    assert.ok(total(samples, 'chuk_sent_bytes_total', { transport }) > 0, `${transport} sent bytes`);
    const closed = transport === 'tcp' ? 1 : opened;
    assert.equal(
      total(samples, 'chuk_session_duration_seconds_count', { transport }),
      closed,
      `${transport} durations`,
    );
    assert.equal(total(samples, 'chuk_handler_errors_total', { transport }), transport === 'telnet' ? 1 : 0);
  }
  const closedBy = (transport: string, reason: string): number =>
    total(samples, 'chuk_sessions_closed_total', { server: transport, transport, reason });
  assert.equal(closedBy('telnet', 'handler-ended'), 1);
  assert.equal(closedBy('telnet', 'handler-error'), 1);
  assert.equal(closedBy('tcp', 'handler-ended'), 1);
  assert.equal(closedBy('websocket', 'client-closed'), 1);
  assert.equal(closedBy('ws_telnet', 'handler-ended'), 1);
  assert.equal(total(samples, 'chuk_sessions_closed_total'), 5);
  assert.equal(total(samples, 'chuk_connections_refused_total', { transport: 'telnet', reason: 'capacity' }), 1);
  assert.equal(total(samples, 'chuk_connections_refused_total', { transport: 'websocket', reason: 'path' }), 1);
  assert.equal(total(samples, 'chuk_connections_refused_total'), 2);

  // The terminal agreed to report its size and type; the two refusing clients (telnet, ws_telnet) did not.
  for (const option of ['NAWS', 'TTYPE']) {
    assert.equal(total(samples, 'chuk_telnet_options_total', { option, side: 'remote', outcome: 'enabled' }), 1);
    assert.equal(total(samples, 'chuk_telnet_options_total', { option, side: 'remote', outcome: 'refused' }), 2);
  }
  assert.equal(total(samples, 'chuk_telnet_options_total', { option: 'ECHO', side: 'local', outcome: 'enabled' }), 1);
  assert.equal(total(samples, 'chuk_telnet_options_total', { outcome: 'disabled' }), 0);

  assert.deepEqual(samples.find((sample) => sample.name === 'chuk_build_info')?.labels, {
    version: PACKAGE_VERSION,
    node_version: process.version,
  });
  assert.equal(total(samples, 'chuk_build_info'), 1);
  assert.equal(total(samples, 'chuk_monitor_viewers'), 0);
  assert.ok(total(samples, 'chuk_event_loop_lag_seconds') >= 0);
  assert.ok(total(samples, 'chuk_process_cpu_user_seconds_total') > 0);
  assert.ok(total(samples, 'chuk_nodejs_heap_size_used_bytes') > 0);
  // Per-session and per-address labels would grow without bound.
  for (const sample of samples) assert.ok(!('session' in sample.labels || 'address' in sample.labels));
});

test('byte counters count live sessions at scrape time and never go backwards when they end', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { metrics_path: '/metrics' });
  const ended = counting(launch.app.events, 'session-ended');
  const client = await ready('tcp', ports.tcp, 'refuse');
  const bytes = async (): Promise<[number, number]> => {
    const samples = await scrape(ports.websocket);
    const where = { transport: 'tcp' };
    return [total(samples, 'chuk_received_bytes_total', where), total(samples, 'chuk_sent_bytes_total', where)];
  };
  const [receivedBefore, sentBefore] = await bytes();
  client.send('a line of some length');
  await client.waitFor('Echo: a line of some length');
  const [receivedLive, sentLive] = await bytes();
  assert.equal(receivedLive - receivedBefore, 'a line of some length\r\n'.length);
  assert.ok(sentLive > sentBefore);
  client.send('quit');
  await until(() => ended.length === 1, 'the session to end');
  const [receivedAfter, sentAfter] = await bytes();
  assert.equal(receivedAfter, receivedLive + 'quit\r\n'.length);
  assert.ok(sentAfter > sentLive, 'Goodbye! was counted');
  assert.deepEqual(await bytes(), [receivedAfter, sentAfter]);
});

/** A session that another process of the application serves. */
const ELSEWHERE: SessionInfo = {
  id: 'elsewhere0000000',
  instance: 'another process',
  server: 'tcp',
  transport: 'tcp',
  remoteAddress: '192.0.2.1',
  remotePort: 40000,
  secure: false,
  startedAt: Date.now(),
  lastInputAt: Date.now(),
  user: undefined,
  terminal: { type: undefined, cols: undefined, rows: undefined },
  bytesIn: 1_000_000,
  bytesOut: 1_000_000,
};

/** A hub as one that spans processes behaves: it lists their sessions too, and listing takes a while. */
class SpanningHub extends InProcessHub {
  #hold: { listed: () => void; released: Promise<void> } | undefined;

  /** Makes the next listing wait, once it has read this process's sessions, until released. */
  holdNextListing(): { listed: Promise<void>; release: () => void } {
    let listed!: () => void;
    let release!: () => void;
    const hold = {
      listed: new Promise<void>((resolve) => (listed = resolve)),
      released: new Promise<void>((resolve) => (release = resolve)),
    };
    this.#hold = { listed, released: hold.released };
    return { listed: hold.listed, release };
  }

  override async list(filter?: SessionFilter): Promise<SessionInfo[]> {
    const local = await super.list(filter);
    const hold = this.#hold;
    this.#hold = undefined;
    if (hold !== undefined) {
      hold.listed();
      await hold.released;
    }
    return [...local, ELSEWHERE];
  }
}

test('a session that ends while a scrape lists the application is counted once, and other processes not at all', async () => {
  const hub = new SpanningHub({ logger: quiet });
  const config = parseConfig(
    { servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } }, monitor_port: 0 },
    process.cwd(),
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { handlerClass: EchoHandler, logger: quiet, hub });
  const port = launch.observability!.address!.port;
  const ended = counting(launch.app.events, 'session-ended');
  const client = await ready('tcp', launch.servers[0]!.address!.port, 'refuse');

  const hold = hub.holdNextListing();
  const during = scrape(port);
  await hold.listed;
  client.send('quit');
  await until(() => ended.length === 1, 'the session to end');
  hold.release();
  const samplesDuring = await during;
  const samplesAfter = await scrape(port);
  for (const samples of [samplesDuring, samplesAfter]) {
    assert.equal(total(samples, 'chuk_sessions_active'), 0);
    assert.equal(total(samples, 'chuk_received_bytes_total'), 'quit\r\n'.length);
  }
  assert.equal(total(samplesDuring, 'chuk_sent_bytes_total'), total(samplesAfter, 'chuk_sent_bytes_total'));
});

test('an option the client switches off again counts as disabled, not refused', async () => {
  const { launch, ports } = await startApplication(EchoHandler, { metrics_path: '/metrics' });
  const options = counting(launch.app.events, 'option');
  const socket = net.connect(ports.telnet, '127.0.0.1');
  const closed = new Promise((resolve) => socket.once('close', resolve));
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
  await until(() => received.includes(Buffer.from([IAC, DO, OPT_NAWS])), 'the server to ask for the window size');
  socket.write(Buffer.from([IAC, WILL, OPT_NAWS]));
  await until(() => options.some((event) => event.option === 'NAWS' && event.enabled), 'NAWS on');
  socket.write(Buffer.from([IAC, WONT, OPT_NAWS]));
  await until(() => options.some((event) => event.option === 'NAWS' && !event.enabled), 'NAWS off');
  socket.end();
  await closed;

  const samples = await scrape(ports.websocket);
  const naws = (outcome: string): number =>
    total(samples, 'chuk_telnet_options_total', { option: 'NAWS', side: 'remote', outcome });
  assert.deepEqual([naws('enabled'), naws('disabled'), naws('refused')], [1, 1, 0]);
  // The event stream says the same: the layer, which knows the option was on, tells the outcome.
  assert.deepEqual(
    options.filter((event) => event.option === 'NAWS').map(({ side, enabled, outcome }) => [side, enabled, outcome]),
    [
      ['remote', true, 'enabled'],
      ['remote', false, 'disabled'],
    ],
  );
  // The options the client never answered were not refused either; ECHO waits for the terminal type.
  assert.equal(
    options.filter((event) => event.outcome === 'refused').length,
    0,
    JSON.stringify(options.map((event) => `${event.option} ${event.outcome}`)),
  );
});

test('event-loop lag shows a loop that was blocked since the previous scrape', async () => {
  const { ports } = await startApplication(EchoHandler, { metrics_path: '/metrics' });
  await scrape(ports.websocket);
  const blockedUntil = Date.now() + 250;
  while (Date.now() < blockedUntil) {
    // Busy: no timer, socket or promise gets a turn, as under a handler stuck in synchronous work.
  }
  const lag = total(await scrape(ports.websocket), 'chuk_event_loop_lag_seconds');
  assert.ok(lag >= 0.2 && lag < 5, `lag ${lag}s after blocking 0.25s`);
});

test('a server open to other machines serves metrics only with the token, health always', async () => {
  const config = parseConfig(
    { servers: { web: { transport: 'websocket', host: '0.0.0.0', port: 0, metrics_path: '/metrics' } } },
    process.cwd(),
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { handlerClass: EchoHandler, logger: quiet });
  const port = launch.servers[0]!.address!.port;
  const token = launch.observability?.generatedToken;
  assert.ok(token !== undefined, 'a token was generated for a listener on 0.0.0.0');

  const anonymous = await get(port, '/metrics');
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
  assert.ok(!anonymous.body.includes('chuk_'));
  assert.equal((await get(port, '/metrics', { Authorization: 'Bearer not-the-token-at-all' })).status, 401);
  const samples = await scrape(port, { Authorization: `Bearer ${token}` });
  assert.equal(total(samples, 'chuk_build_info', { version: PACKAGE_VERSION }), 1);

  assert.deepEqual(await bodyOf(port, '/healthz'), [200, 'ok\n']);
  assert.deepEqual(await bodyOf(port, '/readyz'), [200, 'ready\n']);
});

test('tokens beside servers: cover every server without tokens of its own; a server with its own keeps them', async () => {
  const config = parseConfig(
    {
      monitor_token: 'application-token-0123456789',
      servers: {
        shared: { transport: 'websocket', host: '127.0.0.1', port: 0, metrics_path: '/metrics' },
        own: {
          transport: 'websocket',
          host: '127.0.0.1',
          port: 0,
          metrics_path: '/metrics',
          monitor_token: 'server-own-token-0123456789',
        },
      },
    },
    process.cwd(),
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { handlerClass: EchoHandler, logger: quiet });
  const [shared, own] = launch.servers.map((server) => server.address!.port);
  const status = async (port: number, token?: string): Promise<number> =>
    (await get(port, '/metrics', token === undefined ? {} : { Authorization: `Bearer ${token}` })).status;
  assert.deepEqual(
    [
      await status(shared!),
      await status(shared!, 'application-token-0123456789'),
      await status(shared!, 'server-own-token-0123456789'),
    ],
    [401, 200, 401],
  );
  assert.deepEqual(
    [
      await status(own!),
      await status(own!, 'application-token-0123456789'),
      await status(own!, 'server-own-token-0123456789'),
    ],
    [401, 401, 200],
  );
});

test('metrics alone off loopback print their URL with the generated token, the one place it is shown', async () => {
  const config = parseConfig(
    { servers: { web: { transport: 'websocket', host: '0.0.0.0', port: 0, metrics_path: '/metrics' } } },
    process.cwd(),
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { handlerClass: EchoHandler, logger: quiet });
  const token = launch.observability!.generatedToken!;
  const port = launch.servers[0]!.address!.port;
  assert.deepEqual(launch.observability!.accessUrls(launch.servers), [
    `http://127.0.0.1:${port}/metrics?token=${token}`,
  ]);
  assert.equal((await get(port, `/metrics?token=${token}`)).status, 200);
});

test('monitor_port serves metrics and health without a WebSocket server, and readyz turns 503 once the launch stops', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  /** Holds its session open in onDisconnect, so the launch stays mid-shutdown until released. */
  class HeldHandler extends EchoHandler {
    override async onDisconnect(): Promise<void> {
      await released;
    }
  }
  const config = parseConfig(
    { monitor_port: 0, servers: { telnet: { transport: 'telnet', host: '127.0.0.1', port: 0 } } },
    process.cwd(),
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { handlerClass: HeldHandler, logger: quiet });
  const port = launch.observability!.address!.port;
  assert.notEqual(port, launch.servers[0]!.address!.port);

  const client = await ready('telnet', launch.servers[0]!.address!.port, 'terminal');
  client.send('hello');
  await client.waitFor('Echo: hello');
  const samples = await scrape(port);
  // This launch's registry is its own: the sessions of the other launches in this process are not in it.
  assert.equal(total(samples, 'chuk_sessions_opened_total'), 1);
  assert.equal(total(samples, 'chuk_sessions_active', { server: 'telnet', transport: 'telnet' }), 1);
  assert.deepEqual(await bodyOf(port, '/healthz'), [200, 'ok\n']);
  assert.deepEqual(await bodyOf(port, '/readyz'), [200, 'ready\n']);

  const stopped = launch.stop(5000);
  await client.waitFor('Server is shutting down');
  await client.closed;
  assert.deepEqual(await bodyOf(port, '/readyz'), [503, 'not ready\n']);
  assert.deepEqual(await bodyOf(port, '/healthz'), [200, 'ok\n']);
  release();
  await stopped;
  await assert.rejects(get(port, '/healthz'), 'the monitor port closes with the launch');
});
