// Test support: one client per transport, from the package's testing helpers, dropped after the file's tests.
import { after } from 'node:test';

import type { TransportName } from '../../src/index.js';
import { connectClient } from '../../src/testing/index.js';
import type { TelnetStyle } from '../../src/testing/index.js';

export type { TelnetStyle };

export interface ClientOptions {
  /** telnet and ws_telnet: 'refuse' (default here) says no to every option; 'terminal' agrees like xterm. */
  telnet?: TelnetStyle;
  /** The window size a 'terminal' client reports. */
  size?: [number, number];
  /** WebSocket path; defaults to the transport's own. */
  path?: string;
}

/** A connected client of any transport. */
export interface TestClient {
  /** Sends a line (a text message on websocket; the line and CR LF elsewhere). */
  send(line: string): void;
  /** Sends bytes or text as they are (keys in character mode). */
  type(text: string): void;
  /** Waits for `pattern` at or after offset `from` (0: anywhere) of everything received. */
  waitFor(pattern: string | RegExp, options?: { from?: number; timeoutMs?: number }): Promise<void>;
  readonly text: string;
  /** Telnet options the server offered to perform (WILL) and this client agreed to, e.g. ECHO. */
  readonly agreed: ReadonlySet<number>;
  /** Resolves on close, with the WebSocket close code and reason where there is one. */
  readonly closed: Promise<{ code?: number; reason?: string }>;
  /** Ends the connection from the client's side, cleanly. */
  end(): void;
  destroy(): void;
}

const open: TestClient[] = [];
after(() => {
  for (const client of open.splice(0)) client.destroy();
});

/** Connects to 127.0.0.1:`port` as a client of `transport`; telnet clients refuse every option unless told. */
export async function connect(
  transport: TransportName,
  port: number,
  options: ClientOptions = {},
): Promise<TestClient> {
  const [cols, rows] = options.size ?? [80, 24];
  const client = await connectClient(transport, port, {
    telnet: options.telnet ?? 'refuse',
    cols,
    rows,
    ...(options.path === undefined ? {} : { path: options.path }),
  });
  const supportClient: TestClient = {
    send: (line) => client.send(line),
    type: (keys) => client.type(keys),
    waitFor: async (pattern, wait = {}) => {
      await client.expect(pattern, { from: wait.from ?? 0, timeoutMs: wait.timeoutMs ?? 3000 });
    },
    get text() {
      return client.text;
    },
    agreed: client.serverOptions,
    closed: client.closed,
    end: () => void client.close(),
    destroy: () => client.destroy(),
  };
  open.push(supportClient);
  return supportClient;
}
