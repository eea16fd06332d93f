// Tests of config validation: defaults, the servers: map, and errors as the user reads them.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConfigError } from '../errors.js';
import { parseConfig } from './schema.js';

const HANDLER = './handler.ts:EchoHandler';

/** Runs parseConfig on `raw` and returns the ConfigError's message, failing if none is thrown. */
function configErrorOf(raw: unknown): string {
  try {
    parseConfig(raw, '/srv');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_CONFIG');
    return err.message;
  }
  assert.fail(`parseConfig accepted ${JSON.stringify(raw)}`);
}

test('a single-server file gets the default of every key', () => {
  const config = parseConfig({ handler_class: HANDLER }, '/srv');
  assert.deepEqual(config.servers, [
    {
      name: 'telnet',
      host: '0.0.0.0',
      port: 8023,
      transport: 'telnet',
      handlerClass: HANDLER,
      maxConnections: 100,
      maxConnectionsPerIp: 0,
      connectionTimeout: 300,
      welcomeMessage: undefined,
      wsPath: '/ws',
      allowOrigins: ['*'],
      requireOrigin: false,
      useSsl: false,
      sslCert: undefined,
      sslKey: undefined,
      pingInterval: 30,
      pingTimeout: 10,
      enableMonitoring: false,
      monitorPath: '/monitor',
      maxLineLength: 4096,
      maxMessageSize: 1024 * 1024,
      webClient: false,
      keepaliveInterval: 0,
      baseDir: '/srv',
      keyPrefix: '',
    },
  ]);
});

test('a single-server file is named after its transport', () => {
  const config = parseConfig({ handler_class: HANDLER, transport: 'tcp', port: 0 }, '/srv');
  assert.equal(config.servers[0]!.name, 'tcp');
  assert.equal(config.servers[0]!.port, 0);
});

test('every YAML key becomes its camelCase field', () => {
  const [server] = parseConfig(
    {
      host: '127.0.0.1',
      port: 9000,
      transport: 'websocket',
      handler_class: HANDLER,
      max_connections: 5,
      max_connections_per_ip: 2,
      connection_timeout: 1.5,
      welcome_message: 'Hi',
      ws_path: '/chat',
      allow_origins: ['https://example.com'],
      require_origin: true,
      use_ssl: true,
      ssl_cert: 'cert.pem',
      ssl_key: 'key.pem',
      ping_interval: 20,
      ping_timeout: 5,
      enable_monitoring: true,
      monitor_path: '/watch',
      max_line_length: 80,
      max_message_size: 2048,
      web_client: true,
      keepalive_interval: 60,
    },
    '/srv',
  ).servers;
  assert.deepEqual(
    { ...server, name: undefined, baseDir: undefined, keyPrefix: undefined },
    {
      name: undefined,
      host: '127.0.0.1',
      port: 9000,
      transport: 'websocket',
      handlerClass: HANDLER,
      maxConnections: 5,
      maxConnectionsPerIp: 2,
      connectionTimeout: 1.5,
      welcomeMessage: 'Hi',
      wsPath: '/chat',
      allowOrigins: ['https://example.com'],
      requireOrigin: true,
      useSsl: true,
      sslCert: 'cert.pem',
      sslKey: 'key.pem',
      pingInterval: 20,
      pingTimeout: 5,
      enableMonitoring: true,
      monitorPath: '/watch',
      maxLineLength: 80,
      maxMessageSize: 2048,
      webClient: true,
      keepaliveInterval: 60,
      baseDir: undefined,
      keyPrefix: undefined,
    },
  );
});

test('a null welcome_message means no welcome', () => {
  const [server] = parseConfig({ handler_class: HANDLER, welcome_message: null }, '/srv').servers;
  assert.equal(server!.welcomeMessage, undefined);
});

test('the servers: map gives each server its key as name and defaults of its own', () => {
  const config = parseConfig(
    {
      servers: {
        telnet: { handler_class: HANDLER },
        tcp: { handler_class: HANDLER, transport: 'tcp', port: 8024, welcome_message: 'TCP here' },
      },
    },
    '/srv',
  );
  assert.deepEqual(
    config.servers.map((server) => [server.name, server.transport, server.port, server.welcomeMessage]),
    [
      ['telnet', 'telnet', 8023, undefined],
      ['tcp', 'tcp', 8024, 'TCP here'],
    ],
  );
  assert.deepEqual(
    config.servers.map((server) => server.keyPrefix),
    ['servers.telnet.', 'servers.tcp.'],
  );
});

test('ws_path defaults to /ws, and to /ws_telnet for ws_telnet', () => {
  const config = parseConfig(
    {
      servers: {
        websocket: { handler_class: HANDLER, transport: 'websocket', port: 8025 },
        ws_telnet: { handler_class: HANDLER, transport: 'ws_telnet', port: 8026 },
        custom: { handler_class: HANDLER, transport: 'ws_telnet', port: 8027, ws_path: '/term' },
      },
    },
    '/srv',
  );
  assert.deepEqual(
    config.servers.map((server) => server.wsPath),
    ['/ws', '/ws_telnet', '/term'],
  );
});

