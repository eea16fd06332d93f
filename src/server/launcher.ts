// The launcher: turns a Config into running servers that share one application, and stops them together.
import type { Logger } from 'pino';

import type { Config } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import { InProcessHub } from '../hub/hub.js';
import type { SessionHub } from '../hub/hub.js';
import type { HandlerClass } from '../session/handle.js';
import { loadHandlerClass } from './handler-loader.js';
import { ProtocolServer } from './protocol-server.js';

/** Servers started together from one config: one application. */
export interface Launch {
  readonly servers: ProtocolServer[];
  /** The application every server shares: its sessions, broadcast and event stream. */
  readonly app: SessionHub;
  /** Stops every server gracefully; idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of a launch that are not part of the config file. */
export interface LaunchOptions {
  logger?: Logger;
  /** The application's hub; by default one in this process. */
  hub?: SessionHub;
  /** Serve this class on every server instead of loading each server's `handler_class`. */
  handlerClass?: HandlerClass;
}

/**
 * Loads every handler, then starts every server. If any of them fails, the ones already
 * started are stopped before the error is rethrown, so nothing is left listening.
 */
export async function launchServers(config: Config, options: LaunchOptions = {}): Promise<Launch> {
  const hub = options.hub ?? new InProcessHub({ logger: options.logger });
  const servers: ProtocolServer[] = [];
  for (const serverConfig of config.servers) {
    const handlerClass = options.handlerClass ?? (await loadHandlerClass(serverConfig));
    servers.push(new ProtocolServer(serverConfig, handlerClass, { logger: options.logger, hub }));
  }
  let stopping: Promise<void> | undefined;
  const stop = (graceMs?: number): Promise<void> => {
    stopping ??= Promise.all(servers.map((server) => server.stop(graceMs))).then(() => hub.stop());
    return stopping;
  };
  try {
    for (const server of servers) await started(server);
  } catch (err) {
    await stop(0);
    throw err;
  }
  return { servers, app: hub, stop };
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
