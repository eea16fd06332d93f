// The real client behind a proxy: PROXY protocol headers on every listener, X-Forwarded-For and
// Forwarded from trusted proxies only, and every limit applied to the client rather than the proxy.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { after, test } from 'node:test';
import tls from 'node:tls';

import ssh2 from 'ssh2';
import { WebSocket } from 'ws';

import { LineHandler } from '../src/index.js';
import type { SessionEventMap } from '../src/index.js';
import type { ServerSettings } from '../src/config/schema.js';
import { startTestServer } from '../src/testing/index.js';
import type { TestServer } from '../src/testing/index.js';
import { encodeProxyHeaderV1, encodeProxyHeaderV2 } from '../src/transports/proxy-protocol.js';
import { makeCertificate } from './support/certificate.js';

const TIMEOUT = { timeout: 15_000 };

/** Tells each client who the server thinks it is. */
class WhoAmI extends LineHandler {
  override async onConnect(): Promise<void> {
    await this.sendLine(
      `you are ${this.remoteAddress}:${this.session.remotePort} via ${this.proxyAddress ?? 'nobody'}`,
    );
    await this.showPrompt();
  }
}

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

async function serveBehindProxy(
  transports: Array<'tcp' | 'telnet' | 'websocket' | 'ws_telnet'>,
  settings: ServerSettings,
): Promise<TestServer> {
  const server = await startTestServer(WhoAmI, { transport: transports, settings });
  servers.push(server);
  return server;
}

const V1 = (source: string, port = 40000): Buffer =>
  encodeProxyHeaderV1({
    family: source.includes(':') ? 'tcp6' : 'tcp4',
    source: { address: source, port },
    destination: { address: source.includes(':') ? '::1' : '127.0.0.1', port: 8023 },
  });

/** A raw connection that sends `preamble` first, collecting everything the server sends. */
function rawClient(port: number, preamble?: Buffer): { socket: net.Socket; text(): string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  if (preamble !== undefined) socket.write(preamble);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, text: () => text, closed };
}

