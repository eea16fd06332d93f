// Throughput of line echo: our tcp and websocket transports against raw node:net and ws servers.
// Run with `npm run bench`; every server listens on 127.0.0.1 and every run stops by itself.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

import { WebSocket, WebSocketServer } from 'ws';

import { LineHandler, ProtocolServer, parseConfig } from '../src/index.js';

const CLIENTS = 8;
const LINES_PER_CLIENT = 20_000;
const LINE = 'the quick brown fox jumps over the lazy dog 0123456789';
const REPLY_BYTES = Buffer.byteLength(`Echo: ${LINE}\r\n`);

class BenchEcho extends LineHandler {
  override async onConnect(): Promise<void> {}

  override async processLine(line: string): Promise<boolean> {
    await this.sendLine(`Echo: ${line}`);
    return true;
  }
}

/** What a hand-written server of the same behaviour does with node:net alone. */
function rawTcpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      let out = '';
      for (const line of lines) out += `Echo: ${line.endsWith('\r') ? line.slice(0, -1) : line}\r\n`;
      socket.write(out);
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    ),
  );
}

function rawWsServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('connection', (ws) => ws.on('message', (data) => ws.send(`Echo: ${data.toString()}\r\n`)));
  return new Promise((resolve) =>
    server.once('listening', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    ),
  );
}

/**
 * Our server. `isObserved`: a consumer subscribes to every session event (as a monitor would);
 * without one the event stream must cost nothing measurable.
 */
async function ourServer(
  transport: 'tcp' | 'websocket',
  isObserved = false,
): Promise<{ port: number; close(): Promise<void> }> {
  const config = parseConfig(
    { transport, host: '127.0.0.1', port: 0, handler_class: './bench.ts:BenchEcho', max_connections: 1000 },
    process.cwd(),
  );
  const server = new ProtocolServer(config.servers[0]!, BenchEcho);
  if (isObserved) {
    let events = 0;
    const count = (): void => void (events += 1);
    server.hub.events.subscribe({ 'session-started': count, input: count, output: count, 'session-ended': count });
  }
  const { port } = await server.start();
  return { port, close: () => server.stop(100) };
}

/** Sends every line at once from each client and waits for all replies. */
async function tcpLoad(port: number): Promise<number> {
  const payload = `${LINE}\r\n`.repeat(LINES_PER_CLIENT);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const socket = net.connect(port, '127.0.0.1');
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        socket.on('error', reject);
        socket.on('connect', () => socket.write(payload));
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received >= REPLY_BYTES * LINES_PER_CLIENT) resolve();
        });
      });
      socket.destroy();
    }),
  );
  return (CLIENTS * LINES_PER_CLIENT) / ((performance.now() - started) / 1000);
}

async function wsLoad(port: number, path: string): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
      let replies = 0;
      await new Promise<void>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('open', () => {
          for (let i = 0; i < LINES_PER_CLIENT; i++) ws.send(LINE);
        });
        ws.on('message', (data: Buffer) => {
          if (data.toString().startsWith('Echo: ')) replies += 1;
          if (replies >= LINES_PER_CLIENT) resolve();
        });
      });
      ws.terminate();
    }),
  );
  return (CLIENTS * LINES_PER_CLIENT) / ((performance.now() - started) / 1000);
}

async function measure(
  name: string,
  start: () => Promise<{ port: number; close(): Promise<void> }>,
  load: (port: number) => Promise<number>,
): Promise<number> {
  const server = await start();
  await load(server.port); // warm-up
  const runs = [await load(server.port), await load(server.port), await load(server.port)];
  await server.close();
  const best = Math.max(...runs);
  console.log(`${name.padEnd(28)} ${Math.round(best).toLocaleString('en').padStart(12)} lines/s`);
  return best;
}

const rawTcp = await measure('raw node:net echo', rawTcpServer, tcpLoad);
const ourTcp = await measure('chuk tcp transport', () => ourServer('tcp'), tcpLoad);
const observedTcp = await measure('chuk tcp, events observed', () => ourServer('tcp', true), tcpLoad);
const rawWs = await measure('raw ws echo', rawWsServer, (port) => wsLoad(port, '/'));
const ourWs = await measure(
  'chuk websocket transport',
  () => ourServer('websocket'),
  (port) => wsLoad(port, '/ws'),
);
console.log(
  `\ntcp: ${(ourTcp / rawTcp).toFixed(2)}x raw    websocket: ${(ourWs / rawWs).toFixed(2)}x raw    (target: 0.9x)`,
);
console.log(`tcp with every session event observed: ${(observedTcp / ourTcp).toFixed(2)}x unobserved`);
