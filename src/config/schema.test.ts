// Tests of config validation: defaults, the servers: map, and errors as the user reads them.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConfigError } from '../errors.js';
import { configKeys, parseConfig } from './schema.js';

const { server: SERVER_KEYS } = configKeys();

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
      maxSessionTime: 0,
      resumeGrace: 0,
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
      monitorToken: [],
      monitorAdminToken: [],
      metricsPath: undefined,
      maxOutputBuffer: 1024 * 1024,
      handshakeTimeout: 5,
      maxConnectionRatePerIp: 0,
      allowIps: [],
      denyIps: [],
      banAfter: 0,
      banSeconds: 600,
      maxLineLength: 4096,
      maxMessageSize: 1024 * 1024,
      webClient: false,
      webTitle: undefined,
      keepaliveInterval: 0,
      proxyProtocol: false,
      trustedProxies: [],
      sshHostKey: undefined,
      sshAuth: ['none'],
      sshAuthorizedKeys: undefined,
      sshKeepaliveInterval: 0,
      telnetOptions: [],
      mssp: {},
      mccpOverTls: false,
      baseDir: '/srv',
      keyPrefix: '',
      ignoredKeys: [],
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
      transport: 'ws_telnet',
      handler_class: HANDLER,
      max_connections: 5,
      max_connections_per_ip: 2,
      connection_timeout: 1.5,
      max_session_time: 3600,
      resume_grace: 120,
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
      monitor_token: 'a-token-of-sixteen-characters',
      monitor_admin_token: ['admin-token-one-0123', 'admin-token-two-0123'],
      metrics_path: '/metrics',
      max_output_buffer: 65536,
      handshake_timeout: 2.5,
      max_connection_rate_per_ip: 30,
      allow_ips: ['10.0.0.0/8', '::1'],
      deny_ips: ['10.1.2.3'],
      ban_after: 3,
      ban_seconds: 60,
      max_line_length: 80,
      max_message_size: 2048,
      web_client: true,
      web_title: 'The Dungeon',
      keepalive_interval: 60,
      proxy_protocol: true,
      trusted_proxies: ['192.0.2.0/24'],
      ssh_host_key: 'keys/host',
      ssh_auth: ['password', 'publickey'],
      ssh_authorized_keys: 'keys/authorized_keys',
      ssh_keepalive_interval: 15,
      telnet_options: ['gmcp', 'mssp', 'mccp2'],
      mssp: { NAME: 'Test MUD', PORT: [9000, 9001], MCCP: true },
      mccp_over_tls: true,
    },
    '/srv',
  ).servers;
  assert.deepEqual(
    { ...server, name: undefined, baseDir: undefined, keyPrefix: undefined, ignoredKeys: undefined },
    {
      name: undefined,
      host: '127.0.0.1',
      port: 9000,
      transport: 'ws_telnet',
      handlerClass: HANDLER,
      maxConnections: 5,
      maxConnectionsPerIp: 2,
      connectionTimeout: 1.5,
      maxSessionTime: 3600,
      resumeGrace: 120,
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
      monitorToken: ['a-token-of-sixteen-characters'],
      monitorAdminToken: ['admin-token-one-0123', 'admin-token-two-0123'],
      metricsPath: '/metrics',
      maxOutputBuffer: 65536,
      handshakeTimeout: 2.5,
      maxConnectionRatePerIp: 30,
      allowIps: ['10.0.0.0/8', '::1'],
      denyIps: ['10.1.2.3'],
      banAfter: 3,
      banSeconds: 60,
      maxLineLength: 80,
      maxMessageSize: 2048,
      webClient: true,
      webTitle: 'The Dungeon',
      keepaliveInterval: 60,
      proxyProtocol: true,
      trustedProxies: ['192.0.2.0/24'],
      sshHostKey: 'keys/host',
      sshAuth: ['password', 'publickey'],
      sshAuthorizedKeys: 'keys/authorized_keys',
      sshKeepaliveInterval: 15,
      telnetOptions: ['gmcp', 'mssp', 'mccp2'],
      mssp: { NAME: 'Test MUD', PORT: [9000, 9001], MCCP: true },
      mccpOverTls: true,
      baseDir: undefined,
      keyPrefix: undefined,
      ignoredKeys: undefined,
    },
  );
});

