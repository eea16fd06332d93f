// ProtocolServer: one configured server — listener, sessions, limits and graceful shutdown.
import { pino } from 'pino';
import type { Logger } from 'pino';

import { ChurnSet } from '../churn-map.js';
import { keyPath } from '../config/schema.js';
import type { ServerConfig, TransportName } from '../config/schema.js';
import { InProcessHub } from '../hub/hub.js';
import type { SessionHub } from '../hub/hub.js';
import type { HandlerClass, ServerContext, SessionHandle } from '../session/handle.js';
import { ResumeTokens } from '../session/resume-tokens.js';
import { Session, sessionControl } from '../session/session.js';
import type { SessionOptions } from '../session/session.js';
import type { Connection, Listener, Refusal } from '../transports/connection.js';
import { browsableHost } from '../transports/http.js';
import type { RequestRoute, UpgradeRoute } from '../transports/http.js';
import { AddressGuard } from './address-guard.js';
import type { AddressPolicy } from './address-guard.js';
import { ENDPOINTS, loadTls } from './endpoints.js';

/** A snapshot of a server's state, for logs and status pages. */
export interface ServerInfo {
  name: string;
  transport: TransportName;
  host: string;
  port: number | undefined;
  url: string | undefined;
  connections: number;
  maxConnections: number;
  connectionTimeout: number;
  isRunning: boolean;
}

/** Options that are not part of the YAML config. */
export interface ProtocolServerOptions {
  logger?: Logger;
  /** The application this server belongs to; a server on its own gets a hub of its own. */
  hub?: SessionHub;
  /** Further HTTP routes for a WebSocket server's port (the monitor, metrics, health). */
  routes?: readonly RequestRoute[];
  upgrades?: readonly UpgradeRoute[];
  /** The application's address limits (lists, rate, bans); a server on its own gets a guard of its own. */
  guard?: AddressGuard;
}

/** After the grace period, how long handlers' onDisconnect may still take before stop() returns. */
const ON_DISCONNECT_WAIT_MS = 1000;

export const CAPACITY_MESSAGE = 'Server is at maximum capacity. Please try again later.';
export const SHUTDOWN_MESSAGE = 'Server is shutting down';
const TOO_MANY_FROM_ADDRESS = 'Too many connections from your address. Please try again later.';
/** Refusals by the address guard, which a flood repeats per connection. */
const ADDRESS_REFUSALS: ReadonlySet<Refusal['reason']> = new Set(['denied', 'rate', 'banned']);

/** Serves one handler class on one configured transport. */
export class ProtocolServer implements ServerContext {
  readonly config: ServerConfig;
  readonly handlerClass: HandlerClass;
  readonly logger: Logger;
  readonly hub: SessionHub;
  #routes: readonly RequestRoute[];
  #upgrades: readonly UpgradeRoute[];
  /** Set when this server made the guard itself, and so stops it. */
  #ownGuard: AddressGuard | undefined;
  #addresses: AddressPolicy;
  #sessions = new ChurnSet<Session>((session) => session.id);
  /** Bound to this server: a token from another server, or another process, resumes nothing. */
  #resumeTokens = new ResumeTokens<Session>();
  #listener: Listener | undefined;
  #isStopping = false;
  #stopped: Promise<void> | undefined;
  /** When start() was called: MSSP's UPTIME. */
  #startedAt = Date.now();
  /** What every session of this server is given but its connection: shared, not made per session. */
  #sessionOptions: SessionOptions;

