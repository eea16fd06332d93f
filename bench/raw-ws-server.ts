// Baseline for websocket and ws_telnet: a line echo server on ws alone, what a hand-written server costs.
// Usage: node --import tsx bench/raw-ws-server.ts <port>
import { WebSocketServer } from 'ws';
import type { RawData } from 'ws';

const port = Number(process.argv[2]);

const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
server.on('connection', (ws) => {
  ws.send('Welcome to the raw ws echo server\r\n');
  ws.on('message', (data: RawData, isBinary: boolean) => {
    // A message is a line (the browser's text mode), or lines ending in CR LF (its telnet mode).
    const lines = toText(data, isBinary).split(/\r?\n/);
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    let out = '';
    for (const line of lines) out += `Echo: ${line}\r\n`;
    ws.send(isBinary ? Buffer.from(out, 'latin1') : out);
  });
  ws.on('error', () => ws.terminate());
});

function toText(data: RawData, isBinary: boolean): string {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return bytes.toString(isBinary ? 'latin1' : 'utf8');
}