test('resume_grace is seconds, 0 or more', () => {
  assert.equal(parseConfig({ handler_class: HANDLER, resume_grace: 30 }, '/srv').servers[0]!.resumeGrace, 30);
  assert.equal(
    configErrorOf({ handler_class: HANDLER, resume_grace: -1 }),
    'resume_grace: expected a number of seconds (0 or more), got -1',
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
  assert.equal(
    message,
    'servers.telnet.transport: expected one of telnet, tcp, websocket, ws_telnet, ssh, got "carrier-pigeon"',
  );
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

test('a setting of the whole application inside a server section says where it belongs', () => {
  assert.equal(
    configErrorOf({ servers: { web: { handler_class: HANDLER, transport: 'websocket', monitor_port: 9000 } } }),
    'servers.web.monitor_port: a setting of the whole application, not of one server: write it beside servers:',
  );
});

test("keys a server's transport does not read are kept aside, to be reported, not refused", () => {
  const shared = { ws_path: '/play', ping_interval: 10, keepalive_interval: 30, ssh_auth: ['password'] };
  const [telnet, web, ssh] = parseConfig(
    {
      servers: {
        telnet: { handler_class: HANDLER, transport: 'telnet', ...shared },
        web: { handler_class: HANDLER, transport: 'websocket', port: 8025, ...shared },
        ssh: { handler_class: HANDLER, transport: 'ssh', ...shared },
      },
    },
    '/srv',
  ).servers;
  const websockets = ['websocket', 'ws_telnet'];
  assert.deepEqual(telnet!.ignoredKeys, [
    { key: 'ws_path', usedBy: websockets },
    { key: 'ping_interval', usedBy: websockets },
    { key: 'ssh_auth', usedBy: ['ssh'] },
  ]);
  assert.deepEqual(web!.ignoredKeys, [{ key: 'ssh_auth', usedBy: ['ssh'] }]);
  assert.deepEqual(
    ssh!.ignoredKeys.map(({ key }) => key),
    ['ws_path', 'ping_interval', 'keepalive_interval'],
  );
});

test('in a single-server file the monitor keys serve monitor_port, so they are not ignored', () => {
  const [server] = parseConfig(
    { handler_class: HANDLER, transport: 'tcp', monitor_port: 9100, metrics_path: '/metrics', web_client: true },
    '/srv',
  ).servers;
  assert.deepEqual(server!.ignoredKeys, [{ key: 'web_client', usedBy: ['websocket', 'ws_telnet'] }]);
});

test('a missing handler_class is named with the form it takes', () => {
  assert.equal(
    configErrorOf({ port: 8023 }),
    'handler_class: missing, expected "<module>:<ExportName>", e.g. "./handler.ts:EchoHandler"',
  );
  assert.equal(
    configErrorOf({ servers: { tcp: { transport: 'tcp' } } }),
    'servers.tcp.handler_class: missing, expected "<module>:<ExportName>", e.g. "./handler.ts:EchoHandler"',
  );
});

test('a handler_class without an export name shows the expected form', () => {
  assert.equal(
    configErrorOf({ handler_class: './handler.ts' }),
    'handler_class: expected "<module>:<ExportName>", e.g. "./handler.ts:EchoHandler", got "./handler.ts"',
  );
});

/** One server named `name` with a valid handler and `settings`, in the servers: form. */
function server(name: string, settings: Record<string, unknown>): unknown {
  return { servers: { [name]: { handler_class: HANDLER, ...settings } } };
}

// Every kind of issue the schema can raise, each as the one line the user reads.
const ERRORS: [kind: string, raw: unknown, message: string][] = [
  [
    'too_small: port below 0',
    server('telnet', { port: -1 }),
    'servers.telnet.port: expected a whole number from 0 to 65535, got -1',
  ],
  [
    'too_small: max_connections below 1',
    server('telnet', { max_connections: 0 }),
    'servers.telnet.max_connections: expected a whole number of at least 1, got 0',
  ],
  [
    'too_small: max_connections_per_ip below 0',
    { handler_class: HANDLER, max_connections_per_ip: -1 },
    'max_connections_per_ip: expected a whole number of at least 0, got -1',
  ],
  [
    'too_small: negative seconds',
    { handler_class: HANDLER, connection_timeout: -5 },
    'connection_timeout: expected a number of seconds (0 or more), got -5',
  ],
  [
    'too_small: ping_timeout of 0',
    { handler_class: HANDLER, ping_timeout: 0 },
    'ping_timeout: expected a number of seconds greater than 0, got 0',
  ],
  [
    'too_small: max_line_length below 1',
    { handler_class: HANDLER, max_line_length: 0 },
    'max_line_length: expected a whole number from 1 to 1000000, got 0',
  ],
  ['too_small: empty host', { handler_class: HANDLER, host: '' }, 'host: expected a host name or IP address, got ""'],
  [
    'too_small: empty origin in a list',
    server('web', { allow_origins: ['https://example.com', ''] }),
    'servers.web.allow_origins[1]: expected an origin such as "https://example.com", or "*", got ""',
  ],
  [
    'too_big: port above 65535',
    { handler_class: HANDLER, port: 70000 },
    'port: expected a whole number from 0 to 65535, got 70000',
  ],
  [
    'too_big: max_message_size above 64 MiB',
    { handler_class: HANDLER, max_message_size: 64 * 1024 * 1024 + 1 },
    'max_message_size: expected a whole number from 1 to 67108864, got 67108865',
  ],
  [
    'too_big: max_line_length above a million',
    { handler_class: HANDLER, max_line_length: 2_000_000 },
    'max_line_length: expected a whole number from 1 to 1000000, got 2000000',
  ],
  [
    'invalid_type: number given text',
    server('tcp', { port: 'eighty' }),
    'servers.tcp.port: expected a whole number from 0 to 65535, got "eighty"',
  ],
  [
    'invalid_type: whole number given a fraction',
    { handler_class: HANDLER, port: 80.5 },
    'port: expected a whole number from 0 to 65535, got 80.5',
  ],
  [
    "invalid_type: number given YAML's .inf",
    { handler_class: HANDLER, ping_interval: Infinity },
    'ping_interval: expected a number of seconds (0 or more), got Infinity',
  ],
  [
    'invalid_type: number given null (a key with no value)',
    { handler_class: HANDLER, max_connections: null },
    'max_connections: expected a whole number of at least 1, got null',
  ],
  [
    'invalid_type: handler_class given a number',
    { handler_class: 5 },
    'handler_class: expected "<module>:<ExportName>", e.g. "./handler.ts:EchoHandler", got 5',
  ],
  [
    'invalid_type: boolean given text',
    { handler_class: HANDLER, use_ssl: 'yes' },
    'use_ssl: expected true or false, got "yes"',
  ],
  [
    'invalid_type: list given text',
    server('web', { allow_origins: 'x' }),
    'servers.web.allow_origins: expected a list of origins (strings), got "x"',
  ],
  [
    'invalid_type: origin given a number',
    { handler_class: HANDLER, allow_origins: [5] },
    'allow_origins[0]: expected an origin such as "https://example.com", or "*", got 5',
  ],
  [
    'invalid_type: optional text given a number',
    { handler_class: HANDLER, welcome_message: 5 },
    'welcome_message: expected text (or null for none), got 5',
  ],
  [
    'invalid_type: file path given a list',
    { handler_class: HANDLER, ssl_cert: ['a.pem'] },
    'ssl_cert: expected the path of a PEM certificate file, got a list ["a.pem"]',
  ],
  [
    'invalid_type: key path given true',
    { handler_class: HANDLER, ssl_key: true },
    'ssl_key: expected the path of a PEM private key file, got true',
  ],
  [
    'invalid_type: path given a number',
    { handler_class: HANDLER, monitor_path: 8 },
    'monitor_path: expected a path starting with "/", got 8',
  ],
  [
    'invalid_type: server section given null',
    { servers: { tcp: null } },
    'servers.tcp: expected a mapping of server settings, got null',
  ],
  [
    'invalid_type: servers given a list',
    { servers: ['telnet'] },
    'servers: expected a mapping of server names to their settings, got a list ["telnet"]',
  ],
  [
    'invalid_value: unknown transport',
    server('telnet', { transport: 'carrier-pigeon' }),
    'servers.telnet.transport: expected one of telnet, tcp, websocket, ws_telnet, ssh, got "carrier-pigeon"',
  ],
  [
    'invalid_value: transport given a number',
    { handler_class: HANDLER, transport: 23 },
    'transport: expected one of telnet, tcp, websocket, ws_telnet, ssh, got 23',
  ],
  [
    'invalid_format: handler_class without an export',
    server('telnet', { handler_class: 'foo' }),
    'servers.telnet.handler_class: expected "<module>:<ExportName>", e.g. "./handler.ts:EchoHandler", got "foo"',
  ],
  [
    'invalid_format: ws_path without a leading slash',
    server('web', { ws_path: 'ws' }),
    'servers.web.ws_path: expected a path starting with "/", got "ws"',
  ],
  [
    'invalid_format: monitor_path without a leading slash',
    { handler_class: HANDLER, monitor_path: 'monitor' },
    'monitor_path: expected a path starting with "/", got "monitor"',
  ],
  ['custom: an empty servers map', { servers: {} }, 'servers: expected at least one server, got an empty mapping'],
  [
    'unrecognized_keys: a misspelt key',
    server('telnet', { max_conections: 5 }),
    'servers.telnet.max_conections: unknown key (did you mean max_connections?)',
  ],
  [
    'custom: an unknown telnet option, with the nearest name',
    { handler_class: HANDLER, telnet_options: ['gmcp', 'mccp'] },
    'telnet_options[1]: unknown option "mccp" (did you mean mccp2?)',
  ],
  [
    'custom: telnet options on a transport without telnet',
    { handler_class: HANDLER, transport: 'websocket', telnet_options: ['gmcp'] },
    'telnet_options: only for telnet and ws_telnet servers, not websocket',
  ],
  [
    'custom: MSSP variables without mssp offered',
    { handler_class: HANDLER, telnet_options: ['gmcp'], mssp: { NAME: 'x' } },
    'mssp: its variables are sent only with mssp in telnet_options',
  ],
  [
    'invalid_type: an MSSP value that is a mapping',
    { handler_class: HANDLER, telnet_options: ['mssp'], mssp: { NAME: { x: 1 } } },
    'mssp.NAME: expected a mapping of MSSP variable names to text, numbers, true/false or lists of them, e.g. { NAME: My MUD }, got a mapping {"x":1}',
  ],
  [
    'missing: a required key',
    { servers: { tcp: { transport: 'tcp' } } },
    'servers.tcp.handler_class: missing, expected "<module>:<ExportName>", e.g. "./handler.ts:EchoHandler"',
  ],
];

for (const [kind, raw, message] of ERRORS) {
  test(`error message for ${kind}`, () => {
    assert.equal(configErrorOf(raw), message);
  });
}

test('every key answers a value of the wrong kind by saying what it expects', () => {
  for (const key of SERVER_KEYS) {
    // mssp is a mapping: a list is the wrong kind for it.
    const value = key === 'mssp' ? ['x'] : { x: 1 };
    const raw = { handler_class: HANDLER, transport: 'telnet', telnet_options: ['mssp'], [key]: value };
    if (key === 'mssp') {
      assert.match(configErrorOf(raw), /^mssp: expected a mapping of MSSP variable names .+, got a list \["x"\]$/);
      continue;
    }
    const message = configErrorOf(raw);
    assert.match(message, new RegExp(`^${key}: expected .+, got a mapping \\{"x":1\\}$`));
    // zod's own wording ("Invalid input: expected number, received object") must not show through.
    assert.doesNotMatch(message, /invalid|received|Expected/);
  }
});

test('an empty ssl_cert, ssl_key, welcome_message or web_title means not set', () => {
  const [server] = parseConfig(
    {
      handler_class: HANDLER,
      transport: 'websocket',
      use_ssl: false,
      ssl_cert: '',
      ssl_key: '',
      welcome_message: '',
      web_title: '',
    },
    '/srv',
  ).servers;
  assert.equal(server!.sslCert, undefined);
  assert.equal(server!.sslKey, undefined);
  assert.equal(server!.welcomeMessage, undefined);
  assert.equal(server!.webTitle, undefined);
});

test('use_ssl with an empty ssl_cert is refused like one left out', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, use_ssl: true, ssl_cert: '', ssl_key: 'key.pem' }),
    'use_ssl: true needs both ssl_cert and ssl_key',
  );
});

