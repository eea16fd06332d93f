// The one connection abstraction every transport produces and every session consumes.

/** Which kind of socket carries a connection. */
export type ConnectionKind = 'tcp' | 'websocket';

/** How inbound data is delimited: a byte stream, or messages that each end a line. */
export type Framing = 'stream' | 'message';

/** Called for each chunk of inbound bytes, in order. */
export type DataListener = (bytes: Uint8Array) => void;

/** A live client connection, independent of the socket type under it. */
export interface Connection {
  readonly id: string;
  readonly kind: ConnectionKind;
  readonly framing: Framing;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Whether the connection is encrypted (TLS). */
  readonly secure: boolean;
  /** The subprotocol agreed at the WebSocket handshake; "" for none and for TCP. */
  readonly protocol: string;
  /** Parameters of the request that opened the connection (a WebSocket URL's query), if any. */
  readonly query: URLSearchParams;
  /** Bytes accepted by `write` that the peer has not taken yet. */
  readonly bufferedAmount: number;
  readonly isClosed: boolean;
  /** Sends data; resolves once the transport is ready for more (backpressure). */
  write(data: Uint8Array | string): Promise<void>;
  /** Stops and restarts delivery of inbound data, so a slow handler is not flooded. */
  pause(): void;
  resume(): void;
  /** Flushes pending output and closes; idempotent, resolves when closed. */
  close(): Promise<void>;
  /** Closes at once, dropping pending output. */
  destroy(): void;
  onData(listener: DataListener): void;
  onClose(listener: () => void): void;
}

/** A listening transport: turns accepted sockets into connections. */
export interface Listener {
  /** The address actually bound (port 0 becomes the real port). */
  readonly address: { host: string; port: number };
  /** Stops accepting; existing connections are left to their sessions. */
  close(): Promise<void>;
}

/** What a listener asks its server about each new client before accepting it. */
export interface Admission {
  /** Undefined to accept, or the reason to turn the client away. */
  check(remoteAddress: string): string | undefined;
}

let nextConnectionNumber = 0;

/** Returns a short id, unique within this process, for a new connection. */
export function newConnectionId(kind: ConnectionKind): string {
  nextConnectionNumber += 1;
  return `${kind}-${Date.now().toString(36)}-${nextConnectionNumber.toString(36)}`;
}

/** A promise that is already settled, shared so fast writes allocate nothing. */
export const READY: Promise<void> = Promise.resolve();
