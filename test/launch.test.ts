// Launching from config files: the original package's sample configs as they are, one module per launch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import type { TransportName } from '../src/index.js';
import { connect } from './support/clients.js';
import { startConfigFile } from './support/servers.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

for (const [file, welcomes] of [
  [
    'seed-echo.yaml',
    {
      telnet: 'Welcome to the Telnet Server!',
      tcp: 'Welcome to the TCP Server!',
      websocket: 'Welcome to the WebSocket Server!',
      ws_telnet: 'Welcome to the WebSocket Telnet Server!',
    },
  ],
  ['seed-guess-who.yaml', { telnet: 'Welcome', tcp: 'Welcome', websocket: 'Welcome', ws_telnet: 'Welcome' }],
] as const) {
  test(`the original package's ${file} starts every server it lists, each answering on its path`, async () => {
    const launch = await startConfigFile(join(FIXTURES, file));
    assert.deepEqual(
      launch.servers.map((server) => server.name),
      ['telnet', 'tcp', 'websocket', 'ws_telnet'],
    );
    for (const server of launch.servers) {
      const transport = server.config.transport as TransportName;
      const client = await connect(transport, server.address!.port, { path: server.config.wsPath });
      await client.waitFor(welcomes[server.name as keyof typeof welcomes]);
      client.send('hello');
      await client.waitFor('Echo: hello');
    }
  });
}

test('every server naming the same handler module shares one instance of it', async () => {
  const launch = await startConfigFile(join(FIXTURES, 'shared-state.yaml'));
  const [tcp, websocket] = launch.servers;
  const first = await connect('tcp', tcp!.address!.port);
  await first.waitFor(/connection 1\r\n/);
  const second = await connect('websocket', websocket!.address!.port);
  await second.waitFor(/connection 2\r\n/);
  const moduleOf = (text: string): string | undefined => /module (\w+)/.exec(text)?.[1];
  assert.equal(moduleOf(second.text), moduleOf(first.text));
});
