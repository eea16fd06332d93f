// The bench's load generator measuring targets in turns: each target's numbers are its own, in the order asked.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import type { EchoResult, LoadReply, LoadRequest, TargetAddress } from '../bench/load-requests.js';
import { freePorts } from '../bench/processes.js';

const LOADGEN = new URL('../bench/loadgen.ts', import.meta.url);
/** The slow server's delay before each answer: closed loop, one client, it can answer at most 1000/DELAY_MS a second. */
const DELAY_MS = 4;
const TIMING = { warmupMs: 50, durationMs: 400, sliceMs: 100 };

let loadgen: ChildProcess;
const servers: net.Server[] = [];
let fast: TargetAddress;
let slow: TargetAddress;

/** A line echo server as the raw baseline is, answering each read after `delayMs`. */
async function echoServer(delayMs: number): Promise<TargetAddress> {
  const server = net.createServer((socket) => {
    socket.setEncoding('latin1');
    socket.write('Welcome to a test server\r\n');
    socket.on('data', (chunk: string) => {
      const out = chunk
        .split('\r\n')
        .slice(0, -1)
        .map((line) => `Echo: ${line}\r\n`)
        .join('');
      if (delayMs === 0) socket.write(out);
      else setTimeout(() => socket.writable && socket.write(out), delayMs);
    });
    socket.on('error', () => socket.destroy());
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { protocol: 'tcp', port: (server.address() as AddressInfo).port, path: '', pid: process.pid };
}

function ask(request: LoadRequest): Promise<LoadReply> {
  const reply = once(loadgen, 'message') as Promise<[LoadReply]>;
  loadgen.send(request);
  return reply.then(([message]) => message);
}

before(async () => {
  [fast, slow] = await Promise.all([echoServer(0), echoServer(DELAY_MS)]);
  loadgen = fork(LOADGEN, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
});

after(() => {
  loadgen.kill();
  for (const server of servers) server.close();
});

test('targets measured in turns each get their own round trips, time and latency, in the order asked', async () => {
  for (const targets of [
    [fast, slow],
    [slow, fast],
  ]) {
    const reply = await ask({ kind: 'echo', targets, clients: 1, depth: 1, ...TIMING });
    assert.ok(reply.ok, JSON.stringify(reply));
    const [first, second] = reply.results as EchoResult[];
    const [ofFast, ofSlow] = targets[0] === fast ? [first!, second!] : [second!, first!];
    // Each had its share of the time, whatever the other's pace.
    for (const result of [ofFast, ofSlow]) {
      assert.ok(result.seconds >= 0.38 && result.seconds < 0.6, `${result.seconds} s measured`);
      assert.equal(result.errors, 0);
    }
    assert.ok(ofSlow.perSecond <= 1000 / DELAY_MS, `slow server: ${ofSlow.perSecond} round trips/s`);
    assert.ok(ofSlow.p50Ms >= DELAY_MS, `slow server: p50 ${ofSlow.p50Ms} ms`);
    assert.ok(ofFast.perSecond > 3 * ofSlow.perSecond, `fast ${ofFast.perSecond}/s against slow ${ofSlow.perSecond}/s`);
  }
});

test('connects are counted per target in turns too', async () => {
  const reply = await ask({ kind: 'connect', targets: [slow, fast], concurrency: 4, ...TIMING });
  assert.ok(reply.ok, JSON.stringify(reply));
  const [ofSlow, ofFast] = reply.results;
  assert.equal(ofSlow?.kind, 'connect');
  assert.equal(ofFast?.kind, 'connect');
  // Connects do not wait for an echo: both servers accept and welcome at the same pace.
  assert.ok(ofSlow.connects > 0 && ofFast.connects > 0, JSON.stringify(reply.results));
  assert.equal(ofSlow.errors + ofFast.errors, 0);
});

test('a target that stops answering fails the measurement with a reason, not a hang', async () => {
  const silent = net.createServer((socket) => {
    socket.write('Welcome, and nothing more\r\n');
    socket.on('error', () => socket.destroy());
  });
  servers.push(silent);
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const target: TargetAddress = {
    protocol: 'tcp',
    port: (silent.address() as AddressInfo).port,
    path: '',
    pid: process.pid,
  };
  // The loadgen waits OPEN_TIMEOUT_MS (10 s) for the last answers before it gives up.
  const reply = await ask({ kind: 'echo', targets: [fast, target], clients: 2, depth: 1, ...TIMING });
  assert.equal(reply.ok, false);
  assert.match(reply.ok ? '' : reply.error, /2 lines still unanswered/);
});

test("the raw telnet baseline reads past a terminal's answers and echoes its lines", async () => {
  await withRawServer('raw-telnet-server.ts', async (port) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    await once(socket, 'connect');
    // What a terminal answers (WILL NAWS and its size, WILL TTYPE, DO SGA), then two lines, the
    // second with a 255 (IAC IAC) in it, the answers split across writes as a slow client sends them.
    socket.write(Buffer.from([255, 251, 31, 255, 250, 31, 0, 80]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(Buffer.from([0, 24, 255, 240, 255, 251, 24, 255, 253, 3]));
    socket.write(Buffer.concat([Buffer.from('hello\r\na', 'latin1'), Buffer.from([255, 255]), Buffer.from('b\r\n')]));
    const expected = Buffer.concat([
      Buffer.from('Echo: hello\r\nEcho: a', 'latin1'),
      Buffer.from([255]),
      Buffer.from('b\r\n'),
    ]);
    for (let waited = 0; waited < 2000 && !Buffer.concat(received).includes(expected); waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const all = Buffer.concat(received);
    const welcome = all.indexOf('Welcome');
    assert.ok(welcome > 0, 'the negotiation comes first, then the welcome');
    assert.deepEqual(all.subarray(all.indexOf('\r\n', welcome) + 2), expected);
    socket.destroy();
  });
});

/** Runs `body` with one of the bench's raw servers listening on a free port, and ends it after. */
async function withRawServer(script: string, body: (port: number, pid: number) => Promise<void>): Promise<void> {
  const [port] = await freePorts(1);
  const server = fork(new URL(`../bench/${script}`, import.meta.url), [String(port)], {
    execArgv: ['--import', 'tsx'],
    stdio: 'ignore',
  });
  try {
    await waitForListening(port!);
    await body(port!, server.pid!);
  } finally {
    server.kill();
  }
}

async function waitForListening(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const isOpen = await new Promise<boolean>((resolve) => {
      const probe = net.connect({ port, host: '127.0.0.1' }, () => resolve(true));
      probe.on('error', () => resolve(false));
      probe.on('connect', () => probe.destroy());
    });
    if (isOpen) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listening on ${port}`);
}

test('the Node generator speaks SSH to the raw ssh2 baseline: a shell, its welcome, lines ended by CR echoed', async () => {
  await withRawServer('raw-ssh-server.ts', async (port, pid) => {
    const target: TargetAddress = { protocol: 'ssh', port, path: '', pid };
    const echo = await ask({ kind: 'echo', targets: [target], clients: 2, depth: 3, ...TIMING });
    assert.ok(echo.ok, JSON.stringify(echo));
    const [result] = echo.results as EchoResult[];
    assert.ok(result!.roundTrips > 20 && result!.errors === 0, JSON.stringify(result));
    // Nagle left on, on either side, would hold each answer some 40 ms.
    assert.ok(result!.p50Ms < 20, `median round trip ${result!.p50Ms} ms`);
    const idle = await ask({ kind: 'idle', target, steps: [20], settleMs: 50, stepSettleMs: 50 });
    assert.ok(idle.ok, JSON.stringify(idle));
  });
});
