// Tests of the server-launcher CLI as a subprocess: serving, signals, and one-line setup errors.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { WebSocket } from 'ws';

import { CLI, ROOT, ensureBuilt } from './support/build.js';
import { startServing as startServingIn } from './support/launcher-process.js';
import type { Running } from './support/launcher-process.js';
import { until } from './support/received-text.js';

const SHUTDOWN_MESSAGE = 'Server is shutting down';

let dir = '';
const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];
const blockers: net.Server[] = [];

before(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'server-launcher-test-'));
  const dist = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;
  const src = pathToFileURL(join(ROOT, 'src', 'index.ts')).href;
  await writeFile(
    join(dir, 'handlers.ts'),
    `import { LineHandler } from '${dist}';
export class EchoHandler extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'stray') void Promise.reject(new Error('stray rejection'));
    if (command === 'timer') setTimeout(() => { throw new Error('thrown in a timer'); }, 0);
    await this.sendLine(\`Echo: \${command}\`);
  }
}
export class SlowGoodbyeHandler extends LineHandler {
  override async onDisconnect(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 30_000));
  }
}
export class SecretLogger extends LineHandler {
  override async onConnect(): Promise<void> {
    this.session.logger.info({ token: 'supersecret-token', user: { password: 'hunter2' } }, 'logging secrets');
    await super.onConnect();
  }
}
export class NotAHandler {}
export const answer = 42;
`,
  );
  // A handler built on the TypeScript sources: a class from another copy of the package.
  await writeFile(
    join(dir, 'src-handler.ts'),
    `import { LineHandler } from '${src}';
export class SrcEchoHandler extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(\`Src echo: \${command}\`);
  }
}
`,
  );
  await writeFile(join(dir, 'broken.ts'), 'export class Broken extends {\n');
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const blocker of blockers) blocker.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to the end (it is expected to fail fast). */
function runCli(args: string[], cwd = dir): Promise<Finished> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} did not exit; stdout ${stdout}; stderr ${stderr}`));
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running command in the test folder and waits until it has printed `servers` listening lines. */
function startServing(command: string, args: string[], servers = 1, cwd = dir): Promise<Running> {
  return startServingIn(command, args, { servers, cwd });
}

/** Opens a WebSocket to `url`: resolves with "open", or with the HTTP status that refused the upgrade. */
function tryWebSocket(url: string): Promise<'open' | number> {
  return new Promise((resolveTry, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.terminate();
      resolveTry('open');
    });
    socket.once('unexpected-response', (_request, response) => {
      socket.terminate();
      resolveTry(response.statusCode ?? 0);
    });
    socket.once('error', reject);
  });
}

/** Connects to 127.0.0.1:`port` and collects what arrives. */
function connect(port: number): Promise<{ socket: net.Socket; text: () => string; closed: Promise<void> }> {
  return new Promise((resolveConnect, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    sockets.push(socket);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const closed = new Promise<void>((resolveClose) => socket.once('close', () => resolveClose()));
    socket.once('error', reject);
    socket.once('connect', () => resolveConnect({ socket, text: () => text, closed }));
  });
}

async function waitFor(read: () => string, expected: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!read().includes(expected)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(expected)} in ${read()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function isRefused(port: number): Promise<boolean> {
  return new Promise((resolveCheck) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveCheck(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolveCheck(err.code === 'ECONNREFUSED'));
  });
}

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * The launcher serving on a port that was free a moment ago: a test running beside this one may
 * take it meanwhile, and then another is tried.
 */
async function servingOnFreePort(args: (port: number) => string[]): Promise<{ port: number; running: Running }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { port, running: await startServing(process.execPath, args(port)) };
    } catch (err) {
      if (attempt === 3 || !(err as Error).message.includes('address already in use')) throw err;
    }
  }
}

/** Listens on a port of its own until the tests end, so that the CLI finds it taken. */
async function occupiedPort(): Promise<number> {
  const server = net.createServer((socket) => socket.destroy());
  blockers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as net.AddressInfo).port;
}

/** Asserts a setup failure: exit code 2, nothing served, one stderr line naming the problem. */
function assertSetupError(result: Finished, ...fragments: string[]): void {
  assert.equal(result.code, 2, `exit code; stderr: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  const line = lines[0]!;
  assert.ok(line.startsWith('server-launcher: '), line);
  assert.ok(!/\n\s+at /.test(result.stderr), 'stack trace on stderr');
  for (const fragment of fragments) assert.ok(line.includes(fragment), `${JSON.stringify(fragment)} not in: ${line}`);
}

