// Binding a listening server to its address, with one clear line when that fails; and the
// options of the sockets it accepts.
import type net from 'node:net';

import { ServerStartError } from '../errors.js';

/**
 * Set on every socket as it is accepted (by Node, with no call per connection): an interactive
 * client waits for each small reply, which Nagle's algorithm would hold back.
 */
export const SOCKET_OPTIONS: net.ServerOpts = { noDelay: true };

/** Listens on host:port; resolves with the bound port, or rejects with ServerStartError. */
export function bindServer(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new ServerStartError(describeListenError(err, host, port), { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** One line that says why an address could not be bound. */
export function describeListenError(err: NodeJS.ErrnoException, host: string, port: number): string {
  const where = `${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: address already in use`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: address not available on this machine`;
    default:
      return `cannot listen on ${where}: ${err.message}`;
  }
}
