// Config: the YAML keys of the original package (snake_case), their defaults and checks.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

import type { z } from 'zod';

import { ConfigError } from '../errors.js';

/** Transports a server can use. */
export const TRANSPORTS = ['telnet', 'tcp', 'websocket', 'ws_telnet', 'ssh'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** How SSH clients may log in: anyone, by password (through the handler), or by a listed key. */
export const SSH_AUTH_METHODS = ['none', 'password', 'publickey'] as const;
export type SshAuthMethod = (typeof SSH_AUTH_METHODS)[number];

/** MUD protocols a telnet or ws_telnet server can offer (telnet_options); all off by default. */
export const TELNET_OPTION_NAMES = ['gmcp', 'msdp', 'mssp', 'mccp2', 'mccp3'] as const;
export type TelnetOptionName = (typeof TELNET_OPTION_NAMES)[number];

/** MSSP variables as the config writes them: a value, or a list of values. */
export type MsspSettings = Record<string, string | number | boolean | (string | number)[]>;

/** One server's settings as the YAML file writes them (snake_case keys, all optional), for code. */
export type ServerSettings = z.input<Schemas['server']>;

/** A whole config as the YAML file writes it: one server's settings, or several under `servers`. */
export type ConfigSettings = ServerSettings | { servers: Record<string, ServerSettings> };

/** One server's settings, camelCased, with every default applied. */
export interface ServerConfig {
  /** The key under `servers:`, or the transport's name for a single-server file. */
  name: string;
  host: string;
  port: number;
  transport: TransportName;
  /**
   * "<module>:<ExportName>"; the module is relative to `baseDir` or a package name. Undefined
   * only where code hands the class over itself (serve()).
   */
  handlerClass: string | undefined;
  maxConnections: number;
  /** 0 = no per-address limit. */
  maxConnectionsPerIp: number;
  /** Seconds a session may stay idle before it is closed; 0 = never. */
  connectionTimeout: number;
  /** Seconds a session may last at all, however busy; 0 = no limit. */
  maxSessionTime: number;
  /** Seconds a session whose connection dropped without a goodbye waits for its client to resume it; 0 = off. */
  resumeGrace: number;
  welcomeMessage: string | undefined;
  wsPath: string;
  allowOrigins: string[];
  /** Refuse WebSocket handshakes that carry no Origin (clients other than browsers). */
  requireOrigin: boolean;
  useSsl: boolean;
  sslCert: string | undefined;
  sslKey: string | undefined;
  pingInterval: number;
  pingTimeout: number;
  /** Serve the session monitor (and its dashboard) on this WebSocket server's HTTP side. */
  enableMonitoring: boolean;
  monitorPath: string;
  /** Tokens that open the monitor here; empty = none set (a loopback-only server needs none). */
  monitorToken: string[];
  /** Tokens that also allow operator actions (message, broadcast, disconnect). */
  monitorAdminToken: string[];
  /** Path of Prometheus metrics on this WebSocket server's HTTP side; undefined = not served. */
  metricsPath: string | undefined;
  /** Unread output, in bytes, past which a client that does not read is closed ("slow consumer"). */
  maxOutputBuffer: number;
  /** Seconds a client has for the WebSocket upgrade request, the TLS handshake, or the SSH handshake and login. */
  handshakeTimeout: number;
  /** New connections per minute from one address; 0 = no limit. */
  maxConnectionRatePerIp: number;
  /** Addresses or CIDR ranges that may connect; empty = everyone not denied. */
  allowIps: string[];
  /** Addresses or CIDR ranges that may not connect. */
  denyIps: string[];
  /** Limit hits from one address within ban_seconds that ban it for ban_seconds; 0 = never ban. */
  banAfter: number;
  banSeconds: number;
  /** Longest input line, in characters; longer input is cut there. */
  maxLineLength: number;
  /** Largest inbound WebSocket message, in bytes. */
  maxMessageSize: number;
  /** Serve the browser terminal page on the WebSocket port. */
  webClient: boolean;
  /** The browser page's title; undefined = the welcome message's first words, or the page's host name. */
  webTitle: string | undefined;
  /** Seconds between telnet NOP keepalives; 0 = none. */
  keepaliveInterval: number;
  /** Every connection starts with a PROXY protocol header from one of trustedProxies. */
  proxyProtocol: boolean;
  trustedProxies: string[];
  /** The SSH host's private key file; undefined = one made on first start in .chuk/ beside the config file. */
  sshHostKey: string | undefined;
  /** How SSH clients may log in; 'none' lets anyone in. */
  sshAuth: SshAuthMethod[];
  /** authorized_keys file of the keys that may log in with ssh_auth publickey. */
  sshAuthorizedKeys: string | undefined;
  /** Seconds between SSH keepalive requests; 0 = none. */
  sshKeepaliveInterval: number;
  /** MUD protocols offered to telnet clients (telnet and ws_telnet servers only). */
  telnetOptions: TelnetOptionName[];
  /** MSSP variables (NAME and any others) for crawlers; PLAYERS and UPTIME are added live. */
  mssp: MsspSettings;
  /** Offer MCCP compression over TLS too; off because compressing before encrypting leaks (CRIME, BREACH). */
  mccpOverTls: boolean;
  /** Folder that relative paths (handler module, certificates) are resolved against. */
  baseDir: string;
  /** Where this server's keys sit in the file: "servers.telnet." or "" at the top level. */
  keyPrefix: string;
  /** Keys the file sets that this server's transport does not read, each with why (logged at start). */
  ignoredKeys: IgnoredKey[];
}

/** A key given to a server whose transport has no use for it. */
export interface IgnoredKey {
  key: string;
  /** The transports that do read it. */
  usedBy: readonly TransportName[];
}

/** Settings of the whole application rather than of one server: monitoring, metrics, recordings. */
export interface ApplicationConfig {
  /** A listener of its own for the monitor, metrics and health; undefined = none. */
  monitorPort: number | undefined;
  monitorHost: string;
  monitorPath: string;
  monitorToken: string[];
  monitorAdminToken: string[];
  /** Tell a session's user when someone starts watching it. */
  monitorNotice: boolean;
  metricsPath: string | undefined;
  /** Folder for one asciicast recording per session; undefined = no recordings. */
  recordSessions: string | undefined;
  /** Record what users type too (hidden input never). */
  recordInput: boolean;
  recordFormat: 'v2' | 'v3';
  /** Largest recording file in bytes; a session's recording stops growing there. */
  recordMaxBytes: number;
  /** Recordings kept in the folder; the oldest go first. */
  recordKeep: number;
  /** The hub shared with other instances; undefined = this process alone, in-process. */
  hub: HubConfig | undefined;
  /** Processes serving every port (node:cluster); 1 = this process alone. */
  workers: number;
  baseDir: string;
}

/** The `hub:` mapping: instances that name the same Redis and prefix are one application. */
export interface HubConfig {
  /** redis:// or rediss:// URL. */
  redis: string;
  channelPrefix: string;
  heartbeatIntervalMs: number;
  instanceTimeoutMs: number;
  /** Whether max_connections_per_ip counts the sessions of every instance. */
  sharedIpLimits: boolean;
}

/** A whole config file: one or more servers, and the application they make up together. */
export interface Config {
  servers: ServerConfig[];
  application: ApplicationConfig;
}

const HANDLER_REFERENCE = '"<module>:<ExportName>", e.g. "./handler.ts:EchoHandler"';
const ORIGIN = 'an origin such as "https://example.com", or "*"';

const DEFAULT_PING_TIMEOUT = 10;

const WEBSOCKETS: readonly TransportName[] = ['websocket', 'ws_telnet'];
/**
 * Keys that only some transports read. Given to another transport they are ignored rather than
 * refused, since one block of shared settings (a YAML anchor) is often merged into every server,
 * but the server says so when it starts.
 */
const TRANSPORT_KEYS: Readonly<Record<string, readonly TransportName[]>> = {
  ws_path: WEBSOCKETS,
  allow_origins: WEBSOCKETS,
  require_origin: WEBSOCKETS,
  ping_interval: WEBSOCKETS,
  ping_timeout: WEBSOCKETS,
  max_message_size: WEBSOCKETS,
  web_client: WEBSOCKETS,
  enable_monitoring: WEBSOCKETS,
  monitor_path: WEBSOCKETS,
  metrics_path: WEBSOCKETS,
  // The telnet layer also serves WebSocket clients that ask for the telnet subprotocol.
  keepalive_interval: ['telnet', ...WEBSOCKETS],
  ssh_host_key: ['ssh'],
  ssh_auth: ['ssh'],
  ssh_authorized_keys: ['ssh'],
  ssh_keepalive_interval: ['ssh'],
  mccp_over_tls: ['telnet', 'ws_telnet'],
  web_title: WEBSOCKETS,
  // Only their clients can present a token: the page's control channel, ssh's RESUME variable.
  resume_grace: [...WEBSOCKETS, 'ssh'],
};
/** More workers than this is a typo, not a machine. */
export const MAX_WORKERS = 256;
/** Hosts that bind every address, so they clash with any other host on the same port. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The config's zod schemas and the keys they accept. */
type Schemas = ReturnType<typeof buildSchemas>;

let builtSchemas: Schemas | undefined;

function schemas(): Schemas {
  builtSchemas ??= buildSchemas();
  return builtSchemas;
}

function buildSchemas() {
  const z = zod();
  // Each schema carries, in words, what its key accepts: every error about the key quotes it.
  const serverShape = {
    host: z
      .string({ error: 'a host name or IP address' })
      .min(1, { error: 'a host name or IP address' })
      .default('0.0.0.0'),
    // Defaults to 8023, or 8022 for ssh (see toServerConfig).
    port: wholeNumber(0, 65535).optional(),
    transport: z.enum(TRANSPORTS, { error: `one of ${TRANSPORTS.join(', ')}` }).default('telnet'),
    handler_class: z
      .string({ error: HANDLER_REFERENCE })
      .regex(/^[^:]+:[A-Za-z_$][\w$]*$/, { error: HANDLER_REFERENCE })
      .optional(),
    max_connections: wholeNumber(1).default(100),
    max_connections_per_ip: wholeNumber(0).default(0),
    connection_timeout: seconds().default(300),
    max_session_time: seconds().default(0),
    resume_grace: seconds().default(0),
    welcome_message: optionalText('text (or null for none)'),
    ws_path: urlPath().optional(),
    allow_origins: z
      .array(z.string({ error: ORIGIN }).min(1, { error: ORIGIN }), { error: 'a list of origins (strings)' })
      .default(['*']),
    require_origin: flag().default(false),
    use_ssl: flag().default(false),
    ssl_cert: optionalText('the path of a PEM certificate file'),
    ssl_key: optionalText('the path of a PEM private key file'),
    ping_interval: seconds().default(30),
    // Defaults to 10 s, or ping_interval when that is shorter (see toServerConfig).
    ping_timeout: z
      .number({ error: 'a number of seconds greater than 0' })
      .positive({ error: 'a number of seconds greater than 0' })
      .optional(),
    enable_monitoring: flag().default(false),
    monitor_path: urlPath().default('/monitor'),
    monitor_token: tokens(),
    monitor_admin_token: tokens(),
    metrics_path: urlPath().optional(),
    max_output_buffer: wholeNumber(64 * 1024).default(1024 * 1024),
    // Defaults to 5 s, or 60 s for ssh, whose login a person types (see toServerConfig).
    handshake_timeout: z
      .number({ error: 'a number of seconds greater than 0' })
      .positive({ error: 'a number of seconds greater than 0' })
      .optional(),
    max_connection_rate_per_ip: wholeNumber(0).default(0),
    allow_ips: addressList(),
    deny_ips: addressList(),
    ban_after: wholeNumber(0).default(0),
    ban_seconds: seconds().default(600),
    max_line_length: wholeNumber(1, 1_000_000).default(4096),
    max_message_size: wholeNumber(1, 64 * 1024 * 1024).default(1024 * 1024),
    web_client: flag().default(false),
    web_title: optionalText('text (or null for the default)'),
    keepalive_interval: seconds().default(0),
    proxy_protocol: flag().default(false),
    trusted_proxies: addressList(),
    ssh_host_key: optionalText('the path of an SSH private host key file (OpenSSH or PEM)'),
    ssh_auth: sshAuth(),
    ssh_authorized_keys: optionalText('the path of an authorized_keys file'),
    ssh_keepalive_interval: seconds().default(0),
    telnet_options: z
      .array(z.string({ error: `a list of ${TELNET_OPTION_NAMES.join(', ')}` }), {
        error: `a list of ${TELNET_OPTION_NAMES.join(', ')}`,
      })
      .default([]),
    mssp: msspSettings(),
    mccp_over_tls: flag().default(false),
  };

  /** Keys of the `hub:` mapping. */
  const hubShape = {
    redis: redisUrl(),
    channel_prefix: z
      .string({ error: 'a non-empty name' })
      .regex(/^[\w.:-]+$/, { error: 'a name of letters, digits and _ . : -' })
      .default('chuk'),
    heartbeat_interval: positiveSeconds().default(1),
    instance_timeout: positiveSeconds().default(5),
    shared_ip_limits: flag().default(true),
  };

  /** Keys of the whole application, beside `servers:` (or beside a single server's keys). */
  const applicationShape = {
    monitor_port: wholeNumber(0, 65535).optional(),
    monitor_host: z
      .string({ error: 'a host name or IP address' })
      .min(1, { error: 'a host name or IP address' })
      .default('127.0.0.1'),
    monitor_path: urlPath().default('/monitor'),
    monitor_token: tokens(),
    monitor_admin_token: tokens(),
    monitor_notice: flag().default(false),
    metrics_path: urlPath().optional(),
    record_sessions: optionalText('the path of a folder for recordings'),
    record_input: flag().default(false),
    record_format: z.enum(['v2', 'v3'], { error: 'v2 or v3 (the asciicast version)' }).default('v2'),
    record_max_bytes: wholeNumber(1024).default(10 * 1024 * 1024),
    record_keep: wholeNumber(1).default(1000),
    hub: z
      .strictObject(hubShape, { error: 'a mapping of hub settings (redis: "redis://host:port")' })
      .refine((hub) => hub.instance_timeout >= 2 * hub.heartbeat_interval, {
        error:
          'an instance_timeout of at least twice the heartbeat_interval, so that one late heartbeat is not a death',
        path: ['instance_timeout'],
      })
      .optional(),
    workers: wholeNumber(1, MAX_WORKERS).default(1),
  };

  const server = z.strictObject(serverShape, { error: 'a mapping of server settings' });
  const multi = z.strictObject({
    ...applicationShape,
    servers: z
      .record(z.string(), server, { error: 'a mapping of server names to their settings' })
      .refine((servers) => Object.keys(servers).length > 0, { error: 'at least one server' }),
  });
  const single = z.strictObject({ ...applicationShape, ...serverShape }, { error: 'a mapping of settings' });
  return {
    server,
    application: z.strictObject(applicationShape, { error: 'a mapping of settings' }),
    multi,
    single,
    input: z.union([multi, single]),
    keys: { server: Object.keys(serverShape), application: Object.keys(applicationShape), hub: Object.keys(hubShape) },
  };
}

/** Every key a server section accepts, every key of the application (beside `servers:`), every key of `hub:`. */
export function configKeys(): Readonly<Record<'server' | 'application' | 'hub', readonly string[]>> {
  return schemas().keys;
}

/** What a config file may hold, as written: for the JSON Schema that editors use. */
export function configInputSchema(): Schemas['input'] {
  return schemas().input;
}

/** Options of parseConfig. */
export interface ParseConfigOptions {
  /** Whether every server must name its handler_class; false where code supplies the class. Default true. */
  requireHandlerClass?: boolean;
}

/** Validates a parsed YAML document and applies defaults; throws ConfigError naming the key. */
export function parseConfig(raw: unknown, baseDir: string, options: ParseConfigOptions = {}): Config {
  const requireHandlerClass = options.requireHandlerClass ?? true;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`config must be a mapping of settings, got ${describe(raw)}`);
  }
  if ('servers' in raw) {
    const parsed = schemas().multi.safeParse(raw, { reportInput: true });
    if (!parsed.success) throw toConfigError(parsed.error, raw);
    const givenServers = (raw as { servers: Record<string, object> }).servers;
    const servers = Object.entries(parsed.data.servers).map(([name, section]) =>
      toServerConfig(name, section, Object.keys(givenServers[name]!), baseDir, `servers.${name}.`, requireHandlerClass),
    );
    return { servers: checkDistinctPorts(servers), application: toApplicationConfig(parsed.data, baseDir) };
  }
  const parsed = schemas().single.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw toConfigError(parsed.error, raw);
  // One mapping holds both: the shared keys (monitor_path, tokens, metrics_path) apply to both.
  const { server: serverSchema, application: applicationSchema, keys } = schemas();
  const server = serverSchema.parse(pick(parsed.data, keys.server));
  const application = applicationSchema.parse(pick(parsed.data, keys.application));
  return {
    servers: [toServerConfig(server.transport, server, serverOnlyKeys(raw), baseDir, '', requireHandlerClass)],
    application: toApplicationConfig(application, baseDir),
  };
}

