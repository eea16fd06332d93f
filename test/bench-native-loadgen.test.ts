// The native load generator (bench/native-loadgen.c): built by the system's C compiler, it loads
// each target in turn, times each round trip, counts the server's CPU and speaks telnet as a
// terminal does, and SSH as `ssh -tt` does. Without a compiler, or libssh2 for SSH, it is skipped
// on a workstation and fails in CI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';

import ssh2 from 'ssh2';
import { WebSocketServer } from 'ws';
import type { RawData } from 'ws';

import { buildNativeLoadgen, runNativeLoadgen, runNativeRequest } from '../bench/native-loadgen.js';

const IS_CI = process.env['CI'] === 'true';
const dir = mkdtempSync(join(tmpdir(), 'native-loadgen-'));
const servers: Array<net.Server | WebSocketServer> = [];
let built: Awaited<ReturnType<typeof buildNativeLoadgen>>;

before(async () => {
  built = await buildNativeLoadgen(dir);
});

after(() => {
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The generator, or a skip (a workstation without a C compiler) or a failure (CI). */
function binaryOr(t: TestContext): string | undefined {
  if ('binary' in built) return built.binary;
  if (IS_CI) assert.fail(`${built.missing}: install gcc`);
  t.skip(built.missing);
  return undefined;
}

/** A line echo server on 127.0.0.1; `opening` is sent first, input passes through `toText`. */
async function lineServer(opening: Buffer, onInput: (socket: net.Socket, bytes: Buffer) => string): Promise<number> {
  const server = net.createServer((socket) => {
    let pending = '';
    socket.write(opening);
    socket.on('data', (chunk: Buffer) => {
      const lines = (pending + onInput(socket, chunk)).split('\r\n');
      pending = lines.pop() ?? '';
      if (lines.length > 0) socket.write(lines.map((line) => `Echo: ${line}\r\n`).join(''));
    });
    socket.on('error', () => socket.destroy());
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

test('each target gets its own round trips, latencies, CPU and connects, in the order given', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  const fast = await lineServer(Buffer.from('Welcome\r\n'), (_, bytes) => bytes.toString('latin1'));
  // Every answer 3 ms late: closed loop, one client, at most about 330 round trips a second.
  const slow = await lineServer(Buffer.from('Welcome\r\n'), (socket, bytes) => {
    socket.pause();
    setTimeout(() => socket.resume(), 3);
    return bytes.toString('latin1');
  });
  // Both servers are this process: its CPU is counted in each one's turns.
  const targets = [
    { protocol: 'tcp', port: slow, pid: process.pid },
    { protocol: 'tcp', port: fast, pid: process.pid },
  ] as const;
  const [ofSlow, ofFast] = await runNativeLoadgen(binary, ['echo', 1, 1, 0.4, 100, 100], targets, undefined);
  assert.ok(ofSlow!.perSecond > 50 && ofSlow!.perSecond < 400, `slow server: ${ofSlow!.perSecond} round trips/s`);
  assert.ok(ofFast!.perSecond > 3 * ofSlow!.perSecond, `fast server: ${ofFast!.perSecond} round trips/s`);
  for (const result of [ofSlow!, ofFast!]) {
    // The rate is printed whole, the seconds to the microsecond.
    assert.ok(
      Math.abs(result.count / result.seconds - result.perSecond) <= 1 + result.perSecond * 1e-5,
      JSON.stringify(result),
    );
    assert.ok(result.seconds >= 0.35 && result.seconds < 1, `${result.seconds} s counted of 0.4`);
    assert.ok(result.p99Ms >= result.p50Ms, JSON.stringify(result));
    assert.ok(result.clientMs > 0, `generator CPU ${result.clientMs} ms`);
  }
  assert.ok(ofSlow!.p50Ms >= 3, `slow server's median round trip ${ofSlow!.p50Ms} ms, each answer 3 ms late`);
  assert.ok(ofFast!.p50Ms < 3, `fast server's median round trip ${ofFast!.p50Ms} ms`);
  assert.ok(ofFast!.serverMs > 0, `server CPU ${ofFast!.serverMs} ms over ${ofFast!.count} round trips`);
  const addresses = targets.map((target) => ({ ...target, path: '' }));
  const connects = await runNativeRequest(
    binary,
    { kind: 'connect', targets: addresses, concurrency: 4, warmupMs: 100, durationMs: 400, sliceMs: 100 },
    undefined,
  );
  for (const result of connects) {
    assert.equal(result.kind, 'connect');
    if (result.kind !== 'connect') continue;
    assert.ok(result.perSecond > 0 && result.connects > 0, JSON.stringify(result));
    assert.ok(result.cpu.serverMs >= 0 && result.cpu.clientMs > 0, JSON.stringify(result));
  }
});

test('a bench echo request comes back in the form the Node generator answers in', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  const port = await lineServer(Buffer.from('Welcome\r\n'), (_, bytes) => bytes.toString('latin1'));
  const [result] = await runNativeRequest(
    binary,
    {
      kind: 'echo',
      targets: [{ protocol: 'tcp', port, path: '', pid: process.pid }],
      clients: 3,
      depth: 4,
      warmupMs: 100,
      durationMs: 300,
      sliceMs: 100,
    },
    undefined,
  );
  assert.equal(result?.kind, 'echo');
  if (result?.kind !== 'echo') return;
  assert.ok(result.roundTrips > 100, `${result.roundTrips} round trips`);
  assert.ok(
    Math.abs(result.roundTrips / result.seconds - result.perSecond) <= 1 + result.perSecond * 1e-5,
    JSON.stringify(result),
  );
  assert.ok(result.p50Ms > 0 && result.p99Ms >= result.p50Ms, JSON.stringify(result));
  assert.equal(result.errors, 0);
});

test('on telnet it answers as a terminal does, once each, and its lines get through', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  const IAC = 0xff;
  const received: Buffer[] = [];
  const opening = Buffer.concat([
    // DO NAWS, DO TTYPE, WILL ECHO, WILL SGA, and an option no terminal knows (200).
    Buffer.from([IAC, 0xfd, 31, IAC, 0xfd, 24, IAC, 0xfb, 1, IAC, 0xfb, 3, IAC, 0xfd, 200]),
    Buffer.from('Welcome\r\n'),
  ]);
  let isTypeAsked = false;
  const port = await lineServer(opening, (socket, bytes) => {
    received.push(bytes);
    const input = bytes.toString('latin1');
    if (!isTypeAsked && input.includes('\xff\xfb\x18')) {
      isTypeAsked = true;
      socket.write(Buffer.from([IAC, 0xfa, 24, 1, IAC, 0xf0]));
    }
    return input.replace(/\xff(?:\xfa[\s\S]*?\xff\xf0|[\xfb-\xfe][\s\S])/g, '');
  });
  const [result] = await runNativeLoadgen(
    binary,
    ['echo', 1, 2, 0.4, 100, 100],
    [{ protocol: 'telnet', port }],
    undefined,
  );
  assert.ok(result!.perSecond > 50, `${result!.perSecond} round trips/s`);
  const sent = Buffer.concat(received).toString('latin1');
  const count = (text: string): number => sent.split(text).length - 1;
  assert.equal(count('\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0'), 1, 'WILL NAWS and an 80x24 window');
  assert.equal(count('\xff\xfb\x18'), 1, 'WILL TTYPE');
  assert.equal(count('\xff\xfa\x18\x00xterm-256color\xff\xf0'), 1, 'TTYPE IS xterm-256color');
  assert.equal(count('\xff\xfd\x01'), 1, 'DO ECHO');
  assert.equal(count('\xff\xfd\x03'), 1, 'DO SGA');
  assert.equal(count('\xff\xfc\xc8'), 1, 'WONT to the unknown option');
});

test('a target the generator cannot read is refused with the reason', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  await assert.rejects(
    runNativeLoadgen(binary, ['echo', 1, 1, 0.2, 100, 100], [{ protocol: 'tcp', port: 0 }], undefined),
    /a target is tcp:PORT, telnet:PORT, ws:PORT\/PATH, wstelnet:PORT\/PATH or ssh:PORT, then @PID if given, not tcp:0/,
  );
});

test('on WebSocket it sends a message a line, as text or, in telnet mode, as binary with its answers, and pongs', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  servers.push(server);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const seen: Array<{ path: string; isBinary: boolean; text: string }> = [];
  let pongs = 0;
  server.on('connection', (ws, request) => {
    const path = request.url ?? '';
    const isTelnet = path === '/telnet';
    ws.on('pong', () => pongs++);
    ws.ping();
    // In telnet mode the welcome comes with DO NAWS, in a binary message.
    ws.send(isTelnet ? Buffer.concat([Buffer.from([0xff, 0xfd, 31]), Buffer.from('Welcome\r\n')]) : 'Welcome\r\n');
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const text = (data as Buffer).toString('latin1');
      seen.push({ path, isBinary, text });
      const lines = text
        .replace(/\xff[\s\S]*?(?:\xff\xf0|$)/g, '')
        .split('\r\n')
        .filter((line) => line !== '');
      if (lines.length > 0)
        ws.send(isTelnet ? Buffer.from(lines.map((line) => `Echo: ${line}\r\n`).join('')) : `Echo: ${text}\r\n`);
    });
  });
  const results = await runNativeLoadgen(
    binary,
    ['echo', 2, 3, 0.4, 100, 100],
    [
      { protocol: 'websocket', port, path: '/text' },
      { protocol: 'ws_telnet', port, path: '/telnet' },
    ],
    undefined,
  );
  assert.ok(
    results.every((result) => result.perSecond > 50),
    `round trips/s: ${results.map((result) => result.perSecond).join(', ')}`,
  );
  const text = seen.filter((message) => message.path === '/text');
  const telnet = seen.filter((message) => message.path === '/telnet');
  assert.ok(text.every((message) => !message.isBinary && /^\d+ \d+ the quick brown fox/.test(message.text)));
  assert.ok(telnet.every((message) => message.isBinary));
  assert.ok(telnet.some((message) => message.text === '\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0'));
  assert.ok(telnet.some((message) => /^\d+ \d+ the quick brown fox.*\r\n$/.test(message.text)));
  assert.ok(pongs >= 4, `${pongs} pongs to 4 pings`);
});

