// The handlers the README shows, loaded as a user would load them, over real sockets.
import assert from 'node:assert/strict';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ProtocolServer, loadHandlerClass, parseConfig } from '../src/index.js';
import { ReceivedText } from './support/received-text.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const servers: ProtocolServer[] = [];
const sockets: net.Socket[] = [];

after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => server.stop(100)));
});

async function serveExample(folder: string, handlerClass: string): Promise<number> {
  const config = parseConfig(
    { transport: 'tcp', host: '127.0.0.1', port: 0, handler_class: handlerClass },
    join(ROOT, 'examples', folder),
  );
  const server = new ProtocolServer(config.servers[0]!, await loadHandlerClass(config.servers[0]!));
  servers.push(server);
  return (await server.start()).port;
}

function connect(port: number): { socket: net.Socket; received: ReceivedText } {
  const socket = net.connect(port, '127.0.0.1');
  const received = new ReceivedText();
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => received.add(text));
  sockets.push(socket);
  return { socket, received };
}

test('the README greeter asks a name and a password, then answers who and say', async () => {
  const port = await serveExample('greeter', './greeter.ts:Greeter');
  const ada = connect(port);
  await ada.received.waitFor('Your name? ');
  ada.socket.write('Ada\r\n');
  await ada.received.waitFor('Password? ');
  ada.socket.write('secret\r\n');
  await ada.received.waitFor('Welcome, Ada! Try: who, say <text>, quit\r\n> ');

  const bob = connect(port);
  await bob.received.waitFor('Your name? ');
  bob.socket.write('Bob\r\nhunter2\r\n');
  await bob.received.waitFor('Welcome, Bob!');
  ada.socket.write('who\r\n');
  await ada.received.waitFor('Online: 2\r\n> ');
  bob.socket.write('say hello all\r\n');
  await ada.received.waitFor('Bob: hello all\r\n');
  await bob.received.waitFor('Bob: hello all\r\n');
  assert.ok(!ada.received.text.includes('secret'), 'the password is never sent back');
});

test('the echo sample answers help, info and quit as NOTES describe', async () => {
  const port = await serveExample('echo-server', './handler.ts:EchoTelnetHandler');
  const client = connect(port);
  await client.received.waitFor(
    "Welcome to the Echo Server!\r\n----------------------------------------\r\nType 'help' for available commands.\r\nType 'quit' to disconnect.\r\n> ",
  );
  client.socket.write('help\r\n');
  await client.received.waitFor('  quit  - disconnect (also exit, q)\r\n> ');
  client.socket.write('info\r\n');
  await client.received.waitFor('Connected from: 127.0.0.1\r\nTransport: tcp\r\nMode: line mode\r\n');
  await client.received.waitFor('Server echo: no\r\n> ');
  client.socket.write('exit\r\n');
  await client.received.waitFor('Goodbye!\r\n');
  await new Promise((resolve) => client.socket.once('close', resolve));
});
