// The real client behind a proxy: a PROXY protocol header before anything else on the socket, or
// the Forwarded / X-Forwarded-For headers of an HTTP request. Either is believed from a trusted
// proxy only; from anyone else it would let a client choose the address every limit counts.
import type http from 'node:http';
import { isIP } from 'node:net';
import type net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

import type { Logger } from 'pino';

import { canonicalAddress } from './address.js';
import type { Admission, Refusal } from './connection.js';
import { readProxyHeader } from './proxy-protocol.js';

/** Who is at the other end of a connection. */
export interface ClientPeer {
  address: string;
  port: number;
  /** The proxy's own address, when a trusted proxy named the client. */
  proxyAddress?: string;
}

/** How a listener learns its clients' addresses. */
export interface ProxyPolicy {
  /** Every connection starts with a PROXY protocol header (v1 or v2) from a trusted proxy. */
  readonly protocol: boolean;
  /** Whether a TCP peer is a proxy whose word about the client is taken. */
  isTrusted(address: string): boolean;
  /** Milliseconds a proxy has to send the header. */
  readonly headerTimeoutMs: number;
}

/** Clients connect directly: their TCP address is theirs, and no header is believed. */
export const DIRECT: ProxyPolicy = { protocol: false, isTrusted: () => false, headerTimeoutMs: 0 };

/** Why a connection that had to start with a PROXY header is closed. */
export class ProxyHeaderError extends Error {}

export function socketPeer(socket: {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}): ClientPeer {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
}

/**
 * Reads the PROXY header off a new socket and pauses it there: resolves with the client the
 * header names (the socket's own peer for LOCAL or UNKNOWN) and the bytes that came after it,
 * which belong to the protocol spoken next. Rejects with a ProxyHeaderError saying why. The
 * caller keeps an 'error' listener on the socket throughout.
 */
export function readProxyPreamble(socket: net.Socket, timeoutMs: number): Promise<{ peer: ClientPeer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const stop = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const fail = (reason: string): void => {
      stop();
      reject(new ProxyHeaderError(reason));
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const result = readProxyHeader(received);
      if (result.status === 'incomplete') return;
      socket.pause();
      if (result.status === 'invalid') {
        fail(result.reason);
        return;
      }
      stop();
      const proxy = socketPeer(socket);
      const { source } = result.header;
      const peer =
        source === undefined
          ? proxy
          : { address: canonicalAddress(source.address), port: source.port, proxyAddress: proxy.address };
      resolve({ peer, rest: received.subarray(result.length) });
    };
    const onEnd = (): void => fail('closed before its PROXY protocol header was complete');
    const timer = setTimeout(() => fail(`no PROXY protocol header within ${timeoutMs / 1000} s`), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/** Puts the bytes read after the header back, to be read first by whoever reads the socket next. */
export function unread(socket: net.Socket, rest: Buffer): void {
  if (rest.length > 0) socket.unshift(rest);
}

/**
 * Starts TLS on a socket whose PROXY header has been read. Resolves once the handshake is done;
 * rejects when it fails or takes longer than `timeoutMs` (the socket is destroyed then).
 */
export function startTls(
  socket: net.Socket,
  rest: Buffer,
  secureContext: tls.SecureContext,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  // TLS reads a plain socket's handle directly, past anything put back into its stream: bytes
  // that came with the header (a ClientHello in the same segment) need a stream in between.
  const source = rest.length === 0 ? socket : withPrefix(socket, rest);
  const secure = new tls.TLSSocket(source, { isServer: true, secureContext });
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`TLS handshake not done within ${timeoutMs / 1000} s`)), timeoutMs);
    secure.once('error', fail);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', fail);
      resolve(secure);
    });
    if (source === socket) socket.resume();
  });
}

/** `socket` as a stream that first yields `prefix`. */
function withPrefix(socket: net.Socket, prefix: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _encoding, done) => void socket.write(chunk, done),
    final: (done) => void socket.end(done),
    destroy: (err, done) => {
      socket.destroy();
      done(err);
    },
  });
  stream.push(prefix);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => stream.push(null));
  socket.once('close', () => stream.destroy());
  return stream;
}

