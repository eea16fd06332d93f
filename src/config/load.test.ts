// Tests of reading config files: the original package's samples as they ship, and errors naming the file.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

import { ConfigError } from '../errors.js';
import { loadConfig, parseConfigDocument, readConfigFile } from './load.js';
import type { ServerConfig } from './schema.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'test', 'fixtures');
const ECHO_HANDLER = '../../examples/echo-server/handler.ts:EchoTelnetHandler';

let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'config-load-test-'));
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** What differs from server to server in the seed's samples. */
function row(server: ServerConfig): unknown[] {
  return [server.name, server.transport, server.port, server.wsPath, server.maxConnections, server.connectionTimeout];
}

test("the seed's echo sample loads as it is written", async () => {
  const config = await loadConfig(join(FIXTURES, 'seed-echo.yaml'));
  assert.deepEqual(config.servers.map(row), [
    ['telnet', 'telnet', 8023, '/ws', 100, 300],
    ['tcp', 'tcp', 8024, '/ws', 100, 300],
    ['websocket', 'websocket', 8025, '/ws', 100, 300],
    ['ws_telnet', 'ws_telnet', 8026, '/ws_telnet', 100, 300],
  ]);
  assert.deepEqual(
    config.servers.map((server) => server.welcomeMessage),
    [
      'Welcome to the Telnet Server!',
      'Welcome to the TCP Server!',
      'Welcome to the WebSocket Server!',
      'Welcome to the WebSocket Telnet Server!',
    ],
  );
  for (const server of config.servers) {
    assert.equal(server.host, '0.0.0.0');
    assert.equal(server.handlerClass, ECHO_HANDLER);
    assert.equal(server.baseDir, FIXTURES);
    assert.equal(server.useSsl, false);
    assert.equal(server.sslCert, undefined);
    assert.equal(server.sslKey, undefined);
    assert.equal(server.monitorPath, '/monitor');
  }
  assert.deepEqual(
    config.servers.map((server) => server.enableMonitoring),
    [false, false, true, true],
  );
  for (const server of config.servers.slice(2)) {
    assert.equal(server.pingInterval, 30);
    assert.equal(server.pingTimeout, 10);
    assert.deepEqual(server.allowOrigins, ['*']);
  }
});

test("the seed's Guess Who sample loads as it is written, its ws_telnet server keeping /ws", async () => {
  const config = await loadConfig(join(FIXTURES, 'seed-guess-who.yaml'));
  assert.deepEqual(config.servers.map(row), [
    ['telnet', 'telnet', 8023, '/ws', 50, 600],
    ['tcp', 'tcp', 8024, '/ws', 50, 600],
    ['websocket', 'websocket', 8025, '/ws', 50, 600],
    ['ws_telnet', 'ws_telnet', 8026, '/ws', 100, 300],
  ]);
  for (const server of config.servers) {
    assert.equal(server.host, '0.0.0.0');
    assert.equal(server.handlerClass, ECHO_HANDLER);
    assert.equal(server.useSsl, false);
    assert.equal(server.sslCert, undefined);
    assert.equal(server.sslKey, undefined);
    assert.equal(server.enableMonitoring, false);
  }
});

test('readConfigFile gives the YAML as written, not yet validated, with the folder it resolves against', async () => {
  const document = await readConfigFile(join(FIXTURES, 'seed-guess-who.yaml'));
  assert.equal(document.baseDir, FIXTURES);
  const servers = (document.raw as { servers: Record<string, Record<string, unknown>> }).servers;
  assert.equal(servers.websocket!.ssl_cert, '');
  assert.equal(servers.ws_telnet!.ws_path, '/ws');
  assert.equal(servers.telnet!.max_connections, 50);
});

test('a document changed before validation gets the defaults of what it now says', async () => {
  const file = await writeConfig('one.yaml', `transport: telnet\nport: 0\nhandler_class: ${ECHO_HANDLER}\n`);
  const document = await readConfigFile(file);
  const config = parseConfigDocument({ ...document, raw: { ...(document.raw as object), transport: 'ws_telnet' } });
  assert.equal(config.servers[0]!.wsPath, '/ws_telnet');
});

test('an invalid value is reported with the file, the key and what is expected', async () => {
  const file = await writeConfig('bad-port.yaml', `handler_class: ${ECHO_HANDLER}\nport: -1\n`);
  await assert.rejects(loadConfig(file), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'ERR_CONFIG');
    assert.equal(err.message, `${file}: port: expected a whole number from 0 to 65535, got -1`);
    return true;
  });
});

test('an empty file, a missing file and a YAML syntax error name the file', async () => {
  const empty = await writeConfig('empty.yaml', '# nothing here\n');
  await assert.rejects(readConfigFile(empty), { code: 'ERR_CONFIG', message: `${empty}: config file is empty` });
  const missing = join(dir, 'missing.yaml');
  await assert.rejects(readConfigFile(missing), { code: 'ERR_CONFIG', message: `config file not found: ${missing}` });
  const broken = await writeConfig('broken.yaml', 'port: [1, 2\n');
  await assert.rejects(readConfigFile(broken), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^\S+broken\.yaml:\d+:\d+: YAML syntax error: /);
    return true;
  });
});
