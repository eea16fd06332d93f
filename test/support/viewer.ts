// Test support: a monitor viewer over WebSocket, reading the monitor's JSON messages.
import assert from 'node:assert/strict';

import { WebSocket } from 'ws';

/** A monitor message, with the fields these tests read. */
export interface MonitorMessage {
  type: string;
  sessions?: Array<{ id: string; user: string | null; transport: string; instance: string }>;
  session?: { id: string };
  session_id?: string;
  data?: { text?: string };
}

export interface Viewer {
  ws: WebSocket;
  messages: MonitorMessage[];
  send(message: unknown): void;
  next(match: (message: MonitorMessage) => boolean): Promise<MonitorMessage>;
}

/** A monitor viewer that has its session listing. */
export async function openViewer(url: string): Promise<Viewer> {
  const ws = new WebSocket(url);
  const messages: MonitorMessage[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8')) as MonitorMessage));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const viewer: Viewer = {
    ws,
    messages,
    send: (message) => ws.send(JSON.stringify(message)),
    async next(match) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = messages.find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline) assert.fail(`no such monitor message in ${JSON.stringify(messages)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
  await viewer.next((message) => message.type === 'active_sessions');
  return viewer;
}
