// A test client's WebSocket: text messages (websocket) or binary ones carrying telnet (ws_telnet).
import { WebSocket } from 'ws';

import type { Wire, WireSink } from './test-client.js';

/** Opens a WebSocket to `url` delivering to `sink`; `opened` rejects with "HTTP <status>" if the upgrade is refused. */
export function openWebSocket(url: string, sink: WireSink): { wire: Wire; opened: Promise<void> } {
  const ws = new WebSocket(url, { rejectUnauthorized: false });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) => {
      ws.terminate();
      reject(new Error(`HTTP ${response.statusCode}`));
    });
    ws.once('error', reject);
  });
  // Listeners are in place before the first message, which may come with the handshake.
  ws.on('message', (data: Buffer, isBinary: boolean) => sink.receive(isBinary ? data : data.toString('utf8')));
  ws.on('error', () => undefined);
  ws.once('close', (code: number, reason: Buffer) => sink.ended({ code, reason: reason.toString() }));
  const wire: Wire = {
    write: (data) => ws.send(data),
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
  };
  return { wire, opened };
}
