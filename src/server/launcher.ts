// The launcher: turns a Config into running servers that share one application, and stops them together.
import { createRequire } from 'node:module';

import { pino } from 'pino';
import type { Logger } from 'pino';

import { wantsObservability } from '../config/schema.js';
import type { Config } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import { InProcessHub } from '../hub/hub.js';
import type { SessionHub } from '../hub/hub.js';
import type { RenderedMetrics } from '../monitor/metrics.js';
import type { Observability } from '../monitor/observability.js';
import type { HandlerClass } from '../session/handle.js';
import { AddressGuard } from './address-guard.js';
import { loadHandlerClass } from './handler-loader.js';
import { ProtocolServer } from './protocol-server.js';

const PACKAGE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Servers started together from one config: one application. */
export interface Launch {
  readonly servers: ProtocolServer[];
  /** The application every server shares: its sessions, broadcast and event stream. */
  readonly app: SessionHub;
  /** The monitor, metrics and recordings, when the config asks for any of them. */
  readonly observability: Observability | undefined;
  /** Stops every server gracefully; idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Reloads every TLS server's certificate and key (SIGHUP); a bad new pair keeps the old one. */
  reloadTls(): Promise<void>;
}

/** Options of a launch that are not part of the config file. */
export interface LaunchOptions {
  logger?: Logger;
  /** The application's hub; by default one in this process. */
  hub?: SessionHub;
  /** Serve this class on every server instead of loading each server's `handler_class`. */
  handlerClass?: HandlerClass;
  /** The token to use where the monitor needs one and none is set, instead of a new one (a cluster's workers share one). */
  monitorToken?: string;
  /** Answers metrics scrapes in place of this process's own metrics (a worker answers with every worker's). */
  renderMetrics?: () => Promise<RenderedMetrics>;
}

/**
 * Loads every handler, then starts every server. If any of them fails, the ones already
 * started are stopped before the error is rethrown, so nothing is left listening.
 */
export async function launchServers(config: Config, options: LaunchOptions = {}): Promise<Launch> {
  const logger = options.logger ?? pino({ level: 'warn' });
  const hub = options.hub ?? (await createHub(config, logger));
  // One for the application: a second transport is no way around a rate limit or a ban.
  const guard = new AddressGuard({ logger: logger.child({ component: 'guard' }) });
  const servers: ProtocolServer[] = [];
  let stopping: Promise<void> | undefined;
  // Loaded only when asked for: the monitor, metrics and recordings cost memory an idle launcher should not pay.
  const observability = wantsObservability(config)
    ? new (await import('../monitor/observability.js')).Observability({
        app: hub,
        config,
        logger,
        version: PACKAGE_VERSION,
        monitorToken: options.monitorToken,
        renderMetrics: options.renderMetrics,
        isReady: () => stopping === undefined && servers.every((server) => server.info().isRunning),
      })
    : undefined;
  for (const serverConfig of config.servers) {
    const handlerClass = options.handlerClass ?? (await loadHandlerClass(serverConfig));
    const routes = observability?.routesFor(serverConfig);
    servers.push(new ProtocolServer(serverConfig, handlerClass, { logger, hub, guard, ...routes }));
  }
  const stop = (graceMs?: number): Promise<void> => {
    stopping ??= (async () => {
      const serversStopped = Promise.all(servers.map((server) => server.stop(graceMs)));
      // Monitor viewers hold their WebSocket port's HTTP server open: they go while sessions end.
      await observability?.monitor?.stop();
      await serversStopped;
      await observability?.stop();
      guard.stop();
      await hub.stop();
    })();
    return stopping;
  };
  try {
    // Observability first, so that it sees every session from the very first one, this process's
    // and, once the hub connects, every other instance's.
    await observability?.start();
    // Connected before the first session, so that the other instances hear of it.
    await hub.start();
    for (const server of servers) await started(server);
  } catch (err) {
    await stop(0);
    throw err;
  }
  const reloadTls = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.reloadTls()));
  };
  return { servers, app: hub, observability, stop, reloadTls };
}

/** The hub the config asks for: in this process, or shared with other instances through Redis. */
async function createHub(config: Config, logger: Logger): Promise<SessionHub> {
  const shared = config.application.hub;
  if (shared === undefined) return new InProcessHub({ logger });
  // Loaded only for a shared hub, as the Redis client is (in RedisBus.start).
  const [{ BusHub }, { RedisBus }] = await Promise.all([import('../hub/bus-hub.js'), import('../hub/redis-bus.js')]);
  const bus = new RedisBus({
    url: shared.redis,
    channelPrefix: shared.channelPrefix,
    logger: logger.child({ component: 'hub' }),
    pingIntervalMs: shared.heartbeatIntervalMs,
  });
  return new BusHub({
    bus,
    via: 'redis',
    logger: logger.child({ component: 'hub' }),
    heartbeatMs: shared.heartbeatIntervalMs,
    instanceTimeoutMs: shared.instanceTimeoutMs,
    sharedIpLimits: shared.sharedIpLimits,
  });
}

/** Starts `server`; an error that does not say which server it concerns is made to. */
async function started(server: ProtocolServer): Promise<void> {
  try {
    await server.start();
  } catch (err) {
    const prefix = server.config.keyPrefix.replace(/\.$/, '');
    if (!(err instanceof ServerStartError) || prefix === '' || err.message.startsWith(prefix)) throw err;
    throw new ServerStartError(`${prefix}: ${err.message}`, { cause: err });
  }
}
