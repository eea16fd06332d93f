// Baseline for tcp and telnet: a line echo server on node:net alone, what a hand-written server costs.
// Usage: node --import tsx bench/raw-tcp-server.ts <port>
import net from 'node:net';

const port = Number(process.argv[2]);

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending = '';
  socket.setEncoding('latin1');
  socket.write('Welcome to the raw tcp echo server\r\n');
  socket.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    if (lines.length === 0) return;
    let out = '';
    for (const line of lines) out += `Echo: ${line.endsWith('\r') ? line.slice(0, -1) : line}\r\n`;
    socket.write(out, 'latin1');
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, '127.0.0.1');
