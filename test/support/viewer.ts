// Test support: a monitor viewer, a plain `ws` client of the monitor's JSON protocol.
import { WebSocket } from 'ws';

import { until } from './received-text.js';

/** A session as the monitor describes it. */
export interface WireSession {
  id: string;
  client: { host: string; port: number };
  start_time: string;
  status: string;
  is_newest: boolean;
  server: string;
  /** The process serving the session, with a shared hub. */
  instance?: string;
  transport: string;
  secure: boolean;
  terminal: { type: string | null; cols: number | null; rows: number | null };
  user: string | null;
  bytes_in: number;
  bytes_out: number;
  last_input_time: string;
  reason?: string;
}

/** Any message from the monitor, with the fields the tests read. */
export interface Message {
  type: string;
  access?: string;
  sessions?: WireSession[];
  session?: WireSession;
  session_id?: string;
  status?: string;
  error?: string;
  action?: string;
  data?: { text?: string; kind?: string; hidden?: boolean; cols?: number; rows?: number };
}

/** A monitor viewer: a plain `ws` client that keeps every frame it was sent. */
export interface Viewer {
  ws: WebSocket;
  messages: Message[];
  /** Every frame as it arrived, to search for text that must never appear. */
  raw: string[];
  send(message: unknown): void;
  /** The first message at or after `from` that `match` accepts. */
  next(match: (message: Message) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<Message>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Connects a viewer to the monitor at `url` and waits for its session listing. */
export async function connectViewer(url: string, headers: Record<string, string> = {}): Promise<Viewer> {
  const ws = new WebSocket(url, { headers });
  const messages: Message[] = [];
  const raw: string[] = [];
  ws.on('message', (data: Buffer) => {
    raw.push(data.toString('utf8'));
    messages.push(JSON.parse(data.toString('utf8')) as Message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const viewer: Viewer = {
    ws,
    messages,
    raw,
    closed,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    async next(match, options = {}) {
      let found: Message | undefined;
      await until(
        () => (found = messages.slice(options.from ?? 0).find(match)) !== undefined,
        'a monitor message',
        options.timeoutMs ?? 3000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(messages.map((message) => message.type))}`);
      });
      return found!;
    },
  };
  await viewer.next((message) => message.type === 'active_sessions');
  return viewer;
}