function toApplicationConfig(section: z.infer<Schemas['application']>, baseDir: string): ApplicationConfig {
  return {
    monitorPort: section.monitor_port,
    monitorHost: section.monitor_host,
    monitorPath: section.monitor_path,
    monitorToken: section.monitor_token,
    monitorAdminToken: section.monitor_admin_token,
    monitorNotice: section.monitor_notice,
    metricsPath: section.metrics_path,
    recordSessions: section.record_sessions,
    recordInput: section.record_input,
    recordFormat: section.record_format,
    recordMaxBytes: section.record_max_bytes,
    recordKeep: section.record_keep,
    hub:
      section.hub === undefined
        ? undefined
        : {
            redis: section.hub.redis,
            channelPrefix: section.hub.channel_prefix,
            heartbeatIntervalMs: section.hub.heartbeat_interval * 1000,
            instanceTimeoutMs: section.hub.instance_timeout * 1000,
            sharedIpLimits: section.hub.shared_ip_limits,
          },
    workers: section.workers,
    baseDir,
  };
}

function pick(data: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => data[key] !== undefined).map((key) => [key, data[key]]));
}

function toServerConfig(
  name: string,
  section: z.infer<Schemas['server']>,
  givenKeys: readonly string[],
  baseDir: string,
  at: string,
  requireHandlerClass: boolean,
): ServerConfig {
  if (requireHandlerClass && section.handler_class === undefined) {
    throw new ConfigError(`${at}handler_class: missing, expected ${HANDLER_REFERENCE}`);
  }
  if (section.use_ssl && (section.ssl_cert == null || section.ssl_key == null)) {
    throw new ConfigError(`${at}use_ssl: true needs both ssl_cert and ssl_key`);
  }
  if (section.ping_timeout !== undefined && section.ping_interval > 0 && section.ping_timeout > section.ping_interval) {
    // A timeout longer than the interval can never fire before the next ping is due.
    throw new ConfigError(
      `${at}ping_timeout: ${section.ping_timeout} must not exceed ping_interval (${section.ping_interval})`,
    );
  }
  if (section.proxy_protocol && section.trusted_proxies.length === 0) {
    // Believing a PROXY header from anyone would let every client choose its own address.
    throw new ConfigError(
      `${at}proxy_protocol: true needs trusted_proxies, the addresses of the proxies that send the header (e.g. ["127.0.0.1"])`,
    );
  }
  if (section.transport === 'ssh' && section.use_ssl) {
    throw new ConfigError(`${at}use_ssl: not for ssh servers, which are always encrypted (ssh_host_key is their key)`);
  }
  if (section.ssh_auth.includes('none') && section.ssh_auth.length > 1) {
    throw new ConfigError(
      `${at}ssh_auth: none lets everyone in, so it cannot be combined with ${section.ssh_auth.filter((method) => method !== 'none').join(' or ')}`,
    );
  }
  const telnetOptions = checkTelnetOptions(section, at);
  const pingTimeout =
    section.ping_timeout ??
    (section.ping_interval > 0 ? Math.min(DEFAULT_PING_TIMEOUT, section.ping_interval) : DEFAULT_PING_TIMEOUT);
  return {
    name,
    host: section.host,
    port: section.port ?? (section.transport === 'ssh' ? 8022 : 8023),
    transport: section.transport,
    handlerClass: section.handler_class,
    maxConnections: section.max_connections,
    maxConnectionsPerIp: section.max_connections_per_ip,
    connectionTimeout: section.connection_timeout,
    maxSessionTime: section.max_session_time,
    resumeGrace: section.resume_grace,
    welcomeMessage: section.welcome_message,
    wsPath: section.ws_path ?? (section.transport === 'ws_telnet' ? '/ws_telnet' : '/ws'),
    allowOrigins: section.allow_origins,
    requireOrigin: section.require_origin,
    useSsl: section.use_ssl,
    sslCert: section.ssl_cert,
    sslKey: section.ssl_key,
    pingInterval: section.ping_interval,
    pingTimeout,
    enableMonitoring: section.enable_monitoring,
    monitorPath: section.monitor_path,
    monitorToken: section.monitor_token,
    monitorAdminToken: section.monitor_admin_token,
    metricsPath: section.metrics_path,
    maxOutputBuffer: section.max_output_buffer,
    handshakeTimeout: section.handshake_timeout ?? (section.transport === 'ssh' ? 60 : 5),
    maxConnectionRatePerIp: section.max_connection_rate_per_ip,
    allowIps: section.allow_ips,
    denyIps: section.deny_ips,
    banAfter: section.ban_after,
    banSeconds: section.ban_seconds,
    maxLineLength: section.max_line_length,
    maxMessageSize: section.max_message_size,
    webClient: section.web_client,
    webTitle: section.web_title,
    keepaliveInterval: section.keepalive_interval,
    proxyProtocol: section.proxy_protocol,
    trustedProxies: section.trusted_proxies,
    sshHostKey: section.ssh_host_key,
    sshAuth: section.ssh_auth,
    sshAuthorizedKeys: section.ssh_authorized_keys,
    sshKeepaliveInterval: section.ssh_keepalive_interval,
    telnetOptions,
    mssp: section.mssp,
    mccpOverTls: section.mccp_over_tls,
    baseDir,
    keyPrefix: at,
    ignoredKeys: ignoredKeys(section.transport, givenKeys),
  };
}