test('ping_timeout defaults to ping_interval when the interval is shorter than 10 s', () => {
  const [server] = parseConfig({ handler_class: HANDLER, ping_interval: 5 }, '/srv').servers;
  assert.equal(server!.pingTimeout, 5);
});

test('an unknown transport lists the known ones', () => {
  const message = configErrorOf({ servers: { telnet: { handler_class: HANDLER, transport: 'carrier-pigeon' } } });
  assert.equal(message, 'servers.telnet.transport: "carrier-pigeon" is not one of telnet, tcp, websocket, ws_telnet');
});

test('a misspelt key names the key it resembles', () => {
  const message = configErrorOf({ servers: { telnet: { handler_class: HANDLER, max_conections: 5 } } });
  assert.equal(message, 'servers.telnet.max_conections: unknown key (did you mean max_connections?)');
});

test('a misspelt key at the top level of a single-server file names the key it resembles', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, welcome_mesage: 'Hi' }),
    'welcome_mesage: unknown key (did you mean welcome_message?)',
  );
});

test('a misspelt handler_class is reported as misspelt rather than missing', () => {
  assert.equal(configErrorOf({ handler_clas: HANDLER }), 'handler_clas: unknown key (did you mean handler_class?)');
});

test('a misspelt servers key is reported as misspelt', () => {
  assert.equal(
    configErrorOf({ server: { telnet: { handler_class: HANDLER } } }),
    'server: unknown key (did you mean servers?)',
  );
});

test('an unknown key far from every known one gets no suggestion', () => {
  assert.equal(configErrorOf({ handler_class: HANDLER, colour: 'blue' }), 'colour: unknown key');
});

test('a missing handler_class is named', () => {
  assert.equal(configErrorOf({ port: 8023 }), 'handler_class: missing, expected a string');
  assert.equal(
    configErrorOf({ servers: { tcp: { transport: 'tcp' } } }),
    'servers.tcp.handler_class: missing, expected a string',
  );
});

test('a handler_class without an export name shows the expected form', () => {
  assert.equal(
    configErrorOf({ handler_class: './handler.ts' }),
    'handler_class: "./handler.ts" is not a "<module>:<ExportName>" reference such as "./handler.ts:EchoHandler"',
  );
});

test('a port that is not a number shows what was given', () => {
  assert.equal(
    configErrorOf({ servers: { tcp: { handler_class: HANDLER, port: 'eighty' } } }),
    'servers.tcp.port: expected a number, got "eighty"',
  );
  assert.equal(configErrorOf({ handler_class: HANDLER, port: 80.5 }), 'port: expected an integer, got 80.5');
  assert.equal(configErrorOf({ handler_class: HANDLER, port: 70000 }), 'port: 70000 is too large (maximum 65535)');
  assert.equal(configErrorOf({ handler_class: HANDLER, port: -1 }), 'port: -1 is too small (minimum 0)');
});

test('a flag that is not a boolean says so in YAML terms', () => {
  assert.equal(configErrorOf({ handler_class: HANDLER, use_ssl: 'yes' }), 'use_ssl: expected true or false, got "yes"');
});

test('use_ssl without a certificate and key is refused', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, use_ssl: true }),
    'use_ssl: true needs both ssl_cert and ssl_key',
  );
  assert.equal(
    configErrorOf({ servers: { secure: { handler_class: HANDLER, use_ssl: true, ssl_cert: 'cert.pem' } } }),
    'servers.secure.use_ssl: true needs both ssl_cert and ssl_key',
  );
});

test('two servers on the same port are refused, naming both', () => {
  const message = configErrorOf({
    servers: {
      telnet: { handler_class: HANDLER, port: 9000 },
      tcp: { handler_class: HANDLER, transport: 'tcp', port: 9000 },
    },
  });
  assert.equal(message, 'servers.tcp.port: 9000 is already used by servers.telnet');
});

test('a port on every address clashes with the same port on one address', () => {
  const message = configErrorOf({
    servers: {
      all: { handler_class: HANDLER, port: 9000 },
      local: { handler_class: HANDLER, host: '127.0.0.1', port: 9000 },
    },
  });
  assert.equal(message, 'servers.local.port: 9000 is already used by servers.all');
});

test('the same port on two specific addresses, or port 0 twice, is allowed', () => {
  const config = parseConfig(
    {
      servers: {
        a: { handler_class: HANDLER, host: '127.0.0.1', port: 9000 },
        b: { handler_class: HANDLER, host: '127.0.0.2', port: 9000 },
        c: { handler_class: HANDLER, port: 0 },
        d: { handler_class: HANDLER, port: 0 },
      },
    },
    '/srv',
  );
  assert.equal(config.servers.length, 4);
});

test('an empty servers map and a file that is not a mapping are refused', () => {
  assert.equal(configErrorOf({ servers: {} }), 'servers: needs at least one server');
  assert.equal(configErrorOf({ servers: { tcp: null } }), 'servers.tcp: expected a mapping, got null');
  assert.equal(configErrorOf(null), 'config must be a mapping of settings, got null');
  assert.equal(configErrorOf(['tcp']), 'config must be a mapping of settings, got a list ["tcp"]');
});

test('ping_timeout longer than ping_interval is refused when both are given', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, ping_interval: 5, ping_timeout: 8 }),
    'ping_timeout: 8 must not exceed ping_interval (5)',
  );
});
