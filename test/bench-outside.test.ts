// The outside load generator (bench/outside-loadgen.c): built by the system's C compiler, it
// loads each target in turn and speaks telnet as a terminal does. Without a compiler it is
// skipped on a workstation and fails in CI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';

import { WebSocketServer } from 'ws';
import type { RawData } from 'ws';

import { buildOutsideLoadgen, runOutsideLoadgen } from '../bench/outside.js';

const IS_CI = process.env['CI'] === 'true';
const dir = mkdtempSync(join(tmpdir(), 'outside-loadgen-'));
const servers: Array<net.Server | WebSocketServer> = [];
let built: { binary: string } | { missing: string };

before(async () => {
  built = await buildOutsideLoadgen(dir);
});

after(() => {
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The generator, or a skip (a workstation without a C compiler) or a failure (CI). */
function binaryOr(t: TestContext): string | undefined {
  if ('binary' in built) return built.binary;
  if (IS_CI) assert.fail(built.missing);
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

test('each target gets its own round trips and connects, in the order given', async (t) => {
  const binary = binaryOr(t);
  if (binary === undefined) return;
  const fast = await lineServer(Buffer.from('Welcome\r\n'), (_, bytes) => bytes.toString('latin1'));
  // Every answer 3 ms late: closed loop, one client, at most about 330 round trips a second.
  const slow = await lineServer(Buffer.from('Welcome\r\n'), (socket, bytes) => {
    socket.pause();
    setTimeout(() => socket.resume(), 3);
    return bytes.toString('latin1');
  });
  const targets = [
    { protocol: 'tcp', port: slow },
    { protocol: 'tcp', port: fast },
  ] as const;
  const [ofSlow, ofFast] = await runOutsideLoadgen(binary, ['echo', 1, 1, 0.4, 100], targets, undefined);
  assert.ok(ofSlow! > 50 && ofSlow! < 400, `slow server: ${ofSlow} round trips/s`);
  assert.ok(ofFast! > 3 * ofSlow!, `fast server: ${ofFast} round trips/s against ${ofSlow}`);
  const connects = await runOutsideLoadgen(binary, ['connect', 4, 0.4, 100], targets, undefined);
  assert.ok(
    connects.every((rate) => rate > 0),
    `connects/s: ${connects.join(', ')}`,
  );
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
  const [rate] = await runOutsideLoadgen(binary, ['echo', 1, 2, 0.4, 100], [{ protocol: 'telnet', port }], undefined);
  assert.ok(rate! > 50, `${rate} round trips/s`);
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
    runOutsideLoadgen(binary, ['echo', 1, 1, 0.2, 100], [{ protocol: 'tcp', port: 0 }], undefined),
    /a target is tcp:PORT, telnet:PORT, ws:PORT\/PATH or wstelnet:PORT\/PATH, not tcp:0/,
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
  const rates = await runOutsideLoadgen(
    binary,
    ['echo', 2, 3, 0.4, 100],
    [
      { protocol: 'ws', port, path: '/text' },
      { protocol: 'wstelnet', port, path: '/telnet' },
    ],
    undefined,
  );
  assert.ok(
    rates.every((rate) => rate > 50),
    `round trips/s: ${rates.join(', ')}`,
  );
  const text = seen.filter((message) => message.path === '/text');
  const telnet = seen.filter((message) => message.path === '/telnet');
  assert.ok(text.every((message) => !message.isBinary && /^\d+ \d+ the quick brown fox/.test(message.text)));
  assert.ok(telnet.every((message) => message.isBinary));
  assert.ok(telnet.some((message) => message.text === '\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0'));
  assert.ok(telnet.some((message) => /^\d+ \d+ the quick brown fox.*\r\n$/.test(message.text)));
  assert.ok(pongs >= 4, `${pongs} pongs to 4 pings`);
});
