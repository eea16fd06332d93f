// The handlers and code the README shows, loaded and run as a user would, over real sockets.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { parseConfig } from '../src/index.js';
import { connect } from './support/clients.js';
import { ReceivedText } from './support/received-text.js';
import { quiet, startLaunch } from './support/servers.js';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLES = join(ROOT, 'examples');

/** One application serving an example's handler on the given transports. */
async function serveExample(folder: string, handlerClass: string, transports: string[]): Promise<number[]> {
  const servers = Object.fromEntries(
    transports.map((transport) => [transport, { transport, host: '127.0.0.1', port: 0, handler_class: handlerClass }]),
  );
  const config = parseConfig({ servers }, join(EXAMPLES, folder));
  const launch = await startLaunch(config, { logger: quiet });
  return launch.servers.map((server) => server.address!.port);
}

test('the README greeter: a telnet user and a WebSocket user log in, see each other in who, and chat', async () => {
  const [telnetPort, webPort] = await serveExample('greeter', './greeter.ts:Greeter', ['telnet', 'websocket']);
  const ada = await connect('telnet', telnetPort!, { telnet: 'terminal' });
  await ada.waitFor('Your name? ');
  ada.send('Ada');
  await ada.waitFor('Password? ');
  ada.send('secret');
  await ada.waitFor('Welcome, Ada! Try: who, say <text>, quit\r\n> ');

  const bob = await connect('websocket', webPort!);
  await bob.waitFor('Your name? ');
  bob.send('Bob');
  await bob.waitFor('Password? ');
  bob.send('hunter2');
  await bob.waitFor('Welcome, Bob!');
  ada.send('who');
  await ada.waitFor('Online (2): Ada (telnet), Bob (websocket)');
  bob.send('say hello all');
  await ada.waitFor('Bob: hello all\r\n');
  await bob.waitFor('Bob: hello all\r\n');
  ada.send('say hi Bob');
  await bob.waitFor('Ada: hi Bob\r\n');
  assert.ok(!ada.text.includes('secret') && !bob.text.includes('hunter2'), 'a password is never sent back');
});

test('the echo sample answers help, info and quit as NOTES describe', async () => {
  const [port] = await serveExample('echo-server', './handler.ts:EchoTelnetHandler', ['tcp']);
  const client = await connect('tcp', port!);
  await client.waitFor(
    "Welcome to the Echo Server!\r\n----------------------------------------\r\nType 'help' for available commands.\r\nType 'quit' to disconnect.\r\n> ",
  );
  client.send('help');
  await client.waitFor('  quit  - disconnect (also exit, q)\r\n> ');
  client.send('info');
  await client.waitFor('Connected from: 127.0.0.1\r\nTransport: tcp\r\nMode: line mode\r\n');
  await client.waitFor('Server echo: no\r\n> ');
  client.send('exit');
  await client.waitFor('Goodbye!\r\n');
  await client.closed;
});

const readmeProgram = join(EXAMPLES, 'greeter', '.readme-from-code.ts');
after(() => rm(readmeProgram, { force: true }));

test("the README's From code program runs as written: two transports, one application, SIGINT stops it", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## From code'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code !== undefined, 'the From code section has a TypeScript block');
  // The one change: free ports instead of 4000 and 4001.
  await writeFile(readmeProgram, code.replace(/port: 400[01]/g, 'port: 0'));
  const child = spawn(process.execPath, ['--import', 'tsx', readmeProgram], { cwd: ROOT });
  const stdout = new ReceivedText();
  child.stdout.setEncoding('utf8').on('data', (text: string) => stdout.add(text));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await stdout.waitFor(/web: ws:\/\/\S+:\d+\/ws\n/, { timeoutMs: 15_000 });
    const telnetPort = Number(/telnet: telnet:\/\/\S+:(\d+)/.exec(stdout.text)![1]);
    const webPort = Number(/web: ws:\/\/\S+:(\d+)/.exec(stdout.text)![1]);
    const ada = await connect('telnet', telnetPort);
    await ada.waitFor('Your name? ');
    const bob = await connect('websocket', webPort);
    await bob.waitFor('Your name? ');
    await stdout.waitFor('127.0.0.1 joined\n127.0.0.1 joined\n');
    ada.send('Ada');
    ada.send('pw');
    bob.send('Bob');
    bob.send('pw');
    await bob.waitFor('Welcome, Bob!');
    await ada.waitFor('Welcome, Ada!');
    bob.send('say hi');
    await ada.waitFor('Bob: hi');
    child.kill('SIGINT');
    await ada.waitFor('Server is shutting down');
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill('SIGKILL');
  }
});