/** The keys of a single-server file that are the server's alone: the shared ones serve monitor_port too. */
function serverOnlyKeys(raw: object): string[] {
  return Object.keys(raw).filter((key) => !schemas().keys.application.includes(key));
}

function ignoredKeys(transport: TransportName, givenKeys: readonly string[]): IgnoredKey[] {
  return givenKeys.flatMap((key) => {
    const usedBy = TRANSPORT_KEYS[key];
    return usedBy === undefined || usedBy.includes(transport) ? [] : [{ key, usedBy }];
  });
}

/** telnet_options as known names, on a transport that speaks telnet; mssp only with mssp listed. */
function checkTelnetOptions(section: z.infer<Schemas['server']>, at: string): TelnetOptionName[] {
  const names: TelnetOptionName[] = [];
  section.telnet_options.forEach((name, i) => {
    if (!(TELNET_OPTION_NAMES as readonly string[]).includes(name)) {
      const suggestion = closest(name, TELNET_OPTION_NAMES);
      throw new ConfigError(
        `${at}telnet_options[${i}]: unknown option ${JSON.stringify(name)}` +
          (suggestion === undefined
            ? `, expected one of ${TELNET_OPTION_NAMES.join(', ')}`
            : ` (did you mean ${suggestion}?)`),
      );
    }
    if (!names.includes(name as TelnetOptionName)) names.push(name as TelnetOptionName);
  });
  if (names.length > 0 && section.transport !== 'telnet' && section.transport !== 'ws_telnet') {
    throw new ConfigError(`${at}telnet_options: only for telnet and ws_telnet servers, not ${section.transport}`);
  }
  if (Object.keys(section.mssp).length > 0 && !names.includes('mssp')) {
    throw new ConfigError(`${at}mssp: its variables are sent only with mssp in telnet_options`);
  }
  return names;
}