  constructor(config: ServerConfig, handlerClass: HandlerClass, options: ProtocolServerOptions = {}) {
    this.config = config;
    this.handlerClass = handlerClass;
    const logger = options.logger ?? pino({ level: 'warn' });
    this.logger = logger.child({ component: 'server', server: config.name });
    this.hub = options.hub ?? new InProcessHub({ logger: this.logger });
    this.#routes = options.routes ?? [];
    this.#upgrades = options.upgrades ?? [];
    const guard = options.guard ?? new AddressGuard({ logger: logger.child({ component: 'guard' }) });
    this.#ownGuard = options.guard === undefined ? guard : undefined;
    this.#addresses = guard.policy(config);
    const endpoint = ENDPOINTS[config.transport];
    this.#sessionOptions = {
      createLayer: (client, events, sessionLogger) =>
        endpoint.createLayer(client, {
          config,
          preferredMode: handlerClass.inputMode,
          logger: sessionLogger,
          events,
          app: this.hub,
          startedAt: this.#startedAt,
        }),
      handlerClass,
      server: this,
      app: this.hub,
      logger: this.logger,
      limits: {
        idleTimeout: config.connectionTimeout,
        maxSessionTime: config.maxSessionTime,
        maxLineLength: config.maxLineLength,
        resumeGrace: config.resumeGrace,
      },
      resumeTokens: this.#resumeTokens,
      ended: (session) => this.#sessions.delete(session),
    };
  }

  get name(): string {
    return this.config.name;
  }

  get transport(): TransportName {
    return this.config.transport;
  }

  get welcomeMessage(): string | undefined {
    return this.config.welcomeMessage;
  }

  get sessions(): ReadonlySet<SessionHandle> {
    return this.#sessions;
  }

  /** The bound address, once started. */
  get address(): { host: string; port: number } | undefined {
    return this.#listener?.address;
  }

  /** The URL clients use, e.g. telnet://0.0.0.0:8023 or ws://0.0.0.0:8025/ws. */
  get url(): string | undefined {
    const address = this.address;
    return address === undefined ? undefined : ENDPOINTS[this.config.transport].url(this.config, address);
  }

  /** The browser terminal's address, for a WebSocket server with web_client; a wildcard bind is shown as loopback. */
  get pageUrl(): string | undefined {
    const address = this.address;
    if (address === undefined || !this.config.webClient || !ENDPOINTS[this.config.transport].speaksHttp)
      return undefined;
    return `${this.config.useSsl ? 'https' : 'http'}://${browsableHost(address.host)}:${address.port}/`;
  }

  /** Starts listening; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.#listener) return this.#listener.address;
    this.#startedAt = Date.now();
    const endpoint = ENDPOINTS[this.config.transport];
    this.#listener = await endpoint.listen({
      config: this.config,
      handlerClass: this.handlerClass,
      routes: this.#routes,
      upgrades: this.#upgrades,
      logger: this.logger.child({ component: 'transport' }),
      admission: {
        // Every transport screens first: a denied or banned address costs no handshake or session work.
        screen: (address) => this.#addresses.screen(address),
        check: (address, resumeToken) => this.#admit(address, resumeToken),
        refused: (address, refusal) => this.#refused(address, refusal),
      },
      onConnection: (connection) => this.#accept(connection),
    });
    for (const { key, usedBy } of this.config.ignoredKeys)
      this.logger.warn(ignoredKeyWarning(this.config, key, usedBy));
    this.logger.info({ url: this.url }, 'listening');
    return this.#listener.address;
  }

  /**
   * Reads the certificate and key again and serves new connections with them; sessions already
   * open keep theirs. A new pair that cannot be read or used keeps the old one, and says why.
   * Resolves to whether the new pair is in use.
   */
  async reloadTls(): Promise<boolean> {
    const listener = this.#listener;
    if (!this.config.useSsl || listener?.setTls === undefined) return false;
    try {
      const pem = await loadTls(this.config);
      listener.setTls(pem!);
    } catch (err) {
      this.logger.error({ err }, `TLS certificate not reloaded, the old one stays: ${(err as Error).message}`);
      return false;
    }
    this.logger.info('TLS certificate reloaded');
    return true;
  }

  /** Sends a line to every session of the application (every server of the launch). */
  async sendGlobalMessage(text: string): Promise<void> {
    await this.hub.broadcast(text);
  }

  /**
   * Stops accepting, tells every client the server is shutting down and closes its session;
   * sessions not closed within `graceMs` are dropped. Idempotent.
   */
  stop(graceMs = 5000): Promise<void> {
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  info(): ServerInfo {
    return {
      name: this.config.name,
      transport: this.config.transport,
      host: this.config.host,
      port: this.address?.port,
      url: this.url,
      connections: this.#sessions.size,
      maxConnections: this.config.maxConnections,
      connectionTimeout: this.config.connectionTimeout,
      isRunning: this.#listener !== undefined && !this.#isStopping,
    };
  }

  async #stop(graceMs: number): Promise<void> {
    this.#isStopping = true;
    const listenerClosed = this.#listener?.close();
    const sessions = [...this.#sessions];
    for (const session of sessions) void sessionControl.closeFor(session, 'server-shutdown', SHUTDOWN_MESSAGE);
    const allClosed = Promise.all(sessions.map((session) => session.closed));
    if (!(await settlesWithin(allClosed, graceMs))) {
      for (const session of this.#sessions) sessionControl.destroy(session);
      // The sockets are gone; a handler stuck in onDisconnect must not hold the process.
      if (!(await settlesWithin(allClosed, ON_DISCONNECT_WAIT_MS))) {
        this.logger.warn({ sessions: this.#sessions.size }, 'onDisconnect still running at shutdown');
      }
    }
    await listenerClosed;
    this.#ownGuard?.stop();
    this.logger.info('stopped');
  }

  #admit(address: string, resumeToken: string | undefined): Refusal | undefined {
    if (this.#isStopping) return { reason: 'shutdown', message: SHUTDOWN_MESSAGE };
    // The session it takes back is counted already, as is its address.
    if (resumeToken !== undefined && this.#resumeTokens.has(resumeToken)) return undefined;
    if (this.#sessions.size >= this.config.maxConnections) return { reason: 'capacity', message: CAPACITY_MESSAGE };
    const perAddress = this.config.maxConnectionsPerIp;
    // Counted across the application: a second transport is no way around the limit.
    if (perAddress > 0 && this.hub.connectionsFrom(address) >= perAddress) {
      // Holding connections open to the limit and knocking for more counts towards a ban.
      this.#addresses.strike(address);
      return { reason: 'per-ip', message: TOO_MANY_FROM_ADDRESS };
    }
    return undefined;
  }

  #refused(address: string, refusal: Refusal): void {
    // A flood from a denied, banned or rate-limited address must not become a flood of log lines:
    // the event stream and the metrics count them, and a ban is logged once.
    const level = ADDRESS_REFUSALS.has(refusal.reason) ? 'debug' : 'warn';
    this.logger[level]({ address, reason: refusal.reason }, `connection refused: ${refusal.message}`);
    if (this.hub.events.has('refused')) {
      this.hub.events.publish('refused', {
        server: this.config.name,
        transport: this.config.transport,
        remoteAddress: address,
        reason: refusal.reason,
      });
    }
  }

  #accept(connection: Connection): void {
    const token = connection.resumeToken;
    const resumed = token === undefined ? undefined : this.#resumeTokens.take(token);
    if (resumed !== undefined) {
      sessionControl.resume(resumed, connection);
      return;
    }
    // A token unknown, used or expired gets a new session, as if none had been given.
    let session: Session;
    try {
      session = new Session(connection, this.#sessionOptions);
    } catch (err) {
      this.logger.error({ err }, 'handler constructor failed');
      connection.destroy();
      return;
    }
    this.#sessions.add(session);
    // Started at once (its welcome and prompt written, nothing awaited), the session's output
    // leaves now, as a hand-written server writes its welcome on accept, rather than once every
    // connection accepted in this turn has started: a write in the accept's own turn costs the
    // kernel less (connects measured about 5% faster so on a bare node:net server).
    if (sessionControl.start(session) === undefined) connection.endTurn?.();
  }
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why a key in the file does nothing here, and what would make it work. */
function ignoredKeyWarning(config: ServerConfig, key: string, usedBy: readonly TransportName[]): string {
  // Only a port that speaks HTTP can serve the monitor, but the application can have a port of its own.
  const remedy = MONITOR_KEYS.has(key) ? '; set monitor_port to serve the monitor on a port of its own' : '';
  return `${keyPath(config, key)}: ignored on a ${config.transport} server, only ${usedBy.join(' and ')} servers use it${remedy}`;
}

const MONITOR_KEYS = new Set(['enable_monitoring', 'monitor_path', 'metrics_path']);
