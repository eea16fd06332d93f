// connectClient(): a test client of any transport, connected to a server that is already listening.
import type { TransportName } from '../config/schema.js';
import { openSocket } from './socket-wire.js';
import { openSsh } from './ssh-wire.js';
import { Client } from './test-client.js';
import type { ConnectOptions, TestClient } from './test-client.js';
import { openWebSocket } from './websocket-wire.js';

/**
 * Connects to `port` (on 127.0.0.1 unless `options.host` says otherwise) as a client of
 * `transport`; resolves once connected. Close it with close() or destroy() when done.
 */
export async function connectClient(
  transport: TransportName,
  port: number,
  options: ConnectOptions = {},
): Promise<TestClient> {
  const host = options.host ?? '127.0.0.1';
  const client = new Client(transport, options);
  if (transport === 'ssh') {
    const login = {
      username: options.username ?? 'user',
      password: options.password,
      terminalType: options.terminalType ?? 'XTERM-256COLOR',
      cols: options.cols ?? 80,
      rows: options.rows ?? 24,
      environment: options.environment,
    };
    const { wire, opened } = openSsh(host, port, login, client);
    client.attach(wire, wire);
    await opened;
    return client;
  }
  const { wire, opened } =
    transport === 'tcp' || transport === 'telnet'
      ? openSocket(host, port, options.tls === true, client)
      : openWebSocket(webSocketUrl(transport, host, port, options), client);
  // Attached before any data can arrive: that takes a turn of the event loop.
  client.attach(wire);
  await opened;
  return client;
}

function webSocketUrl(transport: TransportName, host: string, port: number, options: ConnectOptions): string {
  const path = options.path ?? (transport === 'ws_telnet' ? '/ws_telnet' : '/ws');
  const hostname = host.includes(':') ? `[${host}]` : host;
  return `${options.tls === true ? 'wss' : 'ws'}://${hostname}:${port}${path.startsWith('/') ? '' : '/'}${path}`;
}
