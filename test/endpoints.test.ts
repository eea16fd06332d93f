// One behaviour list, run on all four transports: what a handler does must not depend on the transport.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { TransportName } from '../src/index.js';
import { connect } from './support/clients.js';
import { EchoHandler, LoginHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { TRANSPORT_NAMES, startServer } from './support/servers.js';

async function refusedOrClosedWith(
  transport: TransportName,
  port: number,
  message: string,
  httpStatus: number,
): Promise<void> {
  // TCP transports say why in plain text, SSH in its DISCONNECT; WebSocket ones refuse at the handshake with an HTTP status.
  if (transport === 'tcp' || transport === 'telnet') {
    const client = await connect(transport, port);
    await client.waitFor(message);
    await client.closed;
    return;
  }
  if (transport === 'ssh') {
    await assert.rejects(connect(transport, port), new RegExp(message));
    return;
  }
  await assert.rejects(connect(transport, port), new RegExp(`HTTP ${httpStatus}`));
}

for (const transport of TRANSPORT_NAMES) {
  describe(`${transport} endpoint`, () => {
    test('welcome, prompt, echo and quit', async () => {
      const { server, port } = await startServer(transport, EchoHandler, { welcome_message: 'Hello from the test' });
      const client = await connect(transport, port);
      await client.waitFor('Hello from the test\r\n> ');
      const scheme = { telnet: 'telnet', tcp: 'tcp', websocket: 'ws', ws_telnet: 'ws', ssh: 'ssh' }[transport];
      assert.deepEqual(
        { ...server.info(), url: server.info().url?.replace(/\/ws(_telnet)?$/, '') },
        {
          name: transport,
          transport,
          host: '127.0.0.1',
          port,
          url: `${scheme}://127.0.0.1:${port}`,
          connections: 1,
          maxConnections: 100,
          connectionTimeout: 300,
          isRunning: true,
        },
      );
      client.send('hello');
      await client.waitFor('Echo: hello\r\n> ');
      client.send('quit it');
      await client.waitFor('Echo: quit it\r\n> ');
      client.send(' Quit ');
      await client.waitFor('Goodbye!\r\n');
      await client.closed;
    });

    test('UTF-8 text round-trips', async () => {
      const { port } = await startServer(transport, EchoHandler);
      const client = await connect(transport, port);
      await client.waitFor('> ');
      client.send('héllo 中文 😀');
      await client.waitFor('Echo: héllo 中文 😀\r\n');
    });

    test('a client over max_connections is turned away; the others go on', async () => {
      const { port } = await startServer(transport, EchoHandler, { max_connections: 1 });
      const first = await connect(transport, port);
      await first.waitFor('> ');
      await refusedOrClosedWith(transport, port, 'Server is at maximum capacity', 503);
      first.send('still here');
      await first.waitFor('Echo: still here');
    });

    test('max_connections_per_ip turns away one address over its share, and frees the slot on close', async () => {
      const { server, port } = await startServer(transport, EchoHandler, { max_connections_per_ip: 1 });
      const first = await connect(transport, port);
      await first.waitFor('> ');
      await refusedOrClosedWith(transport, port, 'Too many connections from your address', 429);
      first.send('quit');
      await first.closed;
      await until(() => server.sessions.size === 0, 'the first session to end');
      const next = await connect(transport, port);
      await next.waitFor('> ');
    });

    test('an idle session is closed with a notice after connection_timeout', async () => {
      const { port } = await startServer(transport, EchoHandler, { connection_timeout: 0.5 });
      const client = await connect(transport, port);
      await client.waitFor('> ');
      await client.closed;
      assert.match(client.text, /Idle for 0\.5 seconds/);
    });

    test('a handler error closes only its own session', async () => {
      const { server, port } = await startServer(transport, EchoHandler);
      const failing = await connect(transport, port);
      const bystander = await connect(transport, port);
      await Promise.all([failing.waitFor('> '), bystander.waitFor('> ')]);
      failing.send('fail');
      await failing.closed;
      bystander.send('fine');
      await bystander.waitFor('Echo: fine');
      assert.equal(server.sessions.size, 1);
    });

    test('sendGlobalMessage reaches every session', async () => {
      const { port } = await startServer(transport, EchoHandler);
      const sender = await connect(transport, port);
      const listener = await connect(transport, port);
      await Promise.all([sender.waitFor('> '), listener.waitFor('> ')]);
      sender.send('say hello');
      await listener.waitFor(`${transport} says hello\r\n`);
    });

    test('readLine in onConnect asks questions in order; typed-ahead answers count', async () => {
      const { port } = await startServer(transport, LoginHandler);
      const client = await connect(transport, port);
      await client.waitFor('Name? ');
      client.send('Ada');
      client.send('s3cret');
      await client.waitFor('Hello Ada, your password has 6 characters.\r\n> ');
      assert.ok(!client.text.includes('s3cret'), 'the password is not echoed');
    });

    test('stop() tells every client the server is shutting down and closes them', async () => {
      const { server, port } = await startServer(transport, EchoHandler);
      const client = await connect(transport, port);
      await client.waitFor('> ');
      await server.stop(1000);
      await client.closed;
      assert.match(client.text, /Server is shutting down\r\n$/);
      assert.equal(server.sessions.size, 0);
    });
  });
}
