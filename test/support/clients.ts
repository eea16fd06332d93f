// Test support: one client per transport, seen as a user would see it: lines in, text out.
import net from 'node:net';
import { after } from 'node:test';

import { WebSocket } from 'ws';

import type { TransportName } from '../../src/index.js';
import { DO, DONT, IAC, OPT_NAWS, OPT_TTYPE, SB, SE, TTYPE_IS, WILL, WONT } from '../../src/telnet/constants.js';
import { TelnetDecoder } from '../../src/telnet/decoder.js';
import { negotiate, subnegotiation } from '../../src/telnet/encoder.js';
import { ReceivedText } from './received-text.js';

/** How a telnet client answers negotiation: refuse everything (Python's telnetlib), or be a terminal. */
export type TelnetStyle = 'refuse' | 'terminal';

export interface ClientOptions {
  /** telnet and ws_telnet: 'refuse' (default) says no to every option; 'terminal' agrees like xterm. */
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

/** Connects to 127.0.0.1:`port` as a client of `transport`. */
export async function connect(
  transport: TransportName,
  port: number,
  options: ClientOptions = {},
): Promise<TestClient> {
  const client =
    transport === 'tcp' || transport === 'telnet'
      ? await connectSocket(port, transport === 'telnet', options)
      : await connectWebSocket(port, transport === 'ws_telnet', options);
  open.push(client);
  return client;
}

/** Answers the server's telnet negotiation for one client; returns the replies to send. */
function telnetAnswers(style: TelnetStyle, size: [number, number], agreed: Set<number>) {
  const decoder = new TelnetDecoder();
  const text = new TextDecoder();
  return (bytes: Uint8Array, screen: ReceivedText): Uint8Array[] => {
    const replies: Uint8Array[] = [];
    for (const event of decoder.push(bytes)) {
      if (event.type === 'data') screen.add(text.decode(event.bytes, { stream: true }));
      if (event.type === 'negotiate') replies.push(...answer(event.verb, event.option));
      if (event.type === 'subnegotiation' && event.option === OPT_TTYPE) {
        replies.push(subnegotiation(OPT_TTYPE, Uint8Array.of(TTYPE_IS, ...Buffer.from('XTERM-256COLOR'))));
      }
    }
    return replies;
  };

  function answer(verb: number, option: number): Uint8Array[] {
    if (style === 'refuse') {
      if (verb === DO) return [negotiate(WONT, option)];
      if (verb === WILL) return [negotiate(DONT, option)];
      return [];
    }
    // A terminal agrees to what the server offers and reports its size and type.
    if (verb === DO && option === OPT_NAWS) {
      const [cols, rows] = size;
      return [negotiate(WILL, option), Uint8Array.of(IAC, SB, OPT_NAWS, 0, cols, 0, rows, IAC, SE)];
    }
    if (verb === DO && option === OPT_TTYPE) return [negotiate(WILL, option)];
    if (verb === DO) return [negotiate(WONT, option)];
    if (verb === WILL) {
      agreed.add(option);
      return [negotiate(DO, option)];
    }
    if (verb === WONT) agreed.delete(option);
    return [];
  }
}

async function connectSocket(port: number, isTelnet: boolean, options: ClientOptions): Promise<TestClient> {
  const socket = net.connect(port, '127.0.0.1');
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const screen = new ReceivedText();
  const text = new TextDecoder();
  const agreed = new Set<number>();
  const answers = telnetAnswers(options.telnet ?? 'refuse', options.size ?? [80, 24], agreed);
  socket.on('data', (chunk: Buffer) => {
    if (!isTelnet) return screen.add(text.decode(chunk, { stream: true }));
    for (const reply of answers(chunk, screen)) socket.write(reply);
  });
  socket.on('error', () => undefined);
  const closed = new Promise<{ code?: number; reason?: string }>((resolve) => socket.once('close', () => resolve({})));
  await connected;
  return {
    send: (line) => void socket.write(`${line}\r\n`),
    type: (keys) => void socket.write(keys),
    waitFor: (pattern, wait) => screen.waitFor(pattern, wait),
    get text() {
      return screen.text;
    },
    agreed,
    closed,
    end: () => void socket.end(),
    destroy: () => socket.destroy(),
  };
}

async function connectWebSocket(port: number, isTelnet: boolean, options: ClientOptions): Promise<TestClient> {
  const path = options.path ?? (isTelnet ? '/ws_telnet' : '/ws');
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  ws.on('error', () => undefined);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.once('error', reject);
  });
  const screen = new ReceivedText();
  const agreed = new Set<number>();
  const answers = telnetAnswers(options.telnet ?? 'refuse', options.size ?? [80, 24], agreed);
  ws.on('message', (data: Buffer) => {
    if (!isTelnet) return screen.add(data.toString('utf8'));
    for (const reply of answers(data, screen)) ws.send(reply);
  });
  const closed = new Promise<{ code?: number; reason?: string }>((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  // Listeners are in place before the first message can arrive with the handshake.
  await opened;
  return {
    send: (line) => ws.send(isTelnet ? Buffer.from(`${line}\r\n`) : line),
    type: (keys) => ws.send(isTelnet ? Buffer.from(keys) : keys),
    waitFor: (pattern, wait) => screen.waitFor(pattern, wait),
    get text() {
      return screen.text;
    },
    agreed,
    closed,
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
  };
}