test('on SSH it logs in with none, asks for an xterm of 80x24 and a shell, ends lines with CR, and connects', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  if (!('hasSsh' in built) || !built.hasSsh) {
    if (IS_CI) assert.fail('native-loadgen was built without libssh2: install libssh2-1-dev');
    t.skip('no libssh2');
    return;
  }
  const terminals: string[] = [];
  const received: string[] = [];
  let sessions = 0;
  const server = new ssh2.Server({ hostKeys: [ssh2.utils.generateKeyPairSync('ed25519').private] }, (client) => {
    client.on('authentication', (context) => (context.method === 'none' ? context.accept() : context.reject()));
    client.on('session', (accept) => {
      const session = accept();
      session.on('pty', (acceptPty, _reject, info) => {
        terminals.push(`${info.term} ${info.cols}x${info.rows}`);
        acceptPty();
      });
      session.on('shell', (acceptShell) => {
        sessions++;
        const stream = acceptShell();
        let pending = '';
        stream.write('Welcome\r\n');
        stream.on('data', (chunk: Buffer) => {
          received.push(chunk.toString('latin1'));
          const lines = (pending + chunk.toString('latin1')).split('\r');
          pending = lines.pop() ?? '';
          if (lines.length > 0) stream.write(lines.map((line) => `Echo: ${line}\r\n`).join(''));
        });
      });
    });
    client.on('error', () => client.end());
  });
  const listener = net.createServer({ noDelay: true }, (socket) => server.injectSocket(socket));
  servers.push(listener);
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as AddressInfo).port;
  const [echo] = await runNativeLoadgen(binary, ['echo', 2, 2, 0.4, 100, 100], [{ protocol: 'ssh', port }], undefined);
  assert.ok(echo!.perSecond > 50, `${echo!.perSecond} round trips/s`);
  assert.deepEqual(terminals, ['xterm-256color 80x24', 'xterm-256color 80x24']);
  assert.ok(
    received.length > 0 && received.every((text) => /^(\d+ \d+ the quick brown fox[^\r\n]*\r)+$/.test(text)),
    received[0],
  );
  const before = sessions;
  const [connects] = await runNativeLoadgen(
    binary,
    ['connect', 2, 0.4, 100, 100],
    [{ protocol: 'ssh', port }],
    undefined,
  );
  assert.ok(connects!.count > 0, JSON.stringify(connects));
  assert.ok(sessions - before >= connects!.count, `${sessions - before} shells for ${connects!.count} connects`);
});
