// TCP (and TLS) transport: maps node:net sockets onto the Connection abstraction.
import net from 'node:net';
import tls from 'node:tls';

import type { Logger } from 'pino';

import { ServerStartError } from '../errors.js';
import { SOCKET_OPTIONS, bindServer } from './bind.js';
import { ByteStreamEnding, READY, destroyUnlessClosed } from './connection.js';
import { acceptProxied, socketPeer, startTls, unread } from './client-address.js';
import type { ClientPeer, ProxyPolicy } from './client-address.js';
import { readThroughSharedBuffer } from './shared-read.js';
import { acceptHandles } from './tcp-handle.js';
import type { SharedRead } from './shared-read.js';
import { StreamSink, TurnWriter } from './turn-writer.js';
import type {
  Admission,
  ByteStream,
  CloseReason,
  Connection,
  ConnectionEnd,
  ConnectionListener,
  Listener,
  Refusal,
  TlsFiles,
} from './connection.js';

/** Options of a TCP listener. */
export interface TcpListenOptions {
  host: string;
  port: number;
  /** Certificate and key in PEM; when given, clients must speak TLS. */
  tls?: TlsFiles | undefined;
  /** Milliseconds a client has to complete the TLS handshake (and a proxy to send its PROXY header). */
  handshakeTimeoutMs: number;
  /** Unread output, in bytes, past which a client that does not read is dropped. */
  maxOutputBuffer: number;
  admission: Admission;
  /** Whether connections come through proxies that name the client in a PROXY header. */
  proxy: ProxyPolicy;
  /** Errors of sockets that never became sessions go here, at debug level. */
  logger: Logger;
  onConnection(connection: Connection): void;
}

/** Starts listening; rejects with ServerStartError when the address cannot be bound. */
export async function listenTcp(options: TcpListenOptions): Promise<Listener> {
  const secure = options.tls !== undefined;
  // Turned-away sockets belong to no session: the listener ends them, and drops them on close.
  const refused = new Set<net.Socket>();
  const turnAway = (socket: net.Socket, address: string, refusal: Refusal, canTell: boolean): void => {
    options.admission.refused(address, refusal);
    // A denied address is owed no word, and a TLS client before its handshake could not read one.
    if (!canTell || refusal.reason === 'denied' || refusal.reason === 'proxy') {
      socket.destroy();
      return;
    }
    refused.add(socket);
    socket.on('error', (err) => {
      options.logger.debug({ err, address }, 'socket error on a refused connection');
      socket.destroy();
    });
    socket.once('close', () => refused.delete(socket));
    socket.end(`${refusal.message}\r\n`);
    // A client that never closes its side would otherwise keep the listener from closing.
    destroyUnlessClosed(socket);
  };
  /** `isScreened`: its address was screened before any TLS work was done. */
  const refuses = (peer: ClientPeer, isScreened: boolean): Refusal | undefined =>
    (isScreened ? undefined : options.admission.screen(peer.address)) ?? options.admission.check(peer.address);
  const accept = (socket: net.Socket, peer: ClientPeer, isScreened: boolean): void => {
    const refusal = refuses(peer, isScreened);
    if (refusal !== undefined) {
      turnAway(socket, peer.address, refusal, true);
      return;
    }
    options.onConnection(new TcpConnection(socket, secure, options.maxOutputBuffer, peer));
  };

  let server: net.Server;
  let setTls: ((pem: TlsFiles) => void) | undefined;
  if (options.proxy.protocol) {
    let context = options.tls === undefined ? undefined : createSecureContext(options.tls);
    setTls = (pem) => (context = createSecureContext(pem));
    server = net.createServer(HALF_OPEN_SOCKET_OPTIONS, (socket) => {
      void acceptProxied(socket, options, turnAway, async (peer, rest) => {
        if (context === undefined) {
          unread(socket, rest);
          accept(socket, peer, true);
          return;
        }
        accept(await startTls(socket, rest, context, options.handshakeTimeoutMs), peer, true);
      });
    });
  } else if (options.tls !== undefined) {
    const tlsServer = createTlsServer(options.tls, options.handshakeTimeoutMs, (socket) =>
      accept(socket, socketPeer(socket), true),
    );
    // tls.Server has wrapped the raw socket by now, but the handshake waits for the client's
    // hello, read on a later turn: a refused address is closed before any TLS work is done.
    tlsServer.on('connection', (socket: net.Socket) => {
      const address = socket.remoteAddress ?? '';
      const refusal = options.admission.screen(address);
      if (refusal !== undefined) turnAway(socket, address, refusal, false);
    });
    // A TLS handshake that fails concerns one client only.
    tlsServer.on('tlsClientError', (err: Error, socket: net.Socket) => {
      options.logger.debug({ err, address: socket.remoteAddress }, 'TLS handshake failed');
      socket.destroy();
    });
    setTls = (pem) => tlsServer.setSecureContext(pem);
    server = tlsServer;
  } else {
    server = net.createServer(HALF_OPEN_SOCKET_OPTIONS, (socket) => accept(socket, socketPeer(socket), false));
  }

  const port = await bindServer(server, options.host, options.port);
  if (setTls === undefined && !options.proxy.protocol) {
    acceptHandles(
      server,
      (accepted) => {
        const peer = accepted.peer();
        const refusal = refuses(peer, false);
        if (refusal === undefined) options.onConnection(accepted.connect(options.maxOutputBuffer, peer));
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
        server.close(() => resolve());
        for (const socket of refused) socket.destroy();
      }),
  };
}

