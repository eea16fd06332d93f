// One HTTP(S) server per port: plain requests and WebSocket upgrades routed by path, 404 otherwise.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';

import { ServerStartError } from '../errors.js';
import { bindServer } from './bind.js';
import type { Listener, TlsFiles } from './connection.js';
import { MIN_TLS_VERSION } from './tcp.js';

/** Answers a plain HTTP request; returns false when the request is not for it. */
export type RequestRoute = (request: http.IncomingMessage, response: http.ServerResponse) => boolean;

/** Takes over an upgrade request; returns false when the request is not for it. */
export type UpgradeRoute = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Options of an HTTP listener. */
export interface HttpListenOptions {
  host: string;
  port: number;
  tls?: TlsFiles | undefined;
  /** Milliseconds a client has for the TLS handshake and for its request's headers (slowloris). */
  handshakeTimeoutMs: number;
  /** Tried in order; the first that takes a request answers it. */
  routes: readonly RequestRoute[];
  upgrades: readonly UpgradeRoute[];
  /** Errors of sockets outside any session go here, at debug level. */
  logger: Logger;
}

/** Starts an HTTP(S) server with the given routes; rejects with ServerStartError when it cannot bind. */
export async function listenHttp(options: HttpListenOptions): Promise<Listener> {
  const timeouts = {
    headersTimeout: options.handshakeTimeoutMs,
    requestTimeout: options.handshakeTimeoutMs,
    // Node checks those timeouts only this often (30 s by default).
    connectionsCheckingInterval: Math.min(1000, options.handshakeTimeoutMs),
  };
  const server = options.tls
    ? createHttpsServer(options.tls, { ...timeouts, handshakeTimeout: options.handshakeTimeoutMs })
    : http.createServer(timeouts);
  server.on('tlsClientError', (err: Error, socket: Duplex & { remoteAddress?: string }) => {
    options.logger.debug({ err, address: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });
  server.on('request', (request, response) => {
    for (const route of options.routes) if (route(request, response)) return;
    respond(response, 404, 'Not Found');
  });
  // Connections that are plain HTTP (not yet, or never, upgraded): a stopping server ends them,
  // where Node would wait for a half-sent request to time out.
  const plain = new Set<Duplex>();
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Duplex) => {
    plain.add(socket);
    socket.once('close', () => plain.delete(socket));
  });
  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    plain.delete(socket);
    socket.on('error', (err) => {
      options.logger.debug({ err, address: request.socket.remoteAddress }, 'socket error during an upgrade');
      socket.destroy();
    });
    for (const upgrade of options.upgrades) if (upgrade(request, socket, head)) return;
    rejectUpgrade(socket, 404, 'Not Found');
  });

  const port = await bindServer(server, options.host, options.port);
  return {
    address: { host: options.host, port },
    ...(server instanceof https.Server ? { setTls: (pem: TlsFiles) => server.setSecureContext(pem) } : {}),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of plain) socket.destroy();
      }),
  };
}

/** A host to put in a URL a person opens: a wildcard bind is reached on this machine through loopback. */
export function browsableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The request's path without its query string. */
export function pathOf(request: http.IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://localhost').pathname;
}

/** Whether `pathname` is `base` or below it: "/ws" and "/ws/room" for "/ws", never "/wsx". */
export function isUnderPath(pathname: string, base: string): boolean {
  const root = base.endsWith('/') ? base.slice(0, -1) : base;
  return pathname === root || pathname === `${root}/` || pathname.startsWith(`${root}/`) || root === '';
}

/** A complete plain response. */
export function respond(
  response: http.ServerResponse,
  status: number,
  body: string | Buffer,
  headers: http.OutgoingHttpHeaders = { 'Content-Type': 'text/plain; charset=utf-8' },
): void {
  response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

/** Refuses an upgrade with a real HTTP status, before any WebSocket frame exists. */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  statusText: string,
  body = statusText,
  headers: Record<string, string> = {},
): void {
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function createHttpsServer(pem: TlsFiles, options: https.ServerOptions): https.Server {
  try {
    return https.createServer({ ...options, cert: pem.cert, key: pem.key, minVersion: MIN_TLS_VERSION });
  } catch (err) {
    throw new ServerStartError(`invalid TLS certificate or key: ${(err as Error).message}`, { cause: err });
  }
}