test('a ws_telnet server keeps the ws_path it is given', () => {
  const [server] = parseConfig({ handler_class: HANDLER, transport: 'ws_telnet', ws_path: '/ws' }, '/srv').servers;
  assert.equal(server!.wsPath, '/ws');
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

test('proxy_protocol without trusted_proxies is refused: a header believed from anyone names any address', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, proxy_protocol: true }),
    'proxy_protocol: true needs trusted_proxies, the addresses of the proxies that send the header (e.g. ["127.0.0.1"])',
  );
  assert.equal(
    configErrorOf({ handler_class: HANDLER, trusted_proxies: ['10.0.0.0/33'] }),
    'trusted_proxies[0]: expected a list of IP addresses or CIDR ranges such as "10.0.0.0/8" or "2001:db8::/32", got "10.0.0.0/33"',
  );
});

test('an ssh server listens on 8022 and gives a login 60 seconds, unless told otherwise', () => {
  const [ssh, telnet] = parseConfig(
    { servers: { ssh: { handler_class: HANDLER, transport: 'ssh' }, telnet: { handler_class: HANDLER } } },
    '/srv',
  ).servers;
  assert.deepEqual([ssh!.port, ssh!.handshakeTimeout, telnet!.port, telnet!.handshakeTimeout], [8022, 60, 8023, 5]);
  const [chosen] = parseConfig(
    { handler_class: HANDLER, transport: 'ssh', port: 2222, handshake_timeout: 20, ssh_auth: 'password' },
    '/srv',
  ).servers;
  assert.deepEqual([chosen!.port, chosen!.handshakeTimeout, chosen!.sshAuth], [2222, 20, ['password']]);
});

