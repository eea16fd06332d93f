// The one connection abstraction every transport produces and every session consumes.
import type { Duplex } from 'node:stream';

import type { TurnSink } from './turn-writer.js';

/** How inbound data is delimited: a byte stream, or messages that each end a line. */
export type Framing = 'stream' | 'message';

/** Why the session closes its connection; transports map it to what their protocol can say. */
export type CloseReason =
  | 'handler-ended'
  | 'handler-error'
  | 'server-shutdown'
  | 'idle-timeout'
  | 'session-time-limit'
  | 'kicked'
  /** The client ended its input (ConnectionListener.inputEnded), and all of it has been answered. */
  | 'client-closed';

/** How a connection ended, as its transport saw it. */
export interface ConnectionEnd {
  /**
   * 'local': we closed it; 'peer-closed': the client did; 'reset': it broke; 'timeout': the peer
   * stopped answering keepalives; 'slow-consumer': output piled up unread past the cap;
   * 'message-too-big': the peer sent more than the message size limit.
   */
  reason: 'local' | 'peer-closed' | 'reset' | 'timeout' | 'slow-consumer' | 'message-too-big';
  /** The socket error behind a 'reset', for the session's debug log. */
  error?: Error;
}

/** What a transport learned of the client's terminal outside the byte stream (an SSH pty request). */
export interface TerminalFacts {
  type?: string;
  cols?: number;
  rows?: number;
  environment?: Record<string, string>;
}

/**
 * What the server tells a client on its control channel, beside the session's text: the session's
 * resume token (docs/transports.md, "The control channel"), and whether typing is to be hidden.
 */
export type ControlMessage =
  /** `grace`: seconds the session waits for the client to come back with `token` after a drop. */
  { type: 'session'; token: string; resumed: boolean; grace: number } | { type: 'input'; hidden: boolean };

/**
 * What hears a connection. One object with shared methods, told which connection calls: a closure
 * per callback and connection would cost every idle session memory.
 */
export interface ConnectionListener {
  /**
   * Inbound bytes, in order. They are the listener's only until it returns: a transport may lend
   * a buffer that its next read overwrites, so a listener that keeps bytes for later keeps a copy.
   */
  data(connection: Connection, bytes: Uint8Array): void;
  /** The connection has ended; called once. */
  closed(connection: Connection, end: ConnectionEnd): void;
  /**
   * The peer sends nothing more: a half-close, as `printf 'look\n' | nc -N host port` makes. The
   * connection stays open for output, and the listener closes it once it has answered what came
   * before: until then nothing else will. Called once at most, after the last data; transports
   * without a half-close never call it.
   */
  inputEnded(connection: Connection): void;
  /** Terminal facts carried outside the byte stream; transports without any never call it. */
  terminal(connection: Connection, facts: TerminalFacts): void;
}

/** A live client connection, independent of the socket type under it. */
export interface Connection {
  readonly framing: Framing;
  /** The client's address: behind a trusted proxy, the one the proxy named. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The trusted proxy the client came through, if it did. */
  readonly proxyAddress?: string | undefined;
  /** The name the client logged in as, where the protocol has a login (SSH). */
  readonly user?: string | undefined;
  /** Whether the connection is encrypted (TLS, SSH). */
  readonly secure: boolean;
  /** The subprotocol agreed at the WebSocket handshake; "" for none. */
  readonly protocol: string;
  /** The path of the request that opened the connection (a WebSocket URL's path); "" for none. */
  readonly path: string;
  /** Parameters of the request that opened the connection (a WebSocket URL's query), if any. */
  readonly query: URLSearchParams;
  /**
   * The resume token the client presented to get a dropped session back (a WebSocket URL's
   * `resume` parameter, kept out of `query`); undefined for none.
   */
  readonly resumeToken: string | undefined;
  /** Bytes received and sent on the wire so far. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly isClosed: boolean;
  /** Sends data; resolves once the transport is ready for more (backpressure). */
  write(data: Uint8Array | string): Promise<void>;
  /** Stops and restarts delivery of inbound data, so a slow handler is not flooded. */
  pause(): void;
  resume(): void;
  /** Flushes pending output and closes, telling the peer why where the protocol can; idempotent. */
  close(reason: CloseReason): Promise<void>;
  /** Closes at once, dropping pending output. */
  destroy(): void;
  /** Hands inbound data, terminal facts and the connection's end to `listener`, from now on. */
  listen(listener: ConnectionListener): void;
  /**
   * A message transport's promise that text written from now on goes out in binary messages, as
   * the bytes of a binary protocol (telnet) do, so that its layer may write text rather than
   * encode every piece to bytes. True where it will; absent, or false, where text stays text.
   */
  sendTextAsBinary?(): boolean;
  /**
   * Writes now what this turn has held, where the transport holds output until the turn's end:
   * called once a session has written all it will for now (its welcome and prompt at the start;
   * on a byte stream, its answer to a read it handled without awaiting anything).
   */
  endTurn?(): void;
  /** Sends a control message where the client opted into a control channel; false where there is none. */
  control(message: ControlMessage): boolean;
}

/**
 * A byte-stream connection (TCP, TLS) that another protocol can carry its own framing on
 * (WebSocket): `sink` takes whole frames at once, beside the turn's batching of `write`.
 */
export interface ByteStream extends Connection {
  readonly sink: TurnSink;
}

