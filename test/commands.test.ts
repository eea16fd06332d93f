// The command processor sample: a command table with arguments, on every transport.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import type { TransportName } from '../src/index.js';
import { CommandHandler, describeDuration } from '../examples/commands/handler.js';
import { connect } from './support/clients.js';
import { startConfigFile } from './support/servers.js';

test('the command processor answers help, status, uptime, echo and unknown commands on every transport', async () => {
  const launch = await startConfigFile(join(import.meta.dirname, '..', 'examples', 'commands', 'config.yaml'));
  for (const server of launch.servers) {
    const transport = server.config.transport as TransportName;
    const client = await connect(transport, server.address!.port);
    await client.waitFor('Type help for the commands.');
    client.send('help');
    await client.waitFor('  uptime           how long the server has been running');
    client.send('help echo');
    await client.waitFor('echo <text...>   say it back');
    client.send('echo   one  two');
    await client.waitFor('one two\r\n> ');
    client.send('status');
    await client.waitFor(`(you are on ${transport} from 127.0.0.1)`);
    client.send('uptime');
    await client.waitFor(/Server uptime: \d+ seconds?\r\n/);
    client.send('frobnicate now');
    await client.waitFor('Unknown command: frobnicate (try help)');
    client.send('exit');
    await client.waitFor('Goodbye!');
    await client.closed;
  }
});

test('uptime reads like a person would say it', () => {
  assert.equal(describeDuration(500), '0 seconds');
  assert.equal(describeDuration(61_000), '1 minute, 1 second');
  assert.equal(describeDuration(3 * 86_400_000 + 4 * 3_600_000 + 5_000), '3 days, 4 hours, 5 seconds');
});

test('Tab offers command names for the first word and after help, nothing elsewhere', () => {
  const handler = new CommandHandler({} as never);
  assert.deepEqual(handler.completeWord('st', 'st'), ['help', 'status', 'uptime', 'echo', 'quit']);
  assert.deepEqual(handler.completeWord('up', 'help up'), ['help', 'status', 'uptime', 'echo', 'quit']);
  assert.deepEqual(handler.completeWord('fo', 'echo fo'), []);
});