async function until(read: () => string, pattern: RegExp | string, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = read();
    const found = typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    if (found) return text;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${String(pattern)}; received ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function refusals(server: TestServer): Array<SessionEventMap['refused']> {
  const seen: Array<SessionEventMap['refused']> = [];
  server.launch.app.events.on('refused', (event) => seen.push(event));
  return seen;
}

test(
  'tcp and telnet: a PROXY v1 header names the client to the handler, the listing and the events',
  TIMEOUT,
  async () => {
    const server = await serveBehindProxy(['tcp', 'telnet'], { proxy_protocol: true, trusted_proxies: ['127.0.0.1'] });
    const started: string[] = [];
    server.launch.app.events.on('session-started', ({ session }) =>
      started.push(`${session.remoteAddress} ${session.proxyAddress}`),
    );
    for (const name of ['tcp', 'telnet']) {
      const client = rawClient(server.ports[name]!, V1('203.0.113.7', 51000));
      await until(client.text, 'you are 203.0.113.7:51000 via 127.0.0.1');
      const listed = await server.launch.app.list({ server: name });
      assert.deepEqual(
        listed.map((info) => [info.remoteAddress, info.proxyAddress]),
        [['203.0.113.7', '127.0.0.1']],
      );
      client.socket.destroy();
      await client.closed;
    }
    assert.deepEqual(started, ['203.0.113.7 127.0.0.1', '203.0.113.7 127.0.0.1']);
  },
);

test('telnet sends nothing, not even its negotiation, until the PROXY header is complete', TIMEOUT, async () => {
  const server = await serveBehindProxy(['telnet'], { proxy_protocol: true, trusted_proxies: ['127.0.0.0/8'] });
  const header = encodeProxyHeaderV2({
    command: 'proxy',
    family: 'tcp6',
    source: { address: '2001:db8::42', port: 4242 },
    destination: { address: '2001:db8::1', port: 23 },
    tlvs: new Map([[0xe0, Buffer.from('skipped')]]),
  });
  const client = rawClient(server.ports.telnet!, header.subarray(0, 10));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(client.text(), '', 'bytes before the header was complete');
  client.socket.write(header.subarray(10));
  const text = await until(client.text, 'you are 2001:db8::42');
  assert.match(text, /^\xff/, 'the negotiation comes first once the header is in');
  assert.match(text, /you are 2001:db8::42:4242 via 127\.0\.0\.1/);
  client.socket.destroy();
});

test('a v2 LOCAL header (a proxy health check) keeps the connection’s own address', TIMEOUT, async () => {
  const server = await serveBehindProxy(['tcp'], { proxy_protocol: true, trusted_proxies: ['127.0.0.1'] });
  const client = rawClient(server.ports.tcp!, encodeProxyHeaderV2({ command: 'local' }));
  await until(client.text, /you are 127\.0\.0\.1:\d+ via nobody/);
  client.socket.destroy();
});

test(
  'from an untrusted address, or without a valid header in time, the connection is closed without a byte',
  TIMEOUT,
  async () => {
    const untrusted = await serveBehindProxy(['tcp', 'telnet'], {
      proxy_protocol: true,
      trusted_proxies: ['10.0.0.0/8'],
    });
    const seen = refusals(untrusted);
    for (const name of ['tcp', 'telnet']) {
      const spoofer = rawClient(untrusted.ports[name]!, V1('198.51.100.9'));
      await spoofer.closed;
      assert.equal(spoofer.text(), '', `${name}: a spoofed header from an untrusted address`);
    }
    assert.deepEqual(
      seen.map((event) => [event.remoteAddress, event.reason]),
      [
        ['127.0.0.1', 'proxy'],
        ['127.0.0.1', 'proxy'],
      ],
    );

    const strict = await serveBehindProxy(['telnet'], {
      proxy_protocol: true,
      trusted_proxies: ['127.0.0.1'],
      handshake_timeout: 0.3,
    });
    const strictRefusals = refusals(strict);
    const notAHeader = rawClient(strict.ports.telnet!, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await notAHeader.closed;
    assert.equal(notAHeader.text(), '');
    const silent = rawClient(strict.ports.telnet!);
    const startedAt = Date.now();
    await silent.closed;
    assert.ok(Date.now() - startedAt >= 250, 'closed before the header timeout');
    assert.equal(silent.text(), '');
    assert.deepEqual(
      strictRefusals.map((event) => event.reason),
      ['proxy', 'proxy'],
    );
  },
);

test('per-address limits and deny_ips count the client the header names, not the proxy', TIMEOUT, async () => {
  const server = await serveBehindProxy(['tcp'], {
    proxy_protocol: true,
    trusted_proxies: ['127.0.0.1'],
    max_connections_per_ip: 1,
    deny_ips: ['192.0.2.0/24'],
  });
  const first = rawClient(server.ports.tcp!, V1('203.0.113.1'));
  const second = rawClient(server.ports.tcp!, V1('203.0.113.2'));
  await until(first.text, 'you are 203.0.113.1');
  await until(second.text, 'you are 203.0.113.2');
  const again = rawClient(server.ports.tcp!, V1('203.0.113.1'));
  await again.closed;
  assert.match(again.text(), /Too many connections from your address/);
  const denied = rawClient(server.ports.tcp!, V1('192.0.2.77'));
  await denied.closed;
  assert.equal(denied.text(), '');
  first.socket.destroy();
  second.socket.destroy();
});

test('TLS behind the PROXY protocol: the header first, then the handshake, even in one segment', TIMEOUT, async () => {
  const certificate = makeCertificate('localhost');
  const server = await serveBehindProxy(['tcp'], {
    proxy_protocol: true,
    trusted_proxies: ['127.0.0.1'],
    use_ssl: true,
    ssl_cert: certificate.cert,
    ssl_key: certificate.key,
  });
  const raw = net.connect(server.ports.tcp!, '127.0.0.1');
  await new Promise((resolve) => raw.once('connect', resolve));
  // The header and the ClientHello leave in one write, as a proxy forwarding at once sends them.
  let isFirst = true;
  const carrier = new Duplex({
    read: () => undefined,
    write: (chunk: Buffer, _encoding, done) => {
      raw.write(isFirst ? Buffer.concat([V1('203.0.113.50'), chunk]) : chunk, done);
      isFirst = false;
    },
  });
  raw.on('data', (chunk: Buffer) => carrier.push(chunk));
  const secure = tls.connect({ socket: carrier, ca: readFileSync(certificate.cert), servername: 'localhost' });
  let text = '';
  secure.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await until(() => text, 'you are 203.0.113.50');
  secure.destroy();
  raw.destroy();
});

/** Opens a WebSocket with extra request headers and, optionally, a PROXY header before the request. */
function webSocketGreeting(
  port: number,
  path: string,
  { headers = {}, preamble }: { headers?: Record<string, string>; preamble?: Buffer } = {},
): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
    headers,
    ...(preamble === undefined
      ? {}
      : {
          createConnection: () => {
            const socket = net.connect(port, '127.0.0.1');
            socket.write(preamble);
            return socket;
          },
        }),
  });
  return new Promise((resolve, reject) => {
    let text = '';
    ws.on('message', (data: Buffer) => {
      text += data.toString();
      if (text.includes('you are')) {
        ws.terminate();
        resolve(text);
      }
    });
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.once('error', reject);
  });
}

