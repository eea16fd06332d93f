// One HTTP(S) server per port: plain requests and WebSocket upgrades routed by path, 404 otherwise.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';

import { ChurnSet } from '../churn-map.js';
import { ServerStartError } from '../errors.js';
import { bindServer } from './bind.js';
import {
  DIRECT,
  acceptProxied,
  connectionPeer,
  rememberPeer,
  requestPeer,
  startTls,
  unread,
} from './client-address.js';
import type { ClientPeer, ProxyPolicy } from './client-address.js';
import { destroyUnlessClosed } from './connection.js';
import type { Admission, Listener, Refusal, TlsFiles } from './connection.js';
import { MIN_TLS_VERSION, createSecureContext } from './tcp.js';
import { acceptHandles } from './tcp-handle.js';
import type { AcceptedHandle } from './tcp-handle.js';

/** What a socket is known by among its server's plain HTTP connections. */
const CONNECTION_NUMBER = Symbol('connection number');
type NumberedSocket = Duplex & { [CONNECTION_NUMBER]: number };
let connectionsNumbered = 0;

/** Answers a plain HTTP request; returns false when the request is not for it. */
export type RequestRoute = (request: http.IncomingMessage, response: http.ServerResponse) => boolean;

/** Takes over the upgrade requests for one path. */
export interface UpgradeRoute {
  readonly path: string;
  take(request: http.IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Gives a socket's handle taken before Node's HTTP server back to it, with the bytes read from it so far. */
export type HandOver = (accepted: AcceptedHandle, received: Buffer | undefined) => void;

/** Options of an HTTP listener. */
export interface HttpListenOptions {
  host: string;
  port: number;
  tls?: TlsFiles | undefined;
  /** Milliseconds a client has for the TLS handshake, a PROXY header and its request's headers (slowloris). */
  handshakeTimeoutMs: number;
  /** Whether clients come through proxies, and which are believed about the client. */
  proxy?: ProxyPolicy;
  /**
   * The server's limits on client addresses: applied to each connection as it opens, or to
   * each request where a trusted proxy names the client in its headers. None: no limits.
   */
  admission?: Admission;
  /** Tried in order; the first that takes a request answers it. */
  routes: readonly RequestRoute[];
  upgrades: readonly UpgradeRoute[];
  /** Takes the upgrade requests for every other path; without it, they are answered 404. */
  otherUpgrade?: (request: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * On a plain port (no TLS, no PROXY header), where this Node allows: each client's socket
   * handle, its address screened, before Node's HTTP server makes a socket of it. What is not
   * answered on the handle goes to that server with `handOver`.
   */
  takeHandle?: (accepted: AcceptedHandle, peer: ClientPeer, handOver: HandOver) => void;
  /** Errors of sockets outside any session go here, at debug level. */
  logger: Logger;
}

/** Starts an HTTP(S) server with the given routes; rejects with ServerStartError when it cannot bind. */
export async function listenHttp(options: HttpListenOptions): Promise<Listener> {
  const proxy = options.proxy ?? DIRECT;
  const admission = options.admission;
  const timeouts = {
    headersTimeout: options.handshakeTimeoutMs,
    requestTimeout: options.handshakeTimeoutMs,
    // Node checks those timeouts only this often (30 s by default).
    connectionsCheckingInterval: Math.min(1000, options.handshakeTimeoutMs),
  };
  // Behind the PROXY protocol the header comes before TLS: TLS is started here, after reading it.
  const server =
    options.tls && !proxy.protocol
      ? createHttpsServer(options.tls, { ...timeouts, handshakeTimeout: options.handshakeTimeoutMs })
      : http.createServer(timeouts);
  server.on('tlsClientError', (err: Error, socket: Duplex & { remoteAddress?: string }) => {
    options.logger.debug({ err, address: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });
  server.on('request', (request, response) => {
    if (admission !== undefined && isScreenedPerRequest(request, proxy)) {
      const address = requestPeer(request, proxy).address;
      const refusal = admission.screen(address);
      if (refusal !== undefined) {
        admission.refused(address, refusal);
        respond(response, refusalStatus(refusal)[0], refusal.message, {
          'Content-Type': 'text/plain; charset=utf-8',
          ...retryAfter(refusal),
        });
        return;
      }
    }
    for (const route of options.routes) if (route(request, response)) return;
    respond(response, 404, 'Not Found');
  });
  // Connections that are plain HTTP (not yet, or never, upgraded): a stopping server ends them,
  // where Node would wait for a half-sent request to time out.
  const plain = new ChurnSet<Duplex, number>((socket) => (socket as NumberedSocket)[CONNECTION_NUMBER]);
  server.on(options.tls && !proxy.protocol ? 'secureConnection' : 'connection', (socket: Duplex) => {
    (socket as NumberedSocket)[CONNECTION_NUMBER] = connectionsNumbered++;
    plain.add(socket);
    socket.once('close', () => plain.delete(socket));
  });
  // One listener for every upgraded socket, which `this` is: a closure each would hold its request for as long as it lives.
  const upgradedSocketError = function (this: net.Socket, err: Error): void {
    options.logger.debug({ err, address: this.remoteAddress }, 'socket error during an upgrade');
    this.destroy();
  };
  server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    plain.delete(socket);
    socket.on('error', upgradedSocketError);
    const path = pathOf(request);
    const route = options.upgrades.find((upgrade) => upgrade.path === path);
    if (route !== undefined) route.take(request, socket, head);
    else if (options.otherUpgrade !== undefined) options.otherUpgrade(request, socket, head);
    else rejectUpgrade(socket, 404, 'Not Found');
  });

  /** Sockets refused before any request: told in HTTP where they can read it, else closed. */
  const turnAway = (socket: net.Socket, address: string, refusal: Refusal, canTell: boolean): void => {
    admission?.refused(address, refusal);
    // A WebSocket client is told in HTTP (403, 429) even when denied: it has no other way to learn why.
    if (!canTell || refusal.reason === 'proxy') {
      socket.destroy();
      return;
    }
    refuseSocket(socket, ...refusalStatus(refusal), refusal.message, retryAfter(refusal));
  };
  let listening: net.Server = server;
  let setTls: ((pem: TlsFiles) => void) | undefined;
  if (proxy.protocol) {
    let context = options.tls === undefined ? undefined : createSecureContext(options.tls);
    setTls = (pem) => (context = createSecureContext(pem));
    const proxyOptions = {
      admission: admission ?? OPEN,
      proxy,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      logger: options.logger,
    };
    listening = net.createServer((raw) => {
      void acceptProxied(raw, proxyOptions, turnAway, async (peer, rest) => {
        let socket: net.Socket = raw;
        if (context === undefined) unread(raw, rest);
        else socket = await startTls(raw, rest, context, options.handshakeTimeoutMs);
        rememberPeer(socket, peer);
        server.emit('connection', socket);
        socket.resume();
      });
    });
  } else {
    if (server instanceof https.Server) setTls = (pem) => server.setSecureContext(pem);
    if (admission !== undefined) {
      // Limits apply as a connection opens, before any TLS or HTTP work, unless a trusted
      // proxy will name the client in each request's headers.
      server.prependListener('connection', (socket: net.Socket) => {
        if (handedOver.has(socket)) return;
        const address = socket.remoteAddress ?? '';
        if (proxy.isTrusted(address)) return;
        const refusal = admission.screen(address);
        if (refusal !== undefined) turnAway(socket, address, refusal, options.tls === undefined);
      });
    }
  }

  const port = await bindServer(listening, options.host, options.port);
  const takeHandle = options.takeHandle;
  if (takeHandle !== undefined && listening === server && !(server instanceof https.Server)) {
    const handOver: HandOver = (accepted, received) => {
      const socket = accepted.toSocket();
      if (received !== undefined) unread(socket, received);
      handedOver.add(socket);
      server.emit('connection', socket);
    };
    acceptHandles(
      server,
      (accepted) => {
        const peer = accepted.peer();
        // A trusted proxy's clients are named in each request's headers: Node's server reads those.
        if (proxy.isTrusted(peer.address)) return handOver(accepted, undefined);
        const refusal = admission?.screen(peer.address);
        if (refusal === undefined) takeHandle(accepted, peer, handOver);
        else turnAway(accepted.toSocket(), peer.address, refusal, true);
      },
      (err, failures) => options.logger.warn({ err, failures }, 'could not accept connections'),
    );
  }
  return {
    address: { host: options.host, port },
    ...(setTls === undefined ? {} : { setTls }),
    close: () =>
      new Promise<void>((resolve) => {
        listening.close(() => resolve());
        if (listening !== server) server.close();
        for (const socket of plain) socket.destroy();
      }),
  };
}

/**
 * Whether a request's client is known only from its headers, so that the limits apply to each
 * request: it came from a trusted proxy. Any other client was screened as its connection opened.
 */
export function isScreenedPerRequest(request: http.IncomingMessage, proxy: ProxyPolicy): boolean {
  return proxy.isTrusted(connectionPeer(request.socket).address);
}

/** Sockets given to the HTTP server by `handOver`, their address screened already. */
const handedOver = new WeakSet<Duplex>();

/** Admission for a listener without limits (the monitor port): everyone is let on. */
const OPEN: Admission = { screen: () => undefined, check: () => undefined, refused: () => undefined };

/** How long a refused socket may take to read its answer before it is dropped. */
const REFUSED_LINGER_MS = 2000;

/** The HTTP status that refuses a request, by reason: the client's doing (4xx) or ours (503). */
const REFUSAL_STATUS: Record<Refusal['reason'], [status: number, statusText: string]> = {
  path: [404, 'Not Found'],
  origin: [403, 'Forbidden'],
  denied: [403, 'Forbidden'],
  proxy: [403, 'Forbidden'],
  'per-ip': [429, 'Too Many Requests'],
  rate: [429, 'Too Many Requests'],
  banned: [429, 'Too Many Requests'],
  capacity: [503, 'Service Unavailable'],
  shutdown: [503, 'Service Unavailable'],
};

export function refusalStatus(refusal: Refusal): [status: number, statusText: string] {
  return REFUSAL_STATUS[refusal.reason];
}

/** The Retry-After header of a refusal that says when to try again. */
export function retryAfter(refusal: Refusal): Record<string, string> {
  return refusal.retryAfter === undefined ? {} : { 'Retry-After': String(refusal.retryAfter) };
}

/** A host to put in a URL a person opens: a wildcard bind is reached on this machine through loopback. */
export function browsableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** The request's path without its query string. */
export function pathOf(request: http.IncomingMessage): string {
  return targetPath(request.url ?? '/');
}

/** The parameters of a request's query; undefined for a request without one. */
export function queryOf(request: http.IncomingMessage): URLSearchParams | undefined {
  return targetQuery(request.url ?? '/');
}

/** A request-target's path (see pathOf). */
export function targetPath(target: string): string {
  // Most targets are plain paths, which a URL would give back as they are: those are not parsed.
  return PLAIN_PATH.test(target) ? target : new URL(target, 'http://localhost').pathname;
}

/** A request-target's query (see queryOf). */
export function targetQuery(target: string): URLSearchParams | undefined {
  return target.includes('?') ? new URL(target, 'http://localhost').searchParams : undefined;
}

/** A path a URL parser leaves as it is: no dot segments, escapes, query, fragment, backslash or leading "//". */
const PLAIN_PATH = /^\/(?!\/)[\w\-~/]*$/;

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

/** Refuses a socket no HTTP server reads with `rejectUpgrade`'s answer, and drops it if the client does not close. */
export function refuseSocket(
  socket: Duplex,
  status: number,
  statusText: string,
  body?: string,
  headers?: Record<string, string>,
): void {
  socket.on('error', () => socket.destroy());
  rejectUpgrade(socket, status, statusText, body, headers);
  destroyUnlessClosed(socket, REFUSED_LINGER_MS);
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
