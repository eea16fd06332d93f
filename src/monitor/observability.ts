// Observability of one application: the session monitor and its dashboard, metrics, health and
// recordings, served on the HTTP side of WebSocket servers and on a monitor port of their own.
import type http from 'node:http';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

import { isWebSocketServer } from '../config/schema.js';
import type { ApplicationConfig, Config, ServerConfig } from '../config/schema.js';
import type { SessionHub } from '../hub/hub.js';
import type { Listener } from '../transports/connection.js';
import { browsableHost, listenHttp, pathOf, rejectUpgrade, respond } from '../transports/http.js';
import type { RequestRoute, UpgradeRoute } from '../transports/http.js';
import { accessOf, isLoopbackHost, newToken } from './access.js';
import type { AccessPolicy } from './access.js';
import { dashboardRoute } from './dashboard.js';
import { Metrics } from './metrics.js';
import type { RenderedMetrics } from './metrics.js';
import { Monitor } from './monitor.js';
import { Recorder } from './recorder.js';

/** Where observability is served: a WebSocket server's port, or the monitor port. */
interface Site {
  host: string;
  monitorPath: string | undefined;
  metricsPath: string | undefined;
  policy: AccessPolicy;
}

/** What the launcher tells observability about the application's state. */
export interface ObservabilityOptions {
  app: SessionHub;
  config: Config;
  logger: Logger;
  /** Whether every listener is bound and the application is not shutting down. */
  isReady(): boolean;
  version: string;
  /** Used where a token must be made; by default a new one. */
  monitorToken?: string | undefined;
  /** Renders the metrics served; by default this process's own. */
  renderMetrics?: (() => Promise<RenderedMetrics>) | undefined;
}

/** How long a client of the monitor port has for its request's headers. */
const MONITOR_HANDSHAKE_TIMEOUT_MS = 5000;

/** How often a viewer is pinged; one that misses a whole period is gone. */
const VIEWER_PING_MS = 30_000;

/** Largest viewer message, in bytes: viewers send small JSON commands. */
const MAX_VIEWER_MESSAGE = 64 * 1024;

/** The application's monitor, metrics, health and recordings, as its config asks. */
export class Observability {
  readonly monitor: Monitor | undefined;
  readonly metrics: Metrics | undefined;
  readonly recorder: Recorder | undefined;
  /** Made at start for listeners open to other machines with no token set; printed once. */
  readonly generatedToken: string | undefined;
  #options: ObservabilityOptions;
  #application: ApplicationConfig;
  #logger: Logger;
  #viewerSockets = new WebSocketServer({ noServer: true, maxPayload: MAX_VIEWER_MESSAGE, perMessageDeflate: false });
  #listener: Listener | undefined;

  /** Whether `config` asks for any of it; without, the application pays nothing. */
  constructor(options: ObservabilityOptions) {
    this.#options = options;
    this.#application = options.config.application;
    // Audit lines are info: kept even when the rest of the log shows only warnings (not when silent).
    const level =
      options.logger.isLevelEnabled('info') || options.logger.level === 'silent' ? options.logger.level : 'info';
    this.#logger = options.logger.child({ component: 'monitor' }, { level });
    const sites = this.#sites();
    const wantsMonitor = sites.some((site) => site.monitorPath !== undefined);
    const wantsMetrics = sites.some((site) => site.metricsPath !== undefined);
    this.generatedToken = sites.some((site) => needsGeneratedToken(site))
      ? (options.monitorToken ?? newToken())
      : undefined;
    this.monitor = wantsMonitor
      ? new Monitor(options.app, { notice: this.#application.monitorNotice, logger: this.#logger })
      : undefined;
    this.recorder =
      this.#application.recordSessions === undefined
        ? undefined
        : new Recorder(options.app, {
            config: this.#application,
            logger: options.logger.child({ component: 'recorder' }),
          });
    this.metrics = wantsMetrics
      ? new Metrics(options.app, { monitor: this.monitor, version: options.version })
      : undefined;
  }

  /** Starts watching the application, and the monitor port if one is set. */
  async start(): Promise<void> {
    this.monitor?.start();
    this.metrics?.start();
    await this.recorder?.start();
    const { monitorPort, monitorHost } = this.#application;
    if (monitorPort === undefined) return;
    const site = this.#monitorPortSite();
    this.#listener = await listenHttp({
      host: monitorHost,
      port: monitorPort,
      handshakeTimeoutMs: MONITOR_HANDSHAKE_TIMEOUT_MS,
      routes: this.#routes(site),
      upgrades: this.#upgrades(site),
      logger: this.#logger,
    });
  }