test('ssh keys that cannot work together are refused, saying why', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, transport: 'ssh', ssh_auth: ['none', 'password'] }),
    'ssh_auth: none lets everyone in, so it cannot be combined with password',
  );
  assert.equal(
    configErrorOf({ handler_class: HANDLER, ssh_auth: 'keyboard' }),
    'ssh_auth: expected none, password, publickey, or a list of them, got "keyboard"',
  );
  assert.equal(
    configErrorOf({ handler_class: HANDLER, transport: 'ssh', use_ssl: true, ssl_cert: 'c.pem', ssl_key: 'k.pem' }),
    'use_ssl: not for ssh servers, which are always encrypted (ssh_host_key is their key)',
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
  assert.equal(configErrorOf({ servers: {} }), 'servers: expected at least one server, got an empty mapping');
  assert.equal(
    configErrorOf({ servers: { tcp: null } }),
    'servers.tcp: expected a mapping of server settings, got null',
  );
  assert.equal(configErrorOf(null), 'config must be a mapping of settings, got null');
  assert.equal(configErrorOf(['tcp']), 'config must be a mapping of settings, got a list ["tcp"]');
});

test('ping_timeout longer than ping_interval is refused when both are given', () => {
  assert.equal(
    configErrorOf({ handler_class: HANDLER, ping_interval: 5, ping_timeout: 8 }),
    'ping_timeout: 8 must not exceed ping_interval (5)',
  );
});

