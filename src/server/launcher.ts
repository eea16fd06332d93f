// The launcher: turns a Config into running servers, and stops them all together.
import type { Logger } from 'pino';

import type { Config } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import type { SessionObserver } from '../session/session.js';
import { loadHandlerClass } from './handler-loader.js';
import { ProtocolServer } from './protocol-server.js';

/** Servers started together from one config. */
export interface Launch {
  readonly servers: ProtocolServer[];
  /** Stops every server gracefully; idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Loads every handler, then starts every server. If any of them fails, the ones already
 * started are stopped before the error is rethrown, so nothing is left listening.
 */
export async function launchServers(
  config: Config,
  options: { logger?: Logger; observer?: SessionObserver } = {},
): Promise<Launch> {
  const servers: ProtocolServer[] = [];
  for (const serverConfig of config.servers) {
    const handlerClass = await loadHandlerClass(serverConfig);
    servers.push(new ProtocolServer(serverConfig, handlerClass, options));
  }
  let stopping: Promise<void> | undefined;
  const stop = (graceMs?: number): Promise<void> => {
    stopping ??= Promise.all(servers.map((server) => server.stop(graceMs))).then(() => undefined);
    return stopping;
  };
  try {
    for (const server of servers) await started(server);
  } catch (err) {
    await stop(0);
    throw err;
  }
  return { servers, stop };
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
