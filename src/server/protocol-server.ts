// ProtocolServer: one configured server — listener, sessions, limits and graceful shutdown.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { pino } from 'pino';
import type { Logger } from 'pino';

import { keyPath } from '../config/schema.js';
import type { ServerConfig } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import { Session } from '../session/session.js';
import type { HandlerClass, ServerContext, SessionObserver } from '../session/session.js';
import type { Connection, Listener } from '../transports/connection.js';
import { ENDPOINTS } from './endpoints.js';
import type { Endpoint } from './endpoints.js';

/** A snapshot of a server's state, for logs and status pages. */
export interface ServerInfo {
  name: string;
  transport: string;
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
  /** Receives every session's input and output (the session monitor). */
  observer?: SessionObserver;
}

/** After the grace period, how long handlers' onDisconnect may still take before stop() returns. */
const ON_DISCONNECT_WAIT_MS = 1000;

export const CAPACITY_MESSAGE = 'Server is at maximum capacity. Please try again later.';
export const SHUTDOWN_MESSAGE = 'Server is shutting down';
const TOO_MANY_FROM_ADDRESS = 'Too many connections from your address. Please try again later.';

/** Serves one handler class on one configured transport. */
export class ProtocolServer implements ServerContext {
  readonly config: ServerConfig;
  readonly handlerClass: HandlerClass;
  readonly logger: Logger;
  #observer: SessionObserver | undefined;
  #sessions = new Set<Session>();
  #connectionsByAddress = new Map<string, number>();
  #listener: Listener | undefined;
  #isStopping = false;
  #stopped: Promise<void> | undefined;

  constructor(config: ServerConfig, handlerClass: HandlerClass, options: ProtocolServerOptions = {}) {
    this.config = config;
    this.handlerClass = handlerClass;
    this.logger = (options.logger ?? pino({ level: 'warn' })).child({ server: config.name });
    this.#observer = options.observer;
  }

  get name(): string {
    return this.config.name;
  }

  get transport(): string {
    return this.config.transport;
  }

  get welcomeMessage(): string | undefined {
    return this.config.welcomeMessage;
  }

  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  /** The bound address, once started. */
  get address(): { host: string; port: number } | undefined {
    return this.#listener?.address;
  }

  /** The URL clients use, e.g. telnet://0.0.0.0:8023 or ws://0.0.0.0:8025/ws. */
  get url(): string | undefined {
    const address = this.address;
    if (address === undefined) return undefined;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    const { transport, useSsl, wsPath } = this.config;
    if (transport === 'websocket' || transport === 'ws_telnet') {
      return `${useSsl ? 'wss' : 'ws'}://${host}:${address.port}${wsPath}`;
    }
    return `${transport === 'telnet' ? 'telnet' : 'tcp'}://${host}:${address.port}`;
  }

  /** Starts listening; resolves with the bound address. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.#listener) return this.#listener.address;
    const endpoint = ENDPOINTS[this.config.transport];
    if (endpoint === undefined) {
      throw new ServerStartError(
        `${keyPath(this.config, 'transport')}: "${this.config.transport}" is not available in this version`,
      );
    }
    const tls = this.config.useSsl ? await this.#loadTls() : undefined;
    this.#listener = await endpoint.listen({
      config: this.config,
      tls,
      logger: this.logger,
      admission: { check: (address) => this.#admit(address) },
      onConnection: (connection) => this.#accept(connection, endpoint),
    });
    if (this.config.enableMonitoring) {
      // Said out loud rather than ignored: a config written for the original package may ask for it.
      this.logger.warn(
        `${keyPath(this.config, 'enable_monitoring')}: session monitoring is not available in this version`,
      );
    }
    this.logger.info({ url: this.url }, 'listening');
    return this.#listener.address;
  }

  /** Sends a line to every session. */
  async sendGlobalMessage(text: string): Promise<void> {
    await Promise.all([...this.#sessions].map((session) => session.write(`${text}\n`)));
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
    for (const session of sessions) void session.close(SHUTDOWN_MESSAGE);
    const allClosed = Promise.all(sessions.map((session) => session.closed));
    if (!(await settlesWithin(allClosed, graceMs))) {
      for (const session of this.#sessions) session.destroy();
      // The sockets are gone; a handler stuck in onDisconnect must not hold the process.
      if (!(await settlesWithin(allClosed, ON_DISCONNECT_WAIT_MS))) {
        this.logger.warn({ sessions: this.#sessions.size }, 'onDisconnect still running at shutdown');
      }
    }
    await listenerClosed;
    this.logger.info('stopped');
  }

  #admit(address: string): string | undefined {
    if (this.#isStopping) return SHUTDOWN_MESSAGE;
    if (this.#sessions.size >= this.config.maxConnections) {
      this.logger.warn({ address }, 'connection refused: at maximum capacity');
      return CAPACITY_MESSAGE;
    }
    const perAddress = this.config.maxConnectionsPerIp;
    if (perAddress > 0 && (this.#connectionsByAddress.get(address) ?? 0) >= perAddress) {
      this.logger.warn({ address }, 'connection refused: too many from this address');
      return TOO_MANY_FROM_ADDRESS;
    }
    return undefined;
  }

  #accept(connection: Connection, endpoint: Endpoint): void {
    const address = connection.remoteAddress;
    this.#connectionsByAddress.set(address, (this.#connectionsByAddress.get(address) ?? 0) + 1);
    let session: Session | undefined;
    const layer = endpoint.createLayer(connection, {
      config: this.config,
      preferredMode: this.handlerClass.inputMode,
      logger: this.logger,
      events: {
        changed: (what) => session?.layerChanged(what),
      },
    });
    try {
      session = new Session({
        connection,
        layer,
        handlerClass: this.handlerClass,
        server: this,
        logger: this.logger,
        observer: this.#observer,
        limits: { idleTimeout: this.config.connectionTimeout, maxLineLength: this.config.maxLineLength },
      });
    } catch (err) {
      this.logger.error({ err }, 'handler constructor failed');
      connection.destroy();
      this.#release(address);
      return;
    }
    const started = session;
    this.#sessions.add(started);
    this.logger.debug({ session: started.id, address }, 'session started');
    void started.closed.then(() => {
      this.#sessions.delete(started);
      this.#release(address);
      this.logger.debug({ session: started.id }, 'session ended');
    });
    void started.start();
  }

  #release(address: string): void {
    const count = (this.#connectionsByAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.#connectionsByAddress.delete(address);
    else this.#connectionsByAddress.set(address, count);
  }

  async #loadTls(): Promise<{ cert: Buffer; key: Buffer }> {
    const read = async (key: 'ssl_cert' | 'ssl_key', file: string | undefined): Promise<Buffer> => {
      const at = keyPath(this.config, key);
      if (file === undefined) throw new ServerStartError(`${at}: required when use_ssl is true`);
      try {
        return await readFile(resolve(this.config.baseDir, file));
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
        throw new ServerStartError(`${at}: cannot read ${file}: ${reason}`);
      }
    };
    return { cert: await read('ssl_cert', this.config.sslCert), key: await read('ssl_key', this.config.sslKey) };
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