const TCP_CONFIG = (handler: string, extra = ''): string =>
  `transport: tcp\nhost: 127.0.0.1\nport: 0\nhandler_class: ${handler}\nwelcome_message: Hello from the CLI\n${extra}`;

test('--help shows usage with examples and exits 0', async () => {
  const result = await runCli(['--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Usage: server-launcher/);
  assert.match(result.stdout, /Examples:\n\s+server-launcher -c /);
  assert.match(result.stdout, /--transport/);
});

test('a config file is served on TCP, and SIGINT tells clients and exits 0', async () => {
  const config = await writeConfig('serve.yaml', TCP_CONFIG('./handlers.ts:EchoHandler'));
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  const port = running.ports.get('tcp')!;
  assert.match(running.output().stdout, /^tcp: tcp server listening on tcp:\/\/127\.0\.0\.1:\d+\n$/);
  const first = await connect(port);
  const second = await connect(port);
  await waitFor(first.text, '> ');
  await waitFor(second.text, '> ');
  assert.equal(first.text(), 'Hello from the CLI\r\n> ');
  first.socket.write('hello\n');
  await waitFor(first.text, 'Echo: hello\r\n> ');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
  for (const client of [first, second]) {
    await client.closed;
    assert.ok(client.text().endsWith(`${SHUTDOWN_MESSAGE}\r\n`), client.text());
  }
  assert.ok(await isRefused(port));
});

test('SIGTERM stops the servers too', async () => {
  const config = await writeConfig('term.yaml', TCP_CONFIG('./handlers.ts:EchoHandler'));
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  running.child.kill('SIGTERM');
  assert.equal(await running.exited, 0);
  await client.closed;
  assert.ok(client.text().endsWith(`${SHUTDOWN_MESSAGE}\r\n`));
});

test('a second signal during a slow shutdown exits at once', async () => {
  const config = await writeConfig('slow.yaml', TCP_CONFIG('./handlers.ts:SlowGoodbyeHandler'));
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  running.child.kill('SIGINT');
  await client.closed;
  const secondSignalAt = Date.now();
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 1);
  assert.ok(Date.now() - secondSignalAt < 2000, 'exits without waiting for the shutdown to finish');
  assert.match(running.output().stderr, /SIGINT again: exiting now/);
});

test('a stray rejected promise or an exception in a handler timer does not stop the server', async () => {
  const config = await writeConfig('stray.yaml', TCP_CONFIG('./handlers.ts:EchoHandler'));
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  client.socket.write('stray\n');
  await waitFor(client.text, 'Echo: stray\r\n> ');
  client.socket.write('timer\n');
  await waitFor(client.text, 'Echo: timer\r\n> ');
  await new Promise((r) => setTimeout(r, 100));
  const other = await connect(running.ports.get('tcp')!);
  other.socket.write('still up\n');
  await waitFor(other.text, 'Echo: still up');
  assert.match(running.output().stderr, /stray rejection/);
  assert.match(running.output().stderr, /thrown in a timer/);
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('the echo sample serves over TCP through the CLI', async () => {
  const handler = join(ROOT, 'examples', 'echo-server', 'handler.ts');
  const config = await writeConfig('sample.yaml', TCP_CONFIG(`${handler}:EchoTelnetHandler`));
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  assert.equal(
    client.text(),
    "Hello from the CLI\r\n----------------------------------------\r\nType 'help' for available commands.\r\n" +
      "Type 'quit' to disconnect.\r\n> ",
  );
  client.socket.write('hi there\n');
  await waitFor(client.text, 'Echo: hi there\r\n> ');
  client.socket.write('quit\n');
  await client.closed;
  assert.ok(client.text().endsWith('Goodbye!\r\n'));
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

/** Runs `argv` with the open-files limit raised to its hard limit, as a server holding many connections is. */
const withRaisedFileLimit = (argv: string[]): [string, string[]] => [
  'bash',
  ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', ...argv],
];

/**
 * `count` TCP clients in a process of their own (this one may not open so many files), each
 * welcomed to its prompt; closed all at once by `close()`.
 */
async function heldClients(port: number, count: number): Promise<{ close: () => Promise<void> }> {
  const script = `
    const net = require('node:net');
    const sockets = [];
    const open = () => new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: ${port} });
      let text = '';
      socket.on('data', (chunk) => { text += chunk; if (text.endsWith('> ')) resolve(); });
      socket.once('error', reject);
      sockets.push(socket);
    });
    (async () => {
      for (let i = 0; i < ${count}; i += 100) await Promise.all(Array.from({ length: Math.min(100, ${count} - i) }, open));
      console.log('held');
      process.stdin.once('data', async () => {
        await Promise.all(sockets.map((socket) => new Promise((resolve) => { socket.once('close', resolve); socket.end(); })));
        console.log('closed');
      });
    })().catch((err) => { console.error(err); process.exit(1); });`;
  const [command, args] = withRaisedFileLimit([process.execPath, '-e', script]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  await until(() => stdout.includes('held'), `${count} clients welcomed`, 20_000);
  return {
    close: async () => {
      child.stdin!.write('close\n');
      await until(() => stdout.includes('closed'), `${count} clients closed`, 20_000);
      child.kill();
    },
  };
}

/**
 * The echo sample on tcp, room for 2,000 sessions, with V8 tracing its collections: V8 names each
 * one it makes, and the launcher's collection after a burst is the one for "low memory".
 */
async function startTracedLauncher(name: string, nodeFlags: string[] = []): Promise<Running> {
  const handler = join(ROOT, 'examples', 'echo-server', 'handler.ts');
  const config = await writeConfig(name, TCP_CONFIG(`${handler}:EchoTelnetHandler`, 'max_connections: 2000\n'));
  const [command, args] = withRaisedFileLimit([process.execPath, ...nodeFlags, '--trace-gc', CLI, '-c', config]);
  return startServing(command, args);
}

test('once a burst of connections to a server holding many is over, the launcher collects; fewer sessions are not worth it', async () => {
  const running = await startTracedLauncher('burst.yaml');
  const port = running.ports.get('tcp')!;
  const collections = (): number => running.output().stdout.split('low memory notification').length - 1;

  const some = await heldClients(port, 600);
  await new Promise((r) => setTimeout(r, 500));
  await some.close();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(collections(), 0, 'collected for 600 sessions');

  const many = await heldClients(port, 1100);
  await until(() => collections() > 0, 'a collection once 1,100 sessions had connected', 5000);
  await many.close();
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test("node --no-memory-reducer turns the launcher's collection after a burst off too", async () => {
  const running = await startTracedLauncher('no-reducer.yaml', ['--no-memory-reducer']);
  const many = await heldClients(running.ports.get('tcp')!, 1100);
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(!running.output().stdout.includes('low memory notification'), 'collected with --no-memory-reducer');
  await many.close();
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('a handler class from the TypeScript sources is accepted by the built CLI', async () => {
  const running = await startServing(process.execPath, [
    CLI,
    './src-handler.ts:SrcEchoHandler',
    '--transport',
    'tcp',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
  ]);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  client.socket.write('brand\n');
  await waitFor(client.text, 'Src echo: brand\r\n> ');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('the positional form serves module:Export with --transport and --port', async () => {
  const running = await startServing(process.execPath, [
    CLI,
    './handlers.ts:EchoHandler',
    '--transport',
    'tcp',
    '--port',
    '0',
  ]);
  assert.match(running.output().stdout, /^tcp: tcp server listening on tcp:\/\/0\.0\.0\.0:\d+\n$/);
  const client = await connect(running.ports.get('tcp')!);
  client.socket.write('positional\n');
  await waitFor(client.text, 'Echo: positional');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('npx -- server-launcher -c FILE works from the repository root', async () => {
  const config = await writeConfig('npx.yaml', TCP_CONFIG('./handlers.ts:EchoHandler'));
  const running = await startServing('npx', ['--', 'server-launcher', '-c', config], 1, ROOT);
  const client = await connect(running.ports.get('tcp')!);
  client.socket.write('via npx\n');
  await waitFor(client.text, 'Echo: via npx');
  // Ctrl-C reaches the whole process group.
  process.kill(-running.child.pid!, 'SIGINT');
  // npm ends itself with the signal once its child has exited.
  assert.ok([0, 'SIGINT'].includes((await running.exited)!), 'npx exit');
  await client.closed;
  assert.ok(client.text().endsWith(`${SHUTDOWN_MESSAGE}\r\n`));
});

test('a missing config file is one line and exit code 2', async () => {
  assertSetupError(await runCli(['-c', 'no-such-file.yaml']), 'config file not found: no-such-file.yaml');
});

test('a YAML syntax error names the file and line', async () => {
  const config = await writeConfig('syntax.yaml', 'handler_class: ./handlers.ts:EchoHandler\nport: [1, 2\nhost: x\n');
  const result = await runCli(['-c', config]);
  assertSetupError(result, 'syntax.yaml:', 'YAML syntax error');
  assert.match(result.stderr, /syntax\.yaml:\d+:\d+: YAML syntax error/);
});

test('a misspelt key suggests the right one', async () => {
  const config = await writeConfig(
    'typo.yaml',
    'servers:\n  telnet:\n    handler_class: ./handlers.ts:EchoHandler\n    max_conections: 5\n',
  );
  assertSetupError(
    await runCli(['-c', config]),
    'servers.telnet.max_conections: unknown key (did you mean max_connections?)',
  );
});

test('a bad transport lists the valid ones, in the file and as a flag', async () => {
  const config = await writeConfig(
    'transport.yaml',
    'servers:\n  telnet:\n    handler_class: ./handlers.ts:EchoHandler\n    transport: carrier-pigeon\n',
  );
  assertSetupError(
    await runCli(['-c', config]),
    'servers.telnet.transport: expected one of telnet, tcp, websocket, ws_telnet, ssh, got "carrier-pigeon"',
  );
  assertSetupError(
    await runCli(['./handlers.ts:EchoHandler', '--transport', 'carrier-pigeon']),
    "'carrier-pigeon'",
    'telnet, tcp, websocket, ws_telnet, ssh',
  );
});

test('a bad --port or an unknown option is one line and exit code 2', async () => {
  assertSetupError(await runCli(['./handlers.ts:EchoHandler', '--port', 'eighty']), "'eighty'", 'port');
  assertSetupError(await runCli(['./handlers.ts:EchoHandler', '--colour']), "unknown option '--colour'");
});

test('a missing handler module is named', async () => {
  const config = await writeConfig('nomodule.yaml', TCP_CONFIG('./nowhere.ts:EchoHandler'));
  assertSetupError(await runCli(['-c', config]), 'handler_class', './nowhere.ts', 'not found');
  assertSetupError(await runCli(['not-an-installed-package:EchoHandler']), 'not-an-installed-package', 'not found');
});

test('a handler module that does not compile is named with its file, line, column and the line itself', async () => {
  const result = await runCli(['./broken.ts:Broken', '--port', '0']);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `server-launcher: handler_class: cannot load ./broken.ts: syntax error at ${join(dir, 'broken.ts')}:2:1: ` +
      'Expected identifier but found end of file\n  2 | \n    | ^\n',
  );
});

test('a missing export lists what the module exports', async () => {
  const config = await writeConfig('noexport.yaml', TCP_CONFIG('./handlers.ts:EchoHandlr'));
  const result = await runCli(['-c', config]);
  assertSetupError(result, 'no export named EchoHandlr', 'EchoHandler');
  assert.match(result.stderr, /^server-launcher: \S*noexport\.yaml: handler_class: /);
});

test('an export that is not a handler class is refused', async () => {
  assertSetupError(
    await runCli(['./handlers.ts:NotAHandler', '--port', '0']),
    'NotAHandler in ./handlers.ts is not a handler class',
  );
  assertSetupError(
    await runCli(['./handlers.ts:answer', '--port', '0']),
    'answer in ./handlers.ts is not a handler class',
  );
});

test('a port in use is named, and no other server of the file stays listening', async () => {
  const taken = await occupiedPort();
  let first = 0;
  let result: Finished | undefined;
  // The first server's port was free a moment ago; a test running beside this one may take it
  // meanwhile, and then the first server is the one refused: try another.
  for (let attempt = 0; attempt < 3 && (result === undefined || result.stderr.includes('servers.first:')); attempt++) {
    first = await freePort();
    const config = await writeConfig(
      'inuse.yaml',
      `servers:
  first:
    transport: tcp
    host: 127.0.0.1
    port: ${first}
    handler_class: ./handlers.ts:EchoHandler
  second:
    transport: tcp
    host: 127.0.0.1
    port: ${taken}
    handler_class: ./handlers.ts:EchoHandler
`,
    );
    result = await runCli(['-c', config]);
  }
  assertSetupError(result!, 'servers.second', `127.0.0.1:${taken}`, 'address already in use');
  assert.ok(await isRefused(first), `port ${first} of the first server is still open`);
  assertSetupError(
    await runCli(['./handlers.ts:EchoHandler', '--transport', 'tcp', '--host', '127.0.0.1', '--port', String(taken)]),
    `cannot listen on 127.0.0.1:${taken}: address already in use`,
  );
});

test('giving both a handler and -c, or neither, is refused', async () => {
  const config = await writeConfig('both.yaml', TCP_CONFIG('./handlers.ts:EchoHandler'));
  assertSetupError(await runCli(['./handlers.ts:EchoHandler', '-c', config]), 'not both');
  assertSetupError(await runCli([]), 'nothing to serve', '--help');
});

test('every server of a servers: map is served, and --host applies to all of them', async () => {
  const config = await writeConfig(
    'two.yaml',
    `servers:
  alpha:
    transport: tcp
    port: 0
    handler_class: ./handlers.ts:EchoHandler
  beta:
    transport: tcp
    port: 0
    handler_class: ./src-handler.ts:SrcEchoHandler
`,
  );
  const running = await startServing(process.execPath, [CLI, '-c', config, '--host', '127.0.0.1'], 2);
  assert.match(running.output().stdout, /^alpha: tcp server listening on tcp:\/\/127\.0\.0\.1:\d+\n/);
  const alpha = await connect(running.ports.get('alpha')!);
  const beta = await connect(running.ports.get('beta')!);
  alpha.socket.write('a\n');
  beta.socket.write('b\n');
  await waitFor(alpha.text, 'Echo: a');
  await waitFor(beta.text, 'Src echo: b');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('--port with a config of several servers is refused', async () => {
  const config = await writeConfig(
    'two-ports.yaml',
    'servers:\n  a:\n    handler_class: ./handlers.ts:EchoHandler\n  b:\n    handler_class: ./handlers.ts:EchoHandler\n    port: 9000\n',
  );
  assertSetupError(await runCli(['-c', config, '--port', '0']), '--port applies to a config with one server');
});

const TELNET_CONFIG = 'transport: telnet\nhost: 127.0.0.1\nport: 0\nhandler_class: ./handlers.ts:EchoHandler\n';

test('--transport ws_telnet on a one-server telnet file serves on the ws_telnet default path', async () => {
  const config = await writeConfig('to-ws-telnet.yaml', TELNET_CONFIG);
  const running = await startServing(process.execPath, [CLI, '-c', config, '--transport', 'ws_telnet']);
  assert.match(
    running.output().stdout,
    /^ws_telnet: ws_telnet server listening on ws:\/\/127\.0\.0\.1:\d+\/ws_telnet\n$/,
  );
  const port = running.ports.get('ws_telnet')!;
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${port}/ws_telnet`), 'open');
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${port}/ws`), 404);
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('--transport websocket on a one-server telnet file serves on /ws', async () => {
  const config = await writeConfig('to-websocket.yaml', TELNET_CONFIG);
  const running = await startServing(process.execPath, [CLI, '-c', config, '--transport', 'websocket']);
  assert.match(running.output().stdout, /^websocket: websocket server listening on ws:\/\/127\.0\.0\.1:\d+\/ws\n$/);
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${running.ports.get('websocket')!}/ws`), 'open');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('--transport keeps a ws_path the file gives', async () => {
  const config = await writeConfig('own-path.yaml', `${TELNET_CONFIG}ws_path: /term\n`);
  const running = await startServing(process.execPath, [CLI, '-c', config, '--transport', 'ws_telnet']);
  assert.match(running.output().stdout, /^ws_telnet: ws_telnet server listening on ws:\/\/127\.0\.0\.1:\d+\/term\n$/);
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${running.ports.get('ws_telnet')!}/term`), 'open');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('--port replaces the port of a one-server file before it is checked', async () => {
  const config = await writeConfig(
    'bad-port.yaml',
    TCP_CONFIG('./handlers.ts:EchoHandler').replace('port: 0', 'port: -1'),
  );
  assertSetupError(await runCli(['-c', config]), `${config}: port: expected a whole number from 0 to 65535, got -1`);
  const running = await startServing(process.execPath, [CLI, '-c', config, '--port', '0']);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('a config error with flags given still names the file', async () => {
  const config = await writeConfig('typo-flags.yaml', `${TELNET_CONFIG}max_conections: 5\n`);
  assertSetupError(
    await runCli(['-c', config, '--transport', 'ws_telnet', '--host', '127.0.0.1']),
    `${config}: max_conections: unknown key (did you mean max_connections?)`,
  );
});

test('--redis names the hub: a bad URL is a config error naming hub.redis', async () => {
  const config = await writeConfig('redis-flag.yaml', TELNET_CONFIG);
  assertSetupError(
    await runCli(['-c', config, '--redis', 'http://cache:6379']),
    `${config}: hub.redis: expected a Redis URL`,
  );
  assertSetupError(
    await runCli(['./handlers.ts:EchoHandler', '--redis', 'redis://']),
    'hub.redis: expected a Redis URL',
  );
});

test('with --redis unreachable the launcher still serves, saying the hub is degraded', async () => {
  const config = await writeConfig('redis-down.yaml', TELNET_CONFIG);
  const unused = await freePort();
  const running = await startServing(process.execPath, [CLI, '-c', config, '--redis', `redis://127.0.0.1:${unused}`]);
  const client = await connect(running.ports.get('telnet')!);
  await waitFor(client.text, '> ');
  client.socket.write('still here\r\n');
  await waitFor(client.text, 'Echo: still here');
  assert.match(running.output().stderr, /hub: other instances unreachable; serving this instance only/);
});

test('--transport with a config of several servers is refused', async () => {
  const config = await writeConfig(
    'two-transports.yaml',
    'servers:\n  a:\n    handler_class: ./handlers.ts:EchoHandler\n  b:\n    handler_class: ./handlers.ts:EchoHandler\n    port: 9000\n',
  );
  assertSetupError(
    await runCli(['-c', config, '--transport', 'tcp']),
    `--transport applies to a config with one server; ${config} has 2`,
  );
});

test('--port and --transport apply to the one server of a servers: map', async () => {
  const config = await writeConfig(
    'one-in-map.yaml',
    'servers:\n  game:\n    host: 127.0.0.1\n    port: 8023\n    handler_class: ./handlers.ts:EchoHandler\n',
  );
  const running = await startServing(process.execPath, [CLI, '-c', config, '--port', '0', '--transport', 'ws_telnet']);
  assert.match(running.output().stdout, /^game: ws_telnet server listening on ws:\/\/127\.0\.0\.1:\d+\/ws_telnet\n$/);
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${running.ports.get('game')!}/ws_telnet`), 'open');
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('logs are JSON lines with a component and the session id, secrets redacted', async () => {
  const running = await startServing(process.execPath, [
    CLI,
    './handlers.ts:SecretLogger',
    '--transport',
    'tcp',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '-vv',
  ]);
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  await waitFor(() => running.output().stderr, 'logging secrets');
  const records = running
    .output()
    .stderr.split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const secret = records.find((record) => record.msg === 'logging secrets')!;
  assert.equal(secret.token, '[redacted]');
  assert.deepEqual(secret.user, { password: '[redacted]' });
  assert.equal(secret.component, 'server');
  assert.match(String(secret.session), /^[a-z2-7]{16}$/);
  const started = records.find((record) => record.msg === 'session started')!;
  assert.equal(started.session, secret.session);
  assert.ok(records.some((record) => record.component === 'server' && record.msg === 'listening'));
  assert.ok(!running.output().stderr.includes('supersecret-token') && !running.output().stderr.includes('hunter2'));
  process.kill(-running.child.pid!, 'SIGTERM');
  assert.equal(await running.exited, 0);
});

test('at a terminal the logs are human lines, not JSON', async () => {
  await requireTool('tmux');
  const session = `cli-logs-${process.pid}`;
  const port = await freePort();
  const command = `${process.execPath} ${CLI} ./handlers.ts:EchoHandler --transport tcp --host 127.0.0.1 --port ${port} -v`;
  const tmux = (...args: string[]): string => spawnSync('tmux', args, { cwd: dir, encoding: 'utf8' }).stdout;
  spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '200', '-y', '20', '-c', dir, command]);
  try {
    const deadline = Date.now() + 15_000;
    let screen = '';
    // The launcher's own "listening on" line comes first; the logger's line follows it asynchronously.
    while (!/INFO.*listening/.test(screen) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      screen = tmux('capture-pane', '-p', '-t', session);
    }
    assert.match(screen, /INFO.*listening/);
    assert.ok(!screen.includes('{"level"'), screen);
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
  // Its terminal gone (SIGHUP), the launcher shuts down rather than stay behind.
  const deadline = Date.now() + 10_000;
  while (!(await isRefused(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(await isRefused(port), 'the launcher stopped when its terminal went away');
});

/** Fails when `tool` is not installed: the CI machine installs every tool a test needs. */
async function requireTool(tool: string): Promise<void> {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  assert.equal(found.status, 0, `${tool} is not installed (.ci/run installs it)`);
}

test('monitoring open beyond loopback without a token: a token is made, printed once, and required', async () => {
  const config = await writeConfig(
    'monitored.yaml',
    [
      'servers:',
      '  tcp:',
      '    transport: tcp',
      '    host: 127.0.0.1',
      '    port: 0',
      '    handler_class: ./handlers.ts:EchoHandler',
      '  web:',
      '    transport: websocket',
      '    host: 0.0.0.0',
      '    port: 0',
      '    handler_class: ./handlers.ts:EchoHandler',
      '    enable_monitoring: true',
      '',
    ].join('\n'),
  );
  const running = await startServing(process.execPath, [CLI, '-c', config], 2);
  await waitFor(() => running.output().stdout, 'shown once');
  const { stdout } = running.output();
  const match = /^monitor: http:\/\/127\.0\.0\.1:(\d+)\/monitor\?token=([\w-]+)$/m.exec(stdout);
  assert.ok(match, stdout);
  const [, port, token] = match;
  assert.equal(stdout.split(token!).length, 2, 'the token is printed once');
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${port}/monitor`), 401);
  assert.equal(await tryWebSocket(`ws://127.0.0.1:${port}/monitor?token=wrong-token-0123456789`), 401);

  const viewer = new WebSocket(`ws://127.0.0.1:${port}/monitor`, { headers: { Authorization: `Bearer ${token}` } });
  const messages: Array<Record<string, unknown>> = [];
  viewer.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  await new Promise((resolve, reject) => viewer.once('open', resolve).once('error', reject));
  const client = await connect(running.ports.get('tcp')!);
  await waitFor(client.text, '> ');
  await waitFor(() => JSON.stringify(messages), '"type":"session_started"');
  const started = messages.find((message) => message.type === 'session_started')!;
  const session = started.session as { id: string; transport: string };
  assert.equal(session.transport, 'tcp');
  viewer.send(JSON.stringify({ type: 'watch_session', session_id: session.id }));
  await waitFor(() => JSON.stringify(messages), '"status":"success"');
  client.socket.write('watched line\n');
  await waitFor(() => JSON.stringify(messages), 'Echo: watched line');
  assert.ok(
    messages.some((message) => message.type === 'client_input' && JSON.stringify(message).includes('watched line')),
  );
  viewer.terminate();
  process.kill(-running.child.pid!, 'SIGTERM');
  assert.equal(await running.exited, 0);
});

test('-V prints the version, and -p is --port', async () => {
  const version = await runCli(['-V']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const { port, running } = await servingOnFreePort((free) => [
    CLI,
    './handlers.ts:EchoHandler',
    '--transport',
    'websocket',
    '--host',
    '127.0.0.1',
    '-p',
    String(free),
  ]);
  assert.equal(running.ports.get('websocket'), port);
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('a server with the browser terminal prints the page URL beside its WebSocket URL', async () => {
  const config = await writeConfig(
    'paged.yaml',
    [
      'transport: websocket',
      'host: 127.0.0.1',
      'port: 0',
      'web_client: true',
      'handler_class: ./handlers.ts:EchoHandler',
      '',
    ].join('\n'),
  );
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  const port = running.ports.get('websocket')!;
  assert.match(
    running.output().stdout,
    new RegExp(
      `^websocket: websocket server listening on ws://127\\.0\\.0\\.1:${port}/ws \\(browser terminal: http://127\\.0\\.0\\.1:${port}/\\)$`,
      'm',
    ),
  );
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});

test('a key the server does not read is named in a warning at start, and the server serves anyway', async () => {
  const config = await writeConfig(
    'ignored.yaml',
    [
      'servers:',
      '  lines:',
      '    transport: tcp',
      '    host: 127.0.0.1',
      '    port: 0',
      '    web_client: true',
      '    handler_class: ./handlers.ts:EchoHandler',
      '',
    ].join('\n'),
  );
  const running = await startServing(process.execPath, [CLI, '-c', config]);
  assert.ok(running.ports.get('lines'));
  const warning = 'servers.lines.web_client: ignored on a tcp server, only websocket and ws_telnet servers use it';
  // The log stream is written asynchronously: it may reach stderr after the listening line.
  await until(() => running.output().stderr.includes(warning), 'the warning', 3000);
  running.child.kill('SIGINT');
  assert.equal(await running.exited, 0);
});