function checkDistinctPorts(servers: ServerConfig[]): ServerConfig[] {
  const seen: ServerConfig[] = [];
  for (const server of servers) {
    if (server.port === 0) continue;
    // 0.0.0.0:8023 and 127.0.0.1:8023 cannot both be bound either.
    const other = seen.find(
      (earlier) =>
        earlier.port === server.port &&
        (earlier.host === server.host || WILDCARD_HOSTS.has(earlier.host) || WILDCARD_HOSTS.has(server.host)),
    );
    if (other !== undefined) {
      throw new ConfigError(`servers.${server.name}.port: ${server.port} is already used by servers.${other.name}`);
    }
    seen.push(server);
  }
  return servers;
}

/** A server whose port speaks HTTP: WebSocket upgrades, the browser page, the monitor, metrics. */
export function isWebSocketServer(server: ServerConfig): boolean {
  return server.transport === 'websocket' || server.transport === 'ws_telnet';
}

/** Whether the config asks for the monitor, metrics or recordings anywhere. */
export function wantsObservability(config: Config): boolean {
  const { application } = config;
  return (
    application.monitorPort !== undefined ||
    application.recordSessions !== undefined ||
    config.servers.some(
      (server) => isWebSocketServer(server) && (server.enableMonitoring || server.metricsPath !== undefined),
    )
  );
}

