// Test servers: a handler class or a config file served on 127.0.0.1 and free ports, with clients, stopped by one call.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';
import type { LevelWithSilent, Logger } from 'pino';

import { loadConfig } from '../config/load.js';
import { TRANSPORTS } from '../config/schema.js';
import type { ServerSettings, TransportName } from '../config/schema.js';
import { launchServers } from '../server/launcher.js';
import type { Launch } from '../server/launcher.js';
import type { ProtocolServer } from '../server/protocol-server.js';
import { serve } from '../server/serve.js';
import type { HandlerClass } from '../session/handle.js';
import { newHostKeyPair } from '../transports/ssh-keys.js';
import { connectClient } from './connect-client.js';
import type { ConnectOptions, TestClient } from './test-client.js';

/** Logging of a test server: silent unless asked. */
export interface TestLogOptions {
  /** Logs at this level on stderr ('error' shows what handlers threw); default 'silent'. */
  logLevel?: LevelWithSilent;
  /** A pino logger of your own instead. */
  logger?: Logger;
}

/** What startTestServer() serves. */
export interface StartTestServerOptions extends TestLogOptions {
  /** One transport, a list, or (the default) all five: telnet, tcp, websocket, ws_telnet and ssh. */
  transport?: TransportName | readonly TransportName[];
  /** Settings for every server, as a config file writes them: welcome_message, max_connections... */
  settings?: ServerSettings;
}

/** Options of startTestConfig(). */
export interface StartTestConfigOptions extends TestLogOptions {
  /** Serve this class on every server instead of each server's handler_class. */
  handlerClass?: HandlerClass;
}

/** Running test servers, one application, and the clients connected through them. */
export interface TestServer {
  /** The launch: its servers, and `app` (sessions, broadcast, the event stream). */
  readonly launch: Launch;
  /** The port of each server, by name (startTestServer names them after their transport). */
  readonly ports: Readonly<Record<string, number>>;
  /**
   * Connects a client to the server called `name` (or to the one server of that transport),
   * on its path and with TLS if it uses it; stop() closes it.
   */
  connect(name: string, options?: ConnectOptions): Promise<TestClient>;
  /** Drops every client connected through connect(), then stops every server; idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Grace a stopping test server gives sessions that are still open. */
const STOP_GRACE_MS = 100;

/**
 * Serves `handlerClass` on 127.0.0.1 and a free port per transport, all five unless
 * `options.transport` names some; the servers are one application. An ssh server without
 * ssh_host_key gets a throwaway host key, so that tests leave no key behind.
 */
export async function startTestServer(
  handlerClass: HandlerClass,
  options: StartTestServerOptions = {},
): Promise<TestServer> {
  const { transport } = options;
  const transports = transport === undefined ? TRANSPORTS : typeof transport === 'string' ? [transport] : transport;
  const settings = options.settings ?? {};
  const server = (transport: TransportName): ServerSettings => ({
    transport,
    host: '127.0.0.1',
    port: 0,
    ...(transport === 'ssh' ? { ssh_host_key: throwawayHostKey() } : {}),
    ...settings,
  });
  // A single server keeps the single-server form: its keys (and their errors) stand at the top level.
  const config =
    transports.length === 1
      ? server(transports[0]!)
      : { servers: Object.fromEntries(transports.map((transport) => [transport, server(transport)])) };
  return new RunningTestServer(await serve(handlerClass, config, { logger: loggerFor(options) }));
}

/**
 * Starts every server of a config file as the launcher does, handler_class and all, but on
 * 127.0.0.1 and free ports (the monitor's port too), so tests never clash with a running copy;
 * an ssh server without ssh_host_key gets a throwaway host key rather than making one beside the file.
 */
export async function startTestConfig(file: string | URL, options: StartTestConfigOptions = {}): Promise<TestServer> {
  const path = file instanceof URL ? fileURLToPath(file) : resolve(file);
  const config = await loadConfig(path);
  for (const server of config.servers) {
    server.host = '127.0.0.1';
    server.port = 0;
    if (server.transport === 'ssh') server.sshHostKey ??= throwawayHostKey();
  }
  if (config.application.monitorPort !== undefined) {
    config.application.monitorPort = 0;
    config.application.monitorHost = '127.0.0.1';
  }
  const launch = await launchServers(config, { logger: loggerFor(options), handlerClass: options.handlerClass });
  return new RunningTestServer(launch);
}

class RunningTestServer implements TestServer {
  readonly launch: Launch;
  readonly ports: Readonly<Record<string, number>>;
  readonly #clients = new Set<TestClient>();
  #stopping: Promise<void> | undefined;

  constructor(launch: Launch) {
    this.launch = launch;
    this.ports = Object.fromEntries(launch.servers.map((server) => [server.name, server.address!.port]));
  }

  async connect(name: string, options: ConnectOptions = {}): Promise<TestClient> {
    if (this.#stopping !== undefined) throw new Error('connect(): the test server is stopping');
    const server = this.#find(name);
    const client = await connectClient(server.config.transport, server.address!.port, {
      ...options,
      host: options.host ?? connectableHost(server.config.host),
      path: options.path ?? server.config.wsPath,
      tls: options.tls ?? server.config.useSsl,
    });
    this.#clients.add(client);
    void client.closed.then(() => this.#clients.delete(client));
    return client;
  }

  stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.#stopping ??= (async () => {
      for (const client of this.#clients) client.destroy();
      await this.launch.stop(graceMs);
    })();
    return this.#stopping;
  }

  #find(name: string): ProtocolServer {
    const { servers } = this.launch;
    const named = servers.find((server) => server.name === name);
    if (named !== undefined) return named;
    const ofTransport = servers.filter((server) => server.config.transport === name);
    if (ofTransport.length === 1) return ofTransport[0]!;
    const names = servers.map((server) => `${server.name} (${server.config.transport})`).join(', ');
    const why = ofTransport.length > 1 ? `several servers use ${name}; name one` : `no server is called ${name}`;
    throw new Error(`connect(): ${why}: ${names}`);
  }
}

let hostKeyFile: string | undefined;

/** One ed25519 host key per process, in a temporary folder removed when the process exits. */
function throwawayHostKey(): string {
  if (hostKeyFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'chuk-test-ssh-'));
    hostKeyFile = join(dir, 'ssh_host_ed25519_key');
    writeFileSync(hostKeyFile, newHostKeyPair().private, { mode: 0o600 });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return hostKeyFile;
}

function loggerFor(options: TestLogOptions): Logger {
  if (options.logger !== undefined) return options.logger;
  const level = options.logLevel ?? 'silent';
  return level === 'silent' ? pino({ level }) : pino({ level }, pino.destination({ dest: 2, sync: true }));
}

/** A wildcard bind is reached through loopback. */
function connectableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
