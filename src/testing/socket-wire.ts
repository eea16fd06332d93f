// A test client's TCP (or TLS) connection: bytes both ways, for the tcp and telnet transports.
import net from 'node:net';
import tls from 'node:tls';

import type { Wire, WireSink } from './test-client.js';

/** Opens a socket to host:port delivering to `sink`; `opened` settles with the connection or its error. */
export function openSocket(
  host: string,
  port: number,
  isTls: boolean,
  sink: WireSink,
): { wire: Wire; opened: Promise<void> } {
  const socket = isTls
    ? tls.connect({ host, port, rejectUnauthorized: false, servername: net.isIP(host) === 0 ? host : undefined })
    : net.connect({ host, port });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once(isTls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve();
    });
    socket.once('error', reject);
  });
  socket.on('data', (chunk: Buffer) => sink.receive(chunk));
  // A reset after the test is done with the client is no failure of the test: 'close' reports the end.
  socket.on('error', () => undefined);
  socket.once('close', () => sink.ended({}));
  const wire: Wire = {
    write: (data) => void socket.write(data),
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
  };
  return { wire, opened };
}