/** The full key path of `key` in `config`'s file, for error messages. */
export function keyPath(config: ServerConfig, key: string): string {
  return `${config.keyPrefix}${key}`;
}

/** The first problem zod found, as one line naming the key path and what it expects. */
function toConfigError(error: z.ZodError, raw: unknown): ConfigError {
  // A misspelt key also makes the intended key look missing: name the misspelling.
  const issue = error.issues.find((candidate) => candidate.code === 'unrecognized_keys') ?? error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const path = issue.path.map(String);
    const key = issue.keys[0]!;
    const where = [...path, key].join('.');
    const isTopLevel = path.length === 0;
    const { keys } = schemas();
    if (!isTopLevel && keys.application.includes(key)) {
      return new ConfigError(
        `${where}: a setting of the whole application, not of one server: write it beside servers:`,
      );
    }
    const known = !isTopLevel
      ? path.at(-1) === 'hub'
        ? keys.hub
        : keys.server
      : 'servers' in (raw as object)
        ? ['servers', ...keys.application]
        : [...keys.server, ...keys.application, 'servers'];
    const suggestion = closest(key, known);
    return new ConfigError(`${where}: unknown key${suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`}`);
  }
  // Every schema above gives its issues the words of what it expects, whatever the issue kind.
  const where = formatPath(issue.path) || '(top level)';
  const input = valueAt(raw, issue.path);
  if (input === undefined) return new ConfigError(`${where}: missing, expected ${issue.message}`);
  return new ConfigError(`${where}: expected ${issue.message}, got ${describe(input)}`);
}

/** "servers.web.allow_origins[1]" from zod's ["servers", "web", "allow_origins", 1]. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** A value as the user wrote it in YAML. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  // JSON would turn YAML's .inf and .nan into null.
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list ${JSON.stringify(value)}`;
  if (value !== null && typeof value === 'object') {
    return Object.keys(value).length === 0 ? 'an empty mapping' : `a mapping ${JSON.stringify(value)}`;
  }
  return JSON.stringify(value) ?? String(value);
}

