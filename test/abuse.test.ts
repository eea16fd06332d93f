// Abuse limits on real sockets: allow/deny lists, the connection rate per address and bans, per application.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import tls from 'node:tls';
import { after, test } from 'node:test';

import { WebSocket } from 'ws';

import { parseConfig } from '../src/index.js';
import type { SessionEventMap, SessionEvents, TransportName } from '../src/index.js';
import { connect } from './support/clients.js';
import { EchoHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { TRANSPORT_NAMES, quiet, startApplication, startLaunch } from './support/servers.js';

const TIMEOUT = { timeout: 15_000 };

/** Every refusal the application publishes from now on. */
function refusals(events: SessionEvents): Array<SessionEventMap['refused']> {
  const seen: Array<SessionEventMap['refused']> = [];
  events.on('refused', (event) => seen.push(event));
  return seen;
}

/** Connects over TCP and waits for the server to close the connection: what it said first, if anything. */
async function closedAfter(port: number, host = '127.0.0.1'): Promise<string> {
  const socket = net.connect(port, host);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  // Not events.once: it would reject on a reset, and a reset is one way to be closed.
  await new Promise((resolve) => socket.once('close', resolve));
  return text;
}

/** Asks for a WebSocket upgrade: 101 when it opens, else the refusing status and its Retry-After. */
async function upgrade(
  port: number,
  path: string,
  host = '127.0.0.1',
): Promise<{ status: number; retryAfter?: string }> {
  const ws = new WebSocket(`ws://${host.includes(':') ? `[${host}]` : host}:${port}${path}`);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (request, response) => {
      request.destroy();
      const retryAfter = response.headers['retry-after'];
      resolve({ status: response.statusCode ?? 0, ...(retryAfter === undefined ? {} : { retryAfter }) });
    });
    ws.once('error', reject);
  });
}

const WS_PATHS: Record<TransportName, string> = {
  telnet: '',
  tcp: '',
  websocket: '/ws',
  ws_telnet: '/ws_telnet',
  ssh: '',
};

/** How a client of `transport` is turned away by a denied address: closed silently, or HTTP 403. */
async function assertDenied(transport: TransportName, port: number, host = '127.0.0.1'): Promise<void> {
  if (transport === 'tcp' || transport === 'telnet' || transport === 'ssh') {
    // Not a byte: no reason, no telnet negotiation, no SSH identification.
    assert.equal(await closedAfter(port, host), '', transport);
  } else {
    assert.deepEqual(await upgrade(port, WS_PATHS[transport], host), { status: 403 }, transport);
  }
}

test(
  'deny_ips refuses the address on every transport: TCP closed without a byte, WebSocket HTTP 403',
  TIMEOUT,
  async () => {
    const { launch, ports } = await startApplication(EchoHandler, { deny_ips: ['10.0.0.0/8', '127.0.0.1'] });
    const refused = refusals(launch.app.events);
    let started = 0;
    launch.app.events.on('session-started', () => started++);
    for (const transport of TRANSPORT_NAMES) await assertDenied(transport, ports[transport]);
    assert.deepEqual(
      refused.map((event) => [event.server, event.remoteAddress, event.reason]),
      TRANSPORT_NAMES.map((transport) => [transport, '127.0.0.1', 'denied']),
    );
    assert.equal(started, 0);
  },
);

test(
  'allow_ips without the address refuses it on every transport; allow_ips covering it lets it in',
  TIMEOUT,
  async () => {
    const elsewhere = await startApplication(EchoHandler, { allow_ips: ['10.0.0.0/8', '::1'] });
    const refused = refusals(elsewhere.launch.app.events);
    for (const transport of TRANSPORT_NAMES) await assertDenied(transport, elsewhere.ports[transport]);
    assert.deepEqual(
      refused.map((event) => event.reason),
      TRANSPORT_NAMES.map(() => 'denied'),
    );

    const loopback = await startApplication(EchoHandler, { allow_ips: ['127.0.0.0/8'] });
    for (const transport of TRANSPORT_NAMES) {
      const client = await connect(transport, loopback.ports[transport]);
      await client.waitFor('> ');
    }
    assert.equal((await loopback.launch.app.list()).length, TRANSPORT_NAMES.length);
  },
);

/** Whether this machine can listen on the IPv6 loopback. */
async function hasIpv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '::1', resolve));
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

test(
  'an IPv6 client is denied by an IPv6 entry, and not by an IPv4 one',
  { ...TIMEOUT, skip: !(await hasIpv6Loopback()) && 'no IPv6 loopback here' },
  async () => {
    const denied = await startApplication(EchoHandler, { host: '::1', deny_ips: ['::1/128'] });
    const refused = refusals(denied.launch.app.events);
    for (const transport of TRANSPORT_NAMES) await assertDenied(transport, denied.ports[transport], '::1');
    assert.deepEqual(
      new Set(refused.map((event) => `${event.remoteAddress} ${event.reason}`)),
      new Set(['::1 denied']),
    );

    const other = await startApplication(EchoHandler, { host: '::1', deny_ips: ['127.0.0.1'] });
    assert.deepEqual(await upgrade(other.ports.websocket, '/ws', '::1'), { status: 101 });
  },
);