  /** The address of the monitor port, once listening. */
  get address(): { host: string; port: number } | undefined {
    return this.#listener?.address;
  }

  /** Routes for a WebSocket server's port: the monitor and metrics where its config enables them. */
  routesFor(server: ServerConfig): { routes: RequestRoute[]; upgrades: UpgradeRoute[] } {
    const site = serverSite(server, this.#application, this.generatedToken);
    if (site === undefined) return { routes: [], upgrades: [] };
    return { routes: this.#routes(site), upgrades: this.#upgrades(site) };
  }

  /**
   * The URLs to print at start, with the generated token where one was made: each dashboard, and
   * the metrics of a site that has no dashboard (else a generated token would be seen nowhere).
   */
  accessUrls(servers: ReadonlyArray<{ config: ServerConfig; address: { port: number } | undefined }>): string[] {
    const urls: string[] = [];
    const withToken = (base: string, site: Site): string =>
      site.policy.tokens.length === 0 ||
      this.generatedToken === undefined ||
      !site.policy.tokens.includes(this.generatedToken)
        ? base
        : `${base}?token=${this.generatedToken}`;
    for (const server of servers) {
      const site = serverSite(server.config, this.#application, this.generatedToken);
      const path = site?.monitorPath ?? site?.metricsPath;
      if (site === undefined || path === undefined || server.address === undefined) continue;
      const scheme = server.config.useSsl ? 'https' : 'http';
      urls.push(withToken(`${scheme}://${browsableHost(site.host)}:${server.address.port}${path}`, site));
    }
    if (this.#listener !== undefined) {
      const site = this.#monitorPortSite();
      urls.push(
        withToken(`http://${browsableHost(site.host)}:${this.#listener.address.port}${site.monitorPath}`, site),
      );
    }
    return urls;
  }

  async stop(): Promise<void> {
    await this.monitor?.stop();
    this.metrics?.stop();
    await this.recorder?.stop();
    await this.#listener?.close();
  }

  #sites(): Site[] {
    const sites = this.#options.config.servers.flatMap(
      (server) => serverSite(server, this.#application, undefined) ?? [],
    );
    if (this.#application.monitorPort !== undefined) sites.push(this.#monitorPortSite());
    return sites;
  }

  #monitorPortSite(): Site {
    const app = this.#application;
    return {
      host: app.monitorHost,
      monitorPath: app.monitorPath,
      metricsPath: app.metricsPath ?? '/metrics',
      policy: withGenerated(
        { host: app.monitorHost, tokens: app.monitorToken, adminTokens: app.monitorAdminToken },
        this.generatedToken,
      ),
    };
  }

  #routes(site: Site): RequestRoute[] {
    const routes: RequestRoute[] = [this.#healthRoute()];
    if (site.metricsPath !== undefined && this.metrics !== undefined) routes.push(this.#metricsRoute(site));
    if (site.monitorPath !== undefined && this.monitor !== undefined) {
      routes.push(dashboardRoute({ path: site.monitorPath, recorder: this.recorder, policy: site.policy }));
    }
    return routes;
  }

  #upgrades(site: Site): UpgradeRoute[] {
    const { monitorPath } = site;
    const monitor = this.monitor;
    if (monitorPath === undefined || monitor === undefined) return [];
    return [
      {
        path: monitorPath,
        take: (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
          const address = request.socket.remoteAddress ?? '';
          const level = accessOf(request, site.policy);
          if (level === 'none') {
            this.#logger.warn({ address }, 'monitor: refused a viewer without a valid token');
            rejectUpgrade(socket, 401, 'Unauthorized', 'A valid monitor token is required', {
              'WWW-Authenticate': 'Bearer realm="monitor"',
            });
            return;
          }
          this.#viewerSockets.handleUpgrade(request, socket, head, (ws) => {
            keepAlive(ws);
            monitor.addViewer(ws, { address, level });
          });
        },
      },
    ];
  }