/** The known key nearest to `key` by edit distance, if it is near enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function wholeNumber(min: number, max?: number): z.ZodNumber {
  const z = zod();
  const error = max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  const schema = z.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? schema : schema.max(max, { error });
}

function seconds(): z.ZodNumber {
  const z = zod();
  const error = 'a number of seconds (0 or more)';
  return z.number({ error }).min(0, { error });
}

function positiveSeconds(): z.ZodNumber {
  const z = zod();
  const error = 'a number of seconds greater than 0';
  return z.number({ error }).positive({ error });
}

/** A Redis URL: redis://[user:password@]host[:port][/db], or rediss:// for TLS. */
function redisUrl(): z.ZodString {
  const z = zod();
  const error = 'a Redis URL such as "redis://127.0.0.1:6379" or "rediss://user:password@host:6380/0"';
  return z.string({ error }).refine(
    (text) => {
      if (!URL.canParse(text)) return false;
      const url = new URL(text);
      return (
        (url.protocol === 'redis:' || url.protocol === 'rediss:') &&
        url.hostname !== '' &&
        /^(\/\d*)?$/.test(url.pathname)
      );
    },
    { error },
  );
}

function flag(): z.ZodBoolean {
  const z = zod();
  return z.boolean({ error: 'true or false' });
}

