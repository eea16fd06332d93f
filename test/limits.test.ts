// Limits that keep a server fair and frugal: slow consumers, handshake timeouts, TLS renewal.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, test } from 'node:test';

import { WebSocket } from 'ws';

import { LineHandler, parseConfig } from '../src/index.js';
import type { SessionEventMap } from '../src/index.js';
import { makeCertificate } from './support/certificate.js';
import { connect } from './support/clients.js';
import { EchoHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { quiet, startApplication, startLaunch } from './support/servers.js';

/** Writes far more than any client reads, awaiting nothing, until the session ends. */
class Firehose extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command !== 'flood') return;
    const line = `${'x'.repeat(1000)}\n`;
    while (!this.session.isClosed) {
      for (let i = 0; i < 100; i++) void this.sendLine(line);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

test('a client that stops reading while its handler floods it is closed as a slow consumer, others unharmed', async () => {
  const { launch, ports } = await startApplication(Firehose, { max_output_buffer: 256 * 1024 });
  const ended: Array<SessionEventMap['session-ended']> = [];
  launch.app.events.on('session-ended', (event) => ended.push(event));
  const bystander = await connect('tcp', ports.tcp);
  await bystander.waitFor('> ');

  // A TCP reader that never reads, and a WebSocket one whose socket is paused.
  const stuckTcp = net.connect(ports.tcp, '127.0.0.1');
  stuckTcp.on('error', () => undefined);
  await new Promise((resolve) => stuckTcp.once('connect', resolve));
  stuckTcp.pause();
  stuckTcp.write('flood\r\n');
  const stuckWs = new WebSocket(`ws://127.0.0.1:${ports.websocket}/ws`);
  stuckWs.on('error', () => undefined);
  await new Promise((resolve) => stuckWs.once('open', resolve));
  stuckWs.send('flood');
  // ws reads from its socket as fast as it can unless the socket itself is paused.
  (stuckWs as unknown as { _socket: net.Socket })._socket.pause();

  await until(
    () => ended.filter((event) => event.reason === 'slow-consumer').length === 2,
    'two slow consumers',
    20_000,
  );
  assert.deepEqual(ended.map((event) => event.session.transport).sort(), ['tcp', 'websocket']);
  bystander.send('still fine');
  await bystander.waitFor('> ');
  assert.equal((await launch.app.list()).length, 1);
  stuckTcp.destroy();
  stuckWs.terminate();
});

test("a flood of lines from one client never makes another client wait for the flood's end", async () => {
  const { ports } = await startApplication(EchoHandler);
  for (const [flooder, bystander] of [
    ['tcp', 'websocket'],
    ['telnet', 'tcp'],
  ] as const) {
    const flood = await connect(flooder, ports[flooder]);
    const other = await connect(bystander, ports[bystander]);
    await flood.waitFor('> ');
    await other.waitFor('> ');
    const floodReplies = (): number => flood.text.split('Echo: flood line').length - 1;
    flood.type('flood line\r\n'.repeat(20_000));
    other.send('me too');
    await other.waitFor('Echo: me too');
    const answeredAfter = floodReplies();
    // Answered within a few turns of the flood starting (thousands of lines later without a budget).
    assert.ok(answeredAfter < 1000, `${bystander} was answered after ${answeredAfter} of ${flooder}'s 20,000 lines`);
    // And the flood itself is answered in full, nothing lost.
    await until(() => floodReplies() === 20_000, `all 20,000 replies to ${flooder}`, 20_000);
  }
});

test('a connection that never finishes its handshake is dropped after handshake_timeout', async () => {
  const { ports } = await startApplication(EchoHandler, { handshake_timeout: 0.5 });
  // Slowloris on the WebSocket port: a request line and then nothing.
  const slow = net.connect(ports.websocket, '127.0.0.1');
  slow.on('error', () => undefined);
  // Reading, so that the server's goodbye (408 and FIN) is seen.
  slow.resume();
  await new Promise((resolve) => slow.once('connect', resolve));
  slow.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  const started = Date.now();
  await new Promise((resolve) => slow.once('close', resolve));
  const took = Date.now() - started;
  assert.ok(took >= 400 && took < 3000, `closed after ${took} ms`);
});

const certDir = mkdtempSync(join(tmpdir(), 'cps-limits-tls-'));
const tlsSockets: tls.TLSSocket[] = [];
after(() => {
  for (const socket of tlsSockets) socket.destroy();
  rmSync(certDir, { recursive: true, force: true });
});

/** The certificate subject a new TLS connection is served, and the connection. */
async function servedName(port: number): Promise<{ name: string; socket: tls.TLSSocket }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  tlsSockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  return { name: String(socket.getPeerCertificate().subject.CN), socket };
}

test('a TLS handshake never finished is dropped, and TLS 1.1 is refused', async () => {
  const first = makeCertificate('first');
  const config = parseConfig(
    {
      transport: 'telnet',
      host: '127.0.0.1',
      port: 0,
      use_ssl: true,
      ssl_cert: first.cert,
      ssl_key: first.key,
      handshake_timeout: 0.5,
    },
    certDir,
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { logger: quiet, handlerClass: EchoHandler });
  const port = launch.servers[0]!.address!.port;
  const silent = net.connect(port, '127.0.0.1');
  silent.on('error', () => undefined);
  silent.resume();
  const started = Date.now();
  await new Promise((resolve) => silent.once('close', resolve));
  assert.ok(Date.now() - started < 3000);
  const old = tls.connect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    maxVersion: 'TLSv1.1',
    minVersion: 'TLSv1',
  });
  tlsSockets.push(old);
  await assert.rejects(
    new Promise((resolve, reject) => old.once('secureConnect', resolve).once('error', reject)),
    /version|protocol/i,
  );
});

test('a reloaded certificate serves new connections, open sessions carry on, and a bad one keeps the old', async () => {
  const first = makeCertificate('first');
  const second = makeCertificate('second');
  const certFile = join(certDir, 'live-cert.pem');
  const keyFile = join(certDir, 'live-key.pem');
  const install = (pair: { cert: string; key: string }): void => {
    writeFileSync(certFile, execFileSync('cat', [pair.cert]));
    writeFileSync(keyFile, execFileSync('cat', [pair.key]));
  };
  install(first);
  const servers = Object.fromEntries(
    (['tcp', 'websocket'] as const).map((transport) => [
      transport,
      { transport, host: '127.0.0.1', port: 0, use_ssl: true, ssl_cert: certFile, ssl_key: keyFile },
    ]),
  );
  const launch = await startLaunch(parseConfig({ servers }, certDir, { requireHandlerClass: false }), {
    logger: quiet,
    handlerClass: EchoHandler,
  });
  const [tcpPort, wssPort] = launch.servers.map((server) => server.address!.port) as [number, number];
  const before = await servedName(tcpPort);
  assert.equal(before.name, 'first');
  let text = '';
  before.socket.on('data', (chunk: Buffer) => (text += chunk.toString()));

  install(second);
  await launch.reloadTls();
  assert.equal((await servedName(tcpPort)).name, 'second');
  assert.equal((await servedName(wssPort)).name, 'second');
  before.socket.write('still here\r\n');
  await until(() => text.includes('Echo: still here'), 'the open session to answer');

  writeFileSync(certFile, 'not a certificate');
  await launch.reloadTls();
  assert.equal((await servedName(tcpPort)).name, 'second');
});