test('WebSocket listeners read the PROXY header under HTTP too', TIMEOUT, async () => {
  const server = await serveBehindProxy(['websocket', 'ws_telnet'], {
    proxy_protocol: true,
    trusted_proxies: ['127.0.0.1'],
  });
  assert.match(
    await webSocketGreeting(server.ports.websocket!, '/ws', { preamble: V1('203.0.113.80', 7000) }),
    /you are 203\.0\.113\.80:7000 via 127\.0\.0\.1/,
  );
  assert.match(
    await webSocketGreeting(server.ports.ws_telnet!, '/ws_telnet', { preamble: V1('203.0.113.81', 7001) }),
    /you are 203\.0\.113\.81:7001 via 127\.0\.0\.1/,
  );
});

test(
  'X-Forwarded-For and Forwarded count only from a trusted proxy, right-most untrusted address first',
  TIMEOUT,
  async () => {
    const direct = await serveBehindProxy(['websocket'], {});
    assert.match(
      await webSocketGreeting(direct.ports.websocket!, '/ws', { headers: { 'X-Forwarded-For': '198.51.100.1' } }),
      /you are 127\.0\.0\.1:\d+ via nobody/,
    );

    const behind = await serveBehindProxy(['websocket'], { trusted_proxies: ['127.0.0.0/8'] });
    const port = behind.ports.websocket!;
    // 127.0.0.5 is a trusted proxy too; 198.51.100.1 is the client; whatever is left of it could be forged.
    assert.match(
      await webSocketGreeting(port, '/ws', { headers: { 'X-Forwarded-For': '6.6.6.6, 198.51.100.1, 127.0.0.5' } }),
      /you are 198\.51\.100\.1:0 via 127\.0\.0\.1/,
    );
    assert.match(
      await webSocketGreeting(port, '/ws', { headers: { Forwarded: 'for="[2001:db8::17]:4711";proto=https' } }),
      /you are 2001:db8::17:0 via 127\.0\.0\.1/,
    );
    assert.match(
      await webSocketGreeting(port, '/ws', { headers: { Forwarded: 'for=unknown' } }),
      /you are 127\.0\.0\.1:\d+ via nobody/,
    );
  },
);

test('deny_ips turns away a forwarded client per request, on pages and upgrades alike', TIMEOUT, async () => {
  const server = await serveBehindProxy(['websocket'], {
    trusted_proxies: ['127.0.0.1'],
    deny_ips: ['198.51.100.0/24'],
    web_client: true,
  });
  const port = server.ports.websocket!;
  const page = (forwardedFor: string): Promise<number> =>
    new Promise((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path: '/', headers: { 'X-Forwarded-For': forwardedFor } }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        })
        .on('error', reject),
    );
  assert.equal(await page('203.0.113.9'), 200);
  assert.equal(await page('198.51.100.9'), 403);
  await assert.rejects(webSocketGreeting(port, '/ws', { headers: { 'X-Forwarded-For': '198.51.100.9' } }), /HTTP 403/);
});

test('ssh reads the PROXY header before its own hello, and the session sees the client', TIMEOUT, async () => {
  const server = await startTestServer(WhoAmI, {
    transport: 'ssh',
    settings: { proxy_protocol: true, trusted_proxies: ['127.0.0.1'] },
  });
  servers.push(server);
  const socket = net.connect(server.ports.ssh!, '127.0.0.1');
  socket.write(V1('203.0.113.22', 6022));
  const client = new ssh2.Client();
  after(() => client.end());
  const greeting = await new Promise<string>((resolve, reject) => {
    client.once('error', reject);
    client.once('ready', () =>
      client.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, channel) => {
        if (err) return reject(err);
        let text = '';
        channel.on('data', (data: Buffer) => {
          text += data.toString();
          if (text.includes('> ')) resolve(text);
        });
      }),
    );
    client.connect({ sock: socket, username: 'ada' });
  });
  assert.match(greeting, /you are 203\.0\.113\.22:6022 via 127\.0\.0\.1/);
});
