// Test support: clients of the chat sample (examples/chat), on any transport.
import type { TransportName } from '../../src/index.js';
import { connect } from './clients.js';
import type { ClientOptions, TestClient } from './clients.js';

/** Terminals on telnet and ws_telnet (character mode, the server draws the line); nc and a text WebSocket. */
export const CHAT_CLIENTS: Record<TransportName, ClientOptions> = {
  telnet: { telnet: 'terminal' },
  tcp: {},
  websocket: {},
  ws_telnet: { telnet: 'terminal' },
  ssh: {},
};

/** Connects over `transport` to `port` and takes `nickname`; resolves once at the room's prompt. */
export async function enterRoom(
  transport: TransportName,
  port: number,
  nickname: string,
  timeoutMs = 3000,
): Promise<TestClient> {
  const client = await connect(transport, port, CHAT_CLIENTS[transport]);
  await client.waitFor('Nickname? ', { timeoutMs });
  client.send(nickname);
  await client.waitFor(new RegExp(`Hello ${nickname}! .*\\r\\n> `), { timeoutMs });
  return client;
}

/** Sends a line and resolves with what came back up to the next prompt. */
export async function command(client: TestClient, line: string): Promise<string> {
  const from = client.text.length;
  client.send(line);
  await client.waitFor(/\r\n> $/, { from });
  return client.text.slice(from);
}