test('max_connection_rate_per_ip counts new connections across every server of the application', TIMEOUT, async () => {
  const { launch, ports } = await startApplication(EchoHandler, { max_connection_rate_per_ip: 3 });
  const refused = refusals(launch.app.events);
  await (await connect('tcp', ports.tcp)).waitFor('> ');
  await (await connect('websocket', ports.websocket)).waitFor('> ');
  await (await connect('ws_telnet', ports.ws_telnet)).waitFor('> ');

  // The fourth within the minute, on a server that has not seen the address yet.
  assert.match(await closedAfter(ports.telnet), /^Too many new connections from your address\. .*\r\n$/);
  const { status, retryAfter } = await upgrade(ports.websocket, '/ws');
  assert.equal(status, 429);
  // Three a minute: the next one is due 20 s after the first.
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 20, `Retry-After: ${retryAfter}`);
  assert.match(await closedAfter(ports.tcp), /Too many new connections/);
  assert.deepEqual(
    refused.map((event) => [event.server, event.reason]),
    [
      ['telnet', 'rate'],
      ['websocket', 'rate'],
      ['tcp', 'rate'],
    ],
  );
  assert.equal((await launch.app.list()).length, 3);
});

test(
  'ban_after refusals ban the address for ban_seconds, though every other limit would let it in',
  TIMEOUT,
  async () => {
    const { launch, ports } = await startApplication(EchoHandler, {
      max_connections_per_ip: 1,
      max_connection_rate_per_ip: 100,
      ban_after: 2,
      ban_seconds: 1,
    });
    const refused = refusals(launch.app.events);
    let ended = 0;
    launch.app.events.on('session-ended', () => ended++);
    const first = await connect('tcp', ports.tcp);
    await first.waitFor('> ');
    assert.match(await closedAfter(ports.telnet), /Too many connections from your address/);
    assert.equal((await upgrade(ports.ws_telnet, '/ws_telnet')).status, 429);
    const bannedAt = Date.now();

    // The session that held the address's one place ends: only the ban is left to refuse it.
    first.end();
    await until(() => ended === 1, 'the first session to end');
    assert.match(
      await closedAfter(ports.tcp),
      /^Your address is blocked for a while\. Please try again in 1 second\.\r\n$/,
    );
    assert.deepEqual(await upgrade(ports.websocket, '/ws'), { status: 429, retryAfter: '1' });
    assert.deepEqual(
      refused.map((event) => [event.server, event.reason]),
      [
        ['telnet', 'per-ip'],
        ['ws_telnet', 'per-ip'],
        ['tcp', 'banned'],
        ['websocket', 'banned'],
      ],
    );

    await delay(Math.max(0, bannedAt + 1200 - Date.now()));
    await (await connect('telnet', ports.telnet)).waitFor('> ');
    assert.equal(refused.length, 4);
  },
);

const certDir = mkdtempSync(join(tmpdir(), 'cps-abuse-tls-'));
after(() => rmSync(certDir, { recursive: true, force: true }));

/** Opens TLS over a socket of our own, to count the bytes the server sent on the wire. */
async function tlsAttempt(port: number): Promise<{ isSecure: boolean; bytesFromServer: number }> {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  await once(raw, 'connect');
  const socket = tls.connect({ socket: raw, rejectUnauthorized: false });
  socket.on('error', () => undefined);
  let isSecure = false;
  socket.once('secureConnect', () => {
    isSecure = true;
    socket.destroy();
  });
  await new Promise((resolve) => socket.once('close', resolve));
  return { isSecure, bytesFromServer: raw.bytesRead };
}

test('a denied address is closed before any TLS handshake: not a byte of it is sent', TIMEOUT, async () => {
  const cert = join(certDir, 'cert.pem');
  const key = join(certDir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=abuse', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  const secure = { transport: 'telnet', host: '127.0.0.1', port: 0, use_ssl: true, ssl_cert: cert, ssl_key: key };
  const config = parseConfig({ servers: { open: secure, guarded: { ...secure, deny_ips: ['127.0.0.1'] } } }, certDir, {
    requireHandlerClass: false,
  });
  const launch = await startLaunch(config, { logger: quiet, handlerClass: EchoHandler });
  const refused = refusals(launch.app.events);
  const [open, guarded] = launch.servers.map((server) => server.address!.port) as [number, number];

  // The same client completes a handshake with the server that lets it in.
  const welcomed = await tlsAttempt(open);
  assert.equal(welcomed.isSecure, true);
  assert.ok(welcomed.bytesFromServer > 0);
  assert.deepEqual(await tlsAttempt(guarded), { isSecure: false, bytesFromServer: 0 });
  assert.deepEqual(
    refused.map((event) => [event.server, event.reason]),
    [['guarded', 'denied']],
  );
});