test("application keys stand beside servers:, or beside a single server's keys", () => {
  const multi = parseConfig(
    {
      monitor_port: 9100,
      monitor_token: 'sixteen-chars-token',
      record_sessions: 'recordings',
      record_input: true,
      servers: { web: { transport: 'websocket', handler_class: HANDLER, enable_monitoring: true } },
    },
    '/srv',
  );
  assert.deepEqual(multi.application, {
    monitorPort: 9100,
    monitorHost: '127.0.0.1',
    monitorPath: '/monitor',
    monitorToken: ['sixteen-chars-token'],
    monitorAdminToken: [],
    monitorNotice: false,
    metricsPath: undefined,
    recordSessions: 'recordings',
    recordInput: true,
    recordFormat: 'v2',
    recordMaxBytes: 10 * 1024 * 1024,
    recordKeep: 1000,
    hub: undefined,
    workers: 1,
    baseDir: '/srv',
  });
  assert.deepEqual(multi.servers[0]!.monitorToken, []);
  // In a single-server file the shared keys count for the server and the application alike.
  const single = parseConfig(
    { handler_class: HANDLER, metrics_path: '/metrics', monitor_notice: true, monitor_token: 'sixteen-chars-token' },
    '/srv',
  );
  assert.equal(single.servers[0]!.metricsPath, '/metrics');
  assert.equal(single.application.metricsPath, '/metrics');
  assert.equal(single.application.monitorNotice, true);
  assert.deepEqual(single.servers[0]!.monitorToken, ['sixteen-chars-token']);
});

