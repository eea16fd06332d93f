// Baseline for ssh: a line echo server on ssh2 alone, what a hand-written SSH server costs. Anyone
// may log in (the sample's `ssh_auth: none`); a session gets its terminal and its shell, a welcome,
// then `Echo: <line>` for each line a terminal's Enter (CR) ends, every reply to one read in one write.
// Usage: node --import tsx bench/raw-ssh-server.ts <port>
import net from 'node:net';

import ssh2 from 'ssh2';

const port = Number(process.argv[2]);
const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;

const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
  client.on('authentication', (context) => context.accept());
  client.on('session', (acceptSession) => {
    const session = acceptSession();
    session.on('pty', (accept) => accept());
    session.on('window-change', (accept) => accept?.());
    session.on('shell', (accept) => {
      const stream = accept();
      let pending = '';
      stream.write('Welcome to the raw ssh echo server\r\n');
      stream.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString('latin1')).split(/\r\n?|\n/);
        pending = lines.pop() ?? '';
        if (lines.length === 0) return;
        let out = '';
        for (const line of lines) out += `Echo: ${line}\r\n`;
        stream.write(out, 'latin1');
      });
    });
  });
  client.on('error', () => client.end());
});
// Its own listener, for TCP_NODELAY as an interactive server sets it (ssh2's would leave Nagle on:
// 40 ms a round trip).
net.createServer({ noDelay: true }, (socket) => server.injectSocket(socket)).listen(port, '127.0.0.1');