/** A certificate and its private key, in PEM. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** A listening transport: turns accepted sockets into connections. */
export interface Listener {
  /** The address actually bound (port 0 becomes the real port). */
  readonly address: { host: string; port: number };
  /**
   * Serves new connections with this certificate from now on; connections already open keep
   * theirs. Throws (keeping the old one) when the pair is not valid. Only for TLS listeners.
   */
  setTls?(pem: TlsFiles): void;
  /** Stops accepting; existing connections are left to their sessions. */
  close(): Promise<void>;
}

/** Why a listener turned a client away, and what to tell it. */
export interface Refusal {
  /**
   * 'denied' by allow_ips/deny_ips, over the connection 'rate', or 'banned' for a while; 'proxy':
   * with proxy_protocol, not from a trusted proxy or without a valid PROXY header.
   */
  reason: 'capacity' | 'per-ip' | 'origin' | 'path' | 'shutdown' | 'denied' | 'rate' | 'banned' | 'proxy';
  message: string;
  /** Seconds after which trying again can succeed, where that is known (HTTP Retry-After). */
  retryAfter?: number;
}

/** What a listener asks its server about each new client, and tells it of clients it refused. */
export interface Admission {
  /**
   * Undefined to go on, or why the client's address alone turns it away; asked first, before
   * any work is spent on the client (a TLS handshake, an HTTP upgrade, telnet negotiation).
   */
  screen(remoteAddress: string): Refusal | undefined;
  /**
   * Asked after `screen`, when the client is about to become a session: undefined to accept. A
   * client with a live resume token takes back its session's place, so no limit turns it away.
   */
  check(remoteAddress: string, resumeToken?: string): Refusal | undefined;
  /** A client the listener itself turned away (bad path, origin), or one `screen` or `check` refused. */
  refused(remoteAddress: string, refusal: Refusal): void;
}

/** How long a closing connection may wait for the client to close its side before it is dropped. */
export const CLOSE_LINGER_MS = 2000;

/**
 * Destroys `stream` in `ms` unless it closes first: a client that never closes its side is
 * dropped, and one that does takes the timer with it. A timer left to fire would hold the stream,
 * and the session hanging on it, for the whole wait: under a run of short connections, a second
 * of closed sessions kept alive long enough for the young generation's collections to copy them
 * and move them to the old one (SSH connects about 2% slower for it, in turns by hand).
 */
export function destroyUnlessClosed(stream: Duplex, ms = CLOSE_LINGER_MS): void {
  if (stream.destroyed) return;
  const timer = setTimeout(() => stream.destroy(), ms).unref();
  stream.once('close', () => clearTimeout(timer));
}

/** A promise that is already settled, shared so fast writes allocate nothing. */
export const READY: Promise<void> = Promise.resolve();

/**
 * Whether what a hook returned is work still under way: a promise other than READY (whose writes
 * were taken at once). A JavaScript hook may also return nothing, which needs no waiting either.
 */
export function isPending(result: unknown): result is PromiseLike<unknown> {
  return result !== READY && typeof (result as PromiseLike<unknown> | undefined)?.then === 'function';
}

/**
 * How a connection ends, for the transports: the first reason seen wins, and listeners hear it
 * once the socket has closed. Fields, not a promise per connection: a promise is made only for a
 * caller of close() that waits.
 */
export abstract class ConnectionEnding {
  #end: ConnectionEnd | undefined;
  #isEnded = false;
  /** Who hears the connection: its end from here, its data and terminal facts from the transport. */
  protected listener: ConnectionListener | undefined;
  #closed: Promise<void> | undefined;
  #markClosed: (() => void) | undefined;

  /** Hands the connection's end to `listener`; a transport hands it its data too. */
  listen(listener: ConnectionListener): void {
    this.listener = listener;
    if (this.#isEnded) {
      const end = this.#end!;
      void READY.then(() => listener.closed(this.#connection, end));
    }
  }

  /** Records why the connection is ending, unless a reason was recorded before. */
  protected endFor(end: ConnectionEnd): void {
    this.#end ??= end;
  }

  /** The socket has closed: listeners hear why, in a later microtask as a promise would tell them. */
  protected ended(fallback: ConnectionEnd): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    const end = (this.#end ??= fallback);
    const listener = this.listener;
    // A promise job, not queueMicrotask: Node makes an AsyncResource and a bound function for each
    // of those, about three times the cost, once per connection.
    if (listener !== undefined) void READY.then(() => listener.closed(this.#connection, end));
    if (this.#markClosed !== undefined) void READY.then(this.#markClosed);
  }

  /** The transport's connection this is the ending of. */
  get #connection(): Connection {
    return this as unknown as Connection;
  }

  /** Resolves once the socket has closed and the listeners have heard. */
  protected untilEnded(): Promise<void> {
    this.#closed ??= this.#isEnded ? READY : new Promise((resolve) => (this.#markClosed = resolve));
    return this.#closed;
  }
}

/**
 * A connection on a plain byte stream (TCP, TLS): no URL, no subprotocol, no resume token, no
 * control channel. Getters, not fields: the same for every connection, they cost an idle one nothing.
 */
export abstract class ByteStreamEnding extends ConnectionEnding {
  get framing(): 'stream' {
    return 'stream';
  }

  get protocol(): string {
    return '';
  }

  get path(): string {
    return '';
  }

  /** A new empty query each time: a byte stream has no URL, and a shared one could be changed by a handler. */
  get query(): URLSearchParams {
    return new URLSearchParams();
  }

  get resumeToken(): undefined {
    return undefined;
  }

  control(): boolean {
    return false;
  }
}