test('application keys are checked and misspelt ones named', () => {
  assert.equal(
    configErrorOf({ monitor_prot: 9100, servers: { a: { handler_class: HANDLER } } }),
    'monitor_prot: unknown key (did you mean monitor_port?)',
  );
  assert.equal(
    configErrorOf({ handler_class: HANDLER, monitor_token: 'short' }),
    'monitor_token: expected a token (a string of 16 or more characters) or a list of them, got "short"',
  );
  assert.equal(
    configErrorOf({ handler_class: HANDLER, record_format: 'v9' }),
    'record_format: expected v2 or v3 (the asciicast version), got "v9"',
  );
  assert.equal(
    configErrorOf({ handler_class: HANDLER, workers: 0 }),
    'workers: expected a whole number from 1 to 256, got 0',
  );
  assert.equal(parseConfig({ handler_class: HANDLER, workers: 4 }, '/srv').application.workers, 4);
});

test('a hub: mapping names the Redis that instances share, with timing defaults', () => {
  const servers = { a: { handler_class: HANDLER } };
  assert.deepEqual(parseConfig({ hub: { redis: 'redis://10.0.0.5:6379/2' }, servers }, '/srv').application.hub, {
    redis: 'redis://10.0.0.5:6379/2',
    channelPrefix: 'chuk',
    heartbeatIntervalMs: 1000,
    instanceTimeoutMs: 5000,
    sharedIpLimits: true,
  });
  const tuned = parseConfig(
    {
      handler_class: HANDLER,
      hub: {
        redis: 'rediss://user:secret@cache',
        heartbeat_interval: 0.25,
        instance_timeout: 0.5,
        shared_ip_limits: false,
      },
    },
    '/srv',
  ).application.hub;
  assert.deepEqual([tuned?.heartbeatIntervalMs, tuned?.instanceTimeoutMs, tuned?.sharedIpLimits], [250, 500, false]);
});

test('a bad hub: setting is a config error naming its key', () => {
  const servers = { a: { handler_class: HANDLER } };
  const expectedUrl = 'a Redis URL such as "redis://127.0.0.1:6379" or "rediss://user:password@host:6380/0"';
  assert.equal(
    configErrorOf({ hub: { redis: 'http://cache:6379' }, servers }),
    `hub.redis: expected ${expectedUrl}, got "http://cache:6379"`,
  );
  assert.equal(
    configErrorOf({ hub: { redis: 'redis://cache/db' }, servers }),
    `hub.redis: expected ${expectedUrl}, got "redis://cache/db"`,
  );
  assert.equal(configErrorOf({ hub: {}, servers }), `hub.redis: missing, expected ${expectedUrl}`);
  assert.equal(
    configErrorOf({ hub: { redis: 'redis://cache', heartbeat_intreval: 1 }, servers }),
    'hub.heartbeat_intreval: unknown key (did you mean heartbeat_interval?)',
  );
  assert.match(
    configErrorOf({ hub: { redis: 'redis://cache', heartbeat_interval: 2, instance_timeout: 3 }, servers }),
    /^hub\.instance_timeout: expected an instance_timeout of at least twice the heartbeat_interval/,
  );
});

test('address lists take IPv4 and IPv6 addresses and ranges, and name a bad entry', () => {
  const [server] = parseConfig(
    { handler_class: HANDLER, deny_ips: ['192.168.0.0/16', '2001:db8::/32', '::ffff:10.0.0.1', '127.0.0.1'] },
    '/srv',
  ).servers;
  assert.deepEqual(server!.denyIps, ['192.168.0.0/16', '2001:db8::/32', '::ffff:10.0.0.1', '127.0.0.1']);
  for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0.1/8/8', '10.0.0.0/x']) {
    assert.equal(
      configErrorOf({ handler_class: HANDLER, allow_ips: [bad] }),
      `allow_ips[0]: expected a list of IP addresses or CIDR ranges such as "10.0.0.0/8" or "2001:db8::/32", got ${JSON.stringify(bad)}`,
    );
  }
});