function createTlsServer(pem: TlsFiles, handshakeTimeout: number, accept: (socket: net.Socket) => void): tls.Server {
  try {
    return tls.createServer(
      { ...HALF_OPEN_SOCKET_OPTIONS, cert: pem.cert, key: pem.key, handshakeTimeout, minVersion: MIN_TLS_VERSION },
      accept,
    );
  } catch (err) {
    throw new ServerStartError(`invalid TLS certificate or key: ${(err as Error).message}`, { cause: err });
  }
}

export function createSecureContext(pem: TlsFiles): tls.SecureContext {
  try {
    return tls.createSecureContext({ cert: pem.cert, key: pem.key, minVersion: MIN_TLS_VERSION });
  } catch (err) {
    throw new ServerStartError(`invalid TLS certificate or key: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Sockets stay open for output after the client's half-close (its FIN, or TLS's close_notify),
 * until the session has answered what came before it (ConnectionListener.inputEnded). Node's
 * default ends them at once, and answers still being worked out were lost. A TLS socket started
 * after a PROXY header takes the setting from the socket (or stream) under it.
 */
const HALF_OPEN_SOCKET_OPTIONS: net.ServerOpts = { ...SOCKET_OPTIONS, allowHalfOpen: true };

/** TLS 1.0 and 1.1 are broken and deprecated (RFC 8996). */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** What a socket's shared listeners find their connection by. */
const CONNECTION = Symbol('connection');

type ConnectedSocket = net.Socket & { [CONNECTION]: TcpConnection };

// Assigned in TcpConnection's static block, where its protected members can be reached.
let socketError: (this: ConnectedSocket, error: Error) => void;
let socketClosed: (this: ConnectedSocket) => void;
let socketEnded: (this: ConnectedSocket) => void;
let socketData: (this: ConnectedSocket, bytes: Buffer) => void;
let socketRead: SharedRead;

/** A connection on a net.Socket or a TLS socket; on its own, or under WebSocket frames (an upgraded HTTP socket). */
export class TcpConnection extends ByteStreamEnding implements ByteStream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly proxyAddress: string | undefined;
  readonly sink: StreamSink;
  #socket: net.Socket;
  #writer: TurnWriter;

  constructor(
    socket: net.Socket,
    readonly secure: boolean,
    /** Output buffered beyond this many bytes means the peer stopped reading: drop it. */
    private readonly maxOutputBuffer: number,
    peer: ClientPeer,
  ) {
    super();
    this.#socket = socket;
    this.sink = new StreamSink(socket);
    this.#writer = new TurnWriter(this.sink);
    this.remoteAddress = peer.address;
    this.remotePort = peer.port;
    this.proxyAddress = peer.proxyAddress;
    (socket as ConnectedSocket)[CONNECTION] = this;
    // Errors end the connection; 'close' follows and is what sessions observe.
    socket.on('error', socketError);
    socket.on('close', socketClosed);
    // Every listener here serves half-open sockets (HALF_OPEN_SOCKET_OPTIONS): their end is ours to act on.
    socket.on('end', socketEnded);
  }

  get bytesIn(): number {
    return this.#socket.bytesRead;
  }

  get bytesOut(): number {
    return this.#socket.bytesWritten;
  }

  get isClosed(): boolean {
    return this.#socket.destroyed;
  }

  write(data: Uint8Array | string): Promise<void> {
    const writer = this.#writer;
    // Checked at the turn's first write; a socket ended later in the turn drops what is held then.
    if (!writer.isInTurn) {
      const socket = this.#socket;
      if (!socket.writable) return READY;
      writer.startTurn();
      // Output still waiting from earlier turns means the peer is not reading; what one turn
      // writes (a long listing, however large) has had no chance to leave yet and does not count.
      if (socket.writableLength > this.maxOutputBuffer) {
        this.#endFor({ reason: 'slow-consumer' });
        socket.destroy();
        return READY;
      }
    }
    return writer.write(data);
  }

  endTurn(): void {
    this.#writer.endTurn();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  close(_reason: CloseReason): Promise<void> {
    // A byte stream has no way to say why; the session's last line says it to the user.
    const socket = this.#socket;
    if (!socket.destroyed) {
      this.#endFor({ reason: 'local' });
      this.#writer.flush();
      if (socket.readableEnded && socket.writableLength === 0 && !this.secure) {
        // The client has ended its side, and the kernel has all the output: closing the socket
        // sends it, then the FIN, and spares a shutdown and its round of callbacks.
        socket.destroy();
      } else {
        socket.end();
        // A peer that never reads would hold the socket half-open forever.
        destroyUnlessClosed(socket);
      }
    }
    return this.untilEnded();
  }

  destroy(): void {
    this.#endFor({ reason: 'local' });
    this.#socket.destroy();
  }

  override listen(listener: ConnectionListener): void {
    super.listen(listener);
    // 'data' brings what was read before the switch (a PROXY header's leftovers), and every read
    // where the switch cannot be made.
    this.#socket.on('data', socketData);
    readThroughSharedBuffer(this.#socket, socketRead);
    // A socket handed over paused, its PROXY header read, flows once someone listens.
    this.#socket.resume();
  }

  /** Records why the connection ends: the peer, where its end of the stream came first. */
  #endFor(end: ConnectionEnd): void {
    this.endFor(this.#socket.readableEnded ? { reason: 'peer-closed' } : end);
  }

  static {
    // Shared by every socket, which `this` is: a closure per socket and listener would cost memory.
    socketError = function (this: ConnectedSocket, error: Error): void {
      this[CONNECTION].#endFor({ reason: 'reset', error });
      this.destroy();
    };
    socketClosed = function (this: ConnectedSocket): void {
      this[CONNECTION].ended({ reason: 'peer-closed' });
    };
    socketEnded = function (this: ConnectedSocket): void {
      const connection = this[CONNECTION];
      const listener = connection.listener;
      if (listener === undefined) this.end();
      else listener.inputEnded(connection);
    };
    socketData = function (this: ConnectedSocket, bytes: Buffer): void {
      const connection = this[CONNECTION];
      connection.listener!.data(connection, bytes);
    };
    // Lent in place: a listener copies what it keeps (ConnectionListener.data).
    socketRead = function (this: net.Socket, length: number, shared: Buffer): void {
      socketData.call(this as ConnectedSocket, shared.subarray(0, length));
    };
  }
}
