// Test support: servers and whole launches on 127.0.0.1, ephemeral ports, stopped after the file's tests.
import { after } from 'node:test';

import { pino } from 'pino';
import type { Logger } from 'pino';

import { ProtocolServer, launchServers, parseConfig, serve } from '../../src/index.js';
import type { HandlerClass, Launch, ServerSettings, TransportName } from '../../src/index.js';

export const TRANSPORT_NAMES = ['telnet', 'tcp', 'websocket', 'ws_telnet'] as const satisfies readonly TransportName[];

/** A logger for tests: silent unless asked for the records. */
export const quiet: Logger = pino({ level: 'silent' });

const running: Array<{ stop(graceMs?: number): Promise<void> }> = [];
after(async () => {
  await Promise.all(running.splice(0).map((target) => target.stop(100)));
});

/** One server on its own (with a hub of its own), on 127.0.0.1 and a free port. */
export async function startServer(
  transport: TransportName,
  handlerClass: HandlerClass,
  settings: ServerSettings = {},
  options: { logger?: Logger } = {},
): Promise<{ server: ProtocolServer; port: number }> {
  const config = parseConfig({ transport, host: '127.0.0.1', port: 0, ...settings }, process.cwd(), {
    requireHandlerClass: false,
  });
  const server = new ProtocolServer(config.servers[0]!, handlerClass, { logger: options.logger ?? quiet });
  running.push(server);
  const { port } = await server.start();
  return { server, port };
}

/** One application serving `handlerClass` on every transport, each on its own free port. */
export async function startApplication(
  handlerClass: HandlerClass,
  settings: ServerSettings = {},
  options: { logger?: Logger } = {},
): Promise<{ launch: Launch; ports: Record<TransportName, number> }> {
  const servers = Object.fromEntries(
    TRANSPORT_NAMES.map((transport) => [transport, { transport, host: '127.0.0.1', port: 0, ...settings }]),
  );
  const launch = await serve(handlerClass, { servers }, { logger: options.logger ?? quiet });
  running.push(launch);
  const ports = Object.fromEntries(launch.servers.map((server) => [server.name, server.address!.port]));
  return { launch, ports: ports as Record<TransportName, number> };
}

/** Launches a parsed config (from a file, say) and stops it after the file's tests. */
export async function startLaunch(...args: Parameters<typeof launchServers>): Promise<Launch> {
  const launch = await launchServers(...args);
  running.push(launch);
  return launch;
}