/** Peers that a listener learnt from a PROXY header, by the socket that the HTTP server was given. */
const headerPeers = new WeakMap<object, ClientPeer>();

/** Records the client a PROXY header named for a socket handed on to an HTTP server. */
export function rememberPeer(socket: object, peer: ClientPeer): void {
  headerPeers.set(socket, peer);
}

/** The client at the other end of a socket given to an HTTP server: its PROXY header's, else its own. */
export function connectionPeer(socket: net.Socket): ClientPeer {
  return headerPeers.get(socket) ?? socketPeer(socket);
}

/**
 * The client of an HTTP request: the PROXY header's, else the TCP peer's; and when that is a
 * trusted proxy, the right-most address of Forwarded (RFC 7239) or X-Forwarded-For that is not
 * a trusted proxy itself, since every address left of the nearest untrusted one could be forged.
 */
export function requestPeer(request: http.IncomingMessage, policy: ProxyPolicy): ClientPeer {
  const peer = connectionPeer(request.socket);
  if (!policy.isTrusted(peer.address)) return peer;
  const chain = forwardedChain(request);
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = chain[i]!;
    // "unknown" or an obfuscated name: nothing to count limits by beyond the proxy that said so.
    if (address === undefined) return peer;
    if (i === 0 || !policy.isTrusted(address)) {
      return { address, port: 0, proxyAddress: peer.proxyAddress ?? peer.address };
    }
  }
  return peer;
}

/** The client addresses the request's proxies recorded, nearest last; undefined where one is not an IP address. */
function forwardedChain(request: http.IncomingMessage): Array<string | undefined> {
  const forwarded = request.headers.forwarded;
  if (forwarded !== undefined) {
    return forwarded.split(',').flatMap((element) => {
      const pair = element.split(';').find((part) => /^\s*for=/i.test(part));
      return pair === undefined ? [] : [forwardedAddress(pair.replace(/^\s*for=/i, ''))];
    });
  }
  const forwardedFor = request.headers['x-forwarded-for'];
  if (forwardedFor === undefined) return [];
  const values = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  return values.split(',').map(forwardedAddress);
}

/** An address as proxies write it: quoted, bracketed IPv6, with or without a port. */
function forwardedAddress(text: string): string | undefined {
  let value = text.trim().replace(/^"(.*)"$/, '$1');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(':'));
  return isIP(value) === 0 ? undefined : canonicalAddress(value);
}

/**
 * A connection from a proxy: refused unless the proxy is trusted; then its PROXY header is
 * read (within the handshake timeout), the client it names screened, and `proceed` given it.
 */
export async function acceptProxied(
  socket: net.Socket,
  options: { admission: Admission; proxy: ProxyPolicy; logger: Logger },
  turnAway: (socket: net.Socket, address: string, refusal: Refusal, canTell: boolean) => void,
  proceed: (peer: ClientPeer, rest: Buffer) => Promise<void>,
): Promise<void> {
  const proxyAddress = socket.remoteAddress ?? '';
  // Kept for the socket's whole life: whoever takes it over adds listeners of its own.
  socket.on('error', (err) => {
    options.logger.debug({ err, address: proxyAddress }, 'socket error before the session');
    socket.destroy();
  });
  if (!options.proxy.isTrusted(proxyAddress)) {
    turnAway(socket, proxyAddress, { reason: 'proxy', message: UNTRUSTED_PROXY }, false);
    return;
  }
  try {
    const { peer, rest } = await readProxyPreamble(socket, options.proxy.headerTimeoutMs);
    const refusal = options.admission.screen(peer.address);
    if (refusal !== undefined) {
      turnAway(socket, peer.address, refusal, false);
      return;
    }
    await proceed(peer, rest);
  } catch (err) {
    if (err instanceof ProxyHeaderError) {
      options.admission.refused(proxyAddress, { reason: 'proxy', message: `bad PROXY header: ${err.message}` });
    } else {
      options.logger.debug({ err, address: proxyAddress }, 'TLS handshake failed');
    }
    socket.destroy();
  }
}

const UNTRUSTED_PROXY = 'not from a trusted proxy (trusted_proxies)';
