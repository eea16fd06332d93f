// Test support: servers and whole launches on 127.0.0.1, ephemeral ports, stopped after the file's tests.
import { after } from 'node:test';

import { pino } from 'pino';
import type { Logger } from 'pino';

import { TRANSPORTS, launchServers } from '../../src/index.js';
import type { HandlerClass, Launch, ProtocolServer, ServerSettings, TransportName } from '../../src/index.js';
import { startTestConfig, startTestServer } from '../../src/testing/index.js';

export const TRANSPORT_NAMES = TRANSPORTS satisfies readonly TransportName[];

/** A logger for tests: silent unless asked for the records. */
export const quiet: Logger = pino({ level: 'silent' });

const running: Array<{ stop(graceMs?: number): Promise<void> }> = [];
after(async () => {
  await Promise.all(running.splice(0).map((target) => target.stop(100)));
});

/** One server on its own (an application of one server), on 127.0.0.1 and a free port. */
export async function startServer(
  transport: TransportName,
  handlerClass: HandlerClass,
  settings: ServerSettings = {},
  options: { logger?: Logger } = {},
): Promise<{ server: ProtocolServer; port: number }> {
  const started = await startTestServer(handlerClass, { transport, settings, logger: options.logger ?? quiet });
  running.push(started);
  return { server: started.launch.servers[0]!, port: started.ports[transport]! };
}

/** One application serving `handlerClass` on every transport, each on its own free port. */
export async function startApplication(
  handlerClass: HandlerClass,
  settings: ServerSettings = {},
  options: { logger?: Logger } = {},
): Promise<{ launch: Launch; ports: Record<TransportName, number> }> {
  const started = await startTestServer(handlerClass, { settings, logger: options.logger ?? quiet });
  running.push(started);
  return { launch: started.launch, ports: started.ports as Record<TransportName, number> };
}

/** Launches a parsed config (from a file, say) and stops it after the file's tests. */
export async function startLaunch(...args: Parameters<typeof launchServers>): Promise<Launch> {
  const launch = await launchServers(...args);
  running.push(launch);
  return launch;
}

/** Launches a config file as written, but on 127.0.0.1 and free ports; stopped after the file's tests. */
export async function startConfigFile(file: string): Promise<Launch> {
  const started = await startTestConfig(file, { logger: quiet });
  running.push(started);
  return started.launch;
}
