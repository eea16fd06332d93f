// What the raw node:net baselines share: a welcome, then `Echo: <line>` for each line, every reply
// to one read in one write. Each script says what it opens with and how it reads text from bytes.
import net from 'node:net';

/** Turns one connection's chunks into the text they carry (a reader per connection, for any state). */
export type TextReader = (chunk: Buffer) => string;

/** Serves on 127.0.0.1:`port` until killed. */
export function serveLines(port: number, opening: string | Buffer, newReader: () => TextReader): void {
  const server = net.createServer({ noDelay: true }, (socket) => {
    const read = newReader();
    let pending = '';
    socket.write(opening);
    socket.on('data', (chunk: Buffer) => {
      const lines = (pending + read(chunk)).split('\n');
      pending = lines.pop() ?? '';
      if (lines.length === 0) return;
      let out = '';
      for (const line of lines) out += `Echo: ${line.endsWith('\r') ? line.slice(0, -1) : line}\r\n`;
      socket.write(out, 'latin1');
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(port, '127.0.0.1');
}