  #healthRoute(): RequestRoute {
    return (request, response) => {
      const path = pathOf(request);
      if (path === '/healthz') {
        respond(response, 200, 'ok\n');
        return true;
      }
      if (path !== '/readyz') return false;
      const isReady = this.#options.isReady();
      // Still ready without the other instances: this one serves its own sessions, and taking every
      // instance out of the load balancer over a Redis outage would serve no one.
      const sharing = this.#options.app.sharing();
      const degraded =
        sharing === undefined || sharing.isUp ? '' : ` (degraded: ${sharing.via} unreachable, this instance only)`;
      respond(response, isReady ? 200 : 503, isReady ? `ready${degraded}\n` : 'not ready\n');
      return true;
    };
  }

  #metricsRoute(site: Site): RequestRoute {
    const metrics = this.metrics!;
    const render = this.#options.renderMetrics ?? (() => metrics.render());
    return (request, response) => {
      if (pathOf(request) !== site.metricsPath || request.method !== 'GET') return false;
      if (accessOf(request, site.policy) === 'none') {
        respond(response, 401, 'A valid monitor token is required\n', {
          'Content-Type': 'text/plain; charset=utf-8',
          'WWW-Authenticate': 'Bearer realm="metrics"',
        });
        return true;
      }
      render().then(
        ({ contentType, body }) => respond(response, 200, body, { 'Content-Type': contentType }),
        (err: unknown) => {
          this.#logger.error({ err }, 'metrics could not be collected');
          respond(response, 500, 'metrics could not be collected\n');
        },
      );
      return true;
    };
  }
}

/** Pings a viewer now and then: one whose network vanished without a close is let go. */
function keepAlive(ws: WebSocket): void {
  let isAlive = true;
  ws.on('pong', () => (isAlive = true));
  const timer = setInterval(() => {
    if (!isAlive) {
      ws.terminate();
      return;
    }
    isAlive = false;
    ws.ping();
  }, VIEWER_PING_MS);
  timer.unref();
  ws.once('close', () => clearInterval(timer));
}

/** What a WebSocket server serves of observability, if anything. */
/** A WebSocket server's site; its tokens are its own, else the application's (those beside `servers:`). */
function serverSite(
  server: ServerConfig,
  application: ApplicationConfig,
  generatedToken: string | undefined,
): Site | undefined {
  if (!isWebSocketServer(server) || (!server.enableMonitoring && server.metricsPath === undefined)) return undefined;
  const hasOwnTokens = server.monitorToken.length > 0 || server.monitorAdminToken.length > 0;
  return {
    host: server.host,
    monitorPath: server.enableMonitoring ? server.monitorPath : undefined,
    metricsPath: server.metricsPath,
    policy: withGenerated(
      {
        host: server.host,
        tokens: hasOwnTokens ? server.monitorToken : application.monitorToken,
        adminTokens: hasOwnTokens ? server.monitorAdminToken : application.monitorAdminToken,
      },
      generatedToken,
    ),
  };
}

/** A listener open beyond this machine with no token set gets the generated one: never open to all. */
function withGenerated(
  site: { host: string; tokens: string[]; adminTokens: string[] },
  generatedToken: string | undefined,
): AccessPolicy {
  const tokens =
    site.tokens.length === 0 && !isLoopbackHost(site.host) && generatedToken !== undefined
      ? [generatedToken]
      : site.tokens;
  return { tokens, adminTokens: site.adminTokens };
}

function needsGeneratedToken(site: Site): boolean {
  return site.policy.tokens.length === 0 && !isLoopbackHost(site.host);
}