function urlPath(): z.ZodString {
  const z = zod();
  const error = 'a path starting with "/"';
  return z.string({ error }).startsWith('/', { error });
}

/** A list of IP addresses and CIDR ranges, IPv4 or IPv6 ("10.0.0.0/8", "2001:db8::/32", "::1"). */
function addressList() {
  const z = zod();
  const error = 'a list of IP addresses or CIDR ranges such as "10.0.0.0/8" or "2001:db8::/32"';
  return z.array(z.string({ error }).refine(isAddressRange, { error }), { error }).default([]);
}

/** Whether `text` is an IP address, or one with a prefix length that fits its family. */
export function isAddressRange(text: string): boolean {
  const [address = '', prefix, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** One SSH login method or a list of them, always kept as a list without repeats. */
function sshAuth() {
  const z = zod();
  const error = `${SSH_AUTH_METHODS.join(', ')}, or a list of them`;
  const method = z.enum(SSH_AUTH_METHODS, { error });
  return z
    .union([method, z.array(method, { error }).min(1, { error })], { error })
    .default('none')
    .transform((value): SshAuthMethod[] => (typeof value === 'string' ? [value] : [...new Set(value)]));
}

/** MSSP variables: names in capitals by convention, each a value or a list of values (no MSSP marker bytes). */
function msspSettings() {
  const z = zod();
  const error = 'a mapping of MSSP variable names to text, numbers, true/false or lists of them, e.g. { NAME: My MUD }';
  const text = (value: string): boolean => !/[\x00-\x02]/.test(value);
  const scalar = z.union([z.string({ error }).refine(text, { error }), z.number({ error }).finite({ error }), flag()], {
    error,
  });
  const item = z.union([z.string({ error }).refine(text, { error }), z.number({ error }).finite({ error })], { error });
  return z
    .record(
      z.string({ error }).min(1, { error }).refine(text, { error }),
      z.union([scalar, z.array(item, { error })], { error }),
      {
        error,
      },
    )
    .default({});
}

/** A token or a list of tokens, always kept as a list; none = an empty list. */
function tokens() {
  const z = zod();
  const error = 'a token (a string of 16 or more characters) or a list of them';
  const token = z.string({ error }).min(16, { error });
  return z
    .union([token, z.array(token, { error })], { error })
    .optional()
    .transform((value) => (value === undefined ? [] : typeof value === 'string' ? [value] : value));
}

/** Optional text in which "" and null mean "not set", as the original package's samples write it. */
function optionalText(expected: string) {
  const z = zod();
  return z
    .string({ error: expected })
    .nullable()
    .optional()
    .transform((value) => (value === '' || value === null ? undefined : value));
}

/**
 * zod, loaded by the first parse rather than with this module, so that a process that parses no
 * config pays nothing for it: a handler importing the package, or a launcher, whose config is
 * parsed in a worker thread.
 */
function zod(): typeof z {
  return (createRequire(import.meta.url)('zod') as { z: typeof z }).z;
}
