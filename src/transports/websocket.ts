// WebSocket transport (RFC 6455): one HTTP(S) server per port serving pages and session upgrades.
import net from 'node:net';
import { Writable } from 'node:stream';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';

import { DeadlineWheel } from '../session/deadline-wheel.js';
import type { WheelEntry } from '../session/deadline-wheel.js';
import { ConnectionEnding, READY } from './connection.js';
import { readThroughSharedBuffer } from './shared-read.js';
import { encodeFrame } from './websocket-frame.js';
import { holdForTurn } from './turn.js';
import type { TurnBatch } from './turn.js';
import type {
  Admission,
  CloseReason,
  Connection,
  ConnectionListener,
  ControlMessage,
  Listener,
  Refusal,
  TlsFiles,
} from './connection.js';
import { RESUME_PARAMETER, controlMessageType, encodeControl, parseControl } from './control-channel.js';
import { requestPeer } from './client-address.js';
import type { ClientPeer, ProxyPolicy } from './client-address.js';
import {
  isScreenedPerRequest,
  isUnderPath,
  listenHttp,
  pathOf,
  queryOf,
  refusalStatus,
  rejectUpgrade,
  retryAfter,
} from './http.js';
import type { RequestRoute, UpgradeRoute } from './http.js';

/** Options of a WebSocket listener. */
export interface WebSocketListenOptions {
  host: string;
  port: number;
  tls?: TlsFiles | undefined;
  /** Milliseconds a client has for the TLS handshake and its upgrade request. */
  handshakeTimeoutMs: number;
  /** Unread output, in bytes, past which a client that does not read is dropped. */
  maxOutputBuffer: number;
  /** Upgrades are accepted on this path and below it ("/ws", "/ws/room"; never "/wsx"). */
  path: string;
  /** Origins allowed to connect; "*" allows all. */
  allowOrigins: readonly string[];
  /** Whether a request without Origin (not from a browser) is refused; otherwise it is allowed. */
  requireOrigin: boolean;
  /** Subprotocols we speak, in order of preference; the first one the client offers is chosen. */
  subprotocols: readonly string[];
  /** Seconds between pings; 0 = none. */
  pingInterval: number;
  /** Seconds to wait for the pong before the peer counts as gone. */
  pingTimeout: number;
  /** Largest inbound message in bytes; a larger one closes the connection with 1009. */
  maxMessageSize: number;
  /** Pages and other requests served on the same port. */
  routes: readonly RequestRoute[];
  /** Other upgrades on the same port (the session monitor), tried before the session path. */
  upgrades: readonly UpgradeRoute[];
  admission: Admission;
  /** Whether clients come through proxies, and which are believed about the client. */
  proxy: ProxyPolicy;
  /** Errors of sockets that never became sessions go here, at debug level. */
  logger: Logger;
  onConnection(connection: WebSocketConnection): void;
}

/** How a listener pings its clients: one wheel for all of them, not a timer per connection. */
interface Pings {
  wheel: DeadlineWheel;
  intervalMs: number;
  timeoutMs: number;
}

/** Pings and pong deadlines are kept to a tenth of the shorter of the two, and at least to a second. */
const PING_PRECISION = 0.1;
const PING_RESOLUTION_MAX_MS = 1000;

/** Below this many buffered bytes a write resolves at once. */
const WRITE_HIGH_WATER = 64 * 1024;
/** Output held for one frame beyond this many characters or bytes is framed at once. */
const HELD_LIMIT = 64 * 1024;
const CLOSE_GRACE_MS = 2000;
/** A frame's options, shared: ws copies them, so one literal per message was garbage at once. */
const TEXT_FRAME = Object.freeze({ binary: false });
const BINARY_FRAME = Object.freeze({ binary: true });

/** Starts an HTTP(S) server that upgrades `path` to WebSocket sessions and serves `routes`. */
export function listenWebSocket(options: WebSocketListenOptions): Promise<Listener> {
  const secure = options.tls !== undefined;
  const pings = pingsFor(options);
  const sockets = new WebSocketServer({
    noServer: true,
    // ws's Set of clients is not needed here, and would hold closed ones a while (see ChurnMap).
    clientTracking: false,
    maxPayload: options.maxMessageSize,
    // Off, and needed off: a turn's frames go to the socket beside ws's own (#sendHeld), which
    // keeps their order only while ws queues nothing, as it does to compress.
    perMessageDeflate: false,
    handleProtocols: (offered) => options.subprotocols.find((name) => offered.has(name)) ?? false,
  });

  const sessionUpgrade: UpgradeRoute = (request, socket, head) => {
    const peer = requestPeer(request, options.proxy);
    const address = peer.address;
    const refuse = (refusal: Refusal): true => {
      options.admission.refused(address, refusal);
      rejectUpgrade(socket, ...refusalStatus(refusal), refusal.message, retryAfter(refusal));
      return true;
    };
    // Other clients had their address screened as the connection opened (listenHttp).
    if (isScreenedPerRequest(request, options.proxy)) {
      const screened = options.admission.screen(address);
      if (screened !== undefined) return refuse(screened);
    }
    const pathname = pathOf(request);
    if (!isUnderPath(pathname, options.path)) return refuse({ reason: 'path', message: 'Not Found' });
    const origin = request.headers.origin;
    if (origin === undefined && options.requireOrigin) {
      return refuse({ reason: 'origin', message: 'An Origin header is required' });
    }
    if (origin !== undefined && !isOriginAllowed(origin, options.allowOrigins)) {
      return refuse({ reason: 'origin', message: `Origin ${origin} is not allowed` });
    }
    const query = queryOf(request);
    const refusal = options.admission.check(address, query?.get(RESUME_PARAMETER) ?? undefined);
    if (refusal !== undefined) return refuse(refusal);
    // The 101 answer waits for the session's first output (its welcome, at the end of the turn):
    // both leave in one write, as one segment the client reads at once.
    socket.cork();
    let isHandedOver = false;
    sockets.handleUpgrade(request, socket, head, (ws) => {
      isHandedOver = true;
      // ws listens for 'data', which the shared buffer's reads emit as the socket's own would.
      if (socket instanceof net.Socket) readThroughSharedBuffer(socket);
      options.onConnection(
        new WebSocketConnection(ws, socket, peer, pathname, query, secure, options.maxOutputBuffer, pings),
      );
    });
    // Refused by ws (a bad key, a closing server): its answer goes now.
    if (!isHandedOver) socket.uncork();
    return true;
  };

  return listenHttp({
    host: options.host,
    port: options.port,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    tls: options.tls,
    proxy: options.proxy,
    admission: options.admission,
    routes: options.routes,
    upgrades: [...options.upgrades, sessionUpgrade],
    logger: options.logger,
  });
}

function pingsFor(options: WebSocketListenOptions): Pings | undefined {
  if (options.pingInterval <= 0) return undefined;
  const intervalMs = options.pingInterval * 1000;
  const timeoutMs = options.pingTimeout * 1000;
  const resolutionMs = Math.min(PING_RESOLUTION_MAX_MS, Math.min(intervalMs, timeoutMs) * PING_PRECISION);
  return { wheel: new DeadlineWheel(resolutionMs), intervalMs, timeoutMs };
}

function isOriginAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes('*') || allowed.some((entry) => entry.toLowerCase() === origin.toLowerCase());
}

/** WebSocket close codes (RFC 6455 section 7.4.1) and words for each reason we close. */
const CLOSE_FRAMES: Record<CloseReason, { code: number; reason: string }> = {
  'handler-ended': { code: 1000, reason: 'Session ended' },
  'server-shutdown': { code: 1001, reason: 'Server shutting down' },
  'idle-timeout': { code: 1001, reason: 'Idle timeout' },
  'session-time-limit': { code: 1001, reason: 'Session time limit' },
  'handler-error': { code: 1011, reason: 'Internal error' },
  kicked: { code: 1008, reason: 'Disconnected by the server' },
  // A WebSocket has no half-close: this one only says the same as a normal end.
  'client-closed': { code: 1000, reason: 'Session ended' },
};
/** What the peer sent when it closed without a close frame (RFC 6455 section 7.1.5). */
const CLOSE_ABNORMAL = 1006;

/** What a WebSocket's shared listeners find their connection by. */
const CONNECTION = Symbol('connection');

type ConnectedWebSocket = WebSocket & { [CONNECTION]: WebSocketConnection };

// Assigned in WebSocketConnection's static block, where its private members can be reached.
let webSocketError: (this: WebSocket, error: Error & { code?: string }) => void;
let webSocketClosed: (this: WebSocket, code: number) => void;
let webSocketMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
let webSocketPong: (this: WebSocket) => void;

function connectionOf(ws: WebSocket): WebSocketConnection {
  return (ws as ConnectedWebSocket)[CONNECTION];
}

/** A WebSocket client as a Connection: text frames for strings, binary frames for bytes. */
export class WebSocketConnection extends ConnectionEnding implements Connection, WheelEntry, TurnBatch {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly proxyAddress: string | undefined;
  readonly path: string;
  readonly protocol: string;
  readonly resumeToken: string | undefined;
  /** The URL's query without the resume token, parsed when asked for: most sessions never ask. */
  #search: string;
  #ws: WebSocket;
  /** The message type that carries control messages, where the client chose one of our subprotocols. */
  #control: 'text' | 'binary' | undefined;
  /** Raw output bytes become text where binary messages carry control; a character may be cut between writes. */
  #rawText: TextDecoder | undefined;
  #socket: Duplex & { bytesRead?: number; bytesWritten?: number };
  #pings: Pings | undefined;
  /** When the next ping is due, and while a pong is awaited, when it is too late. */
  #pingAt = 0;
  #pongDeadline: number | undefined;
  /** Where this connection waits in its listener's ping wheel. */
  wheelSlot: WheelEntry[] | undefined;
  wheelIndex = 0;
  #maxOutputBuffer: number;
  #textListener: ((text: string) => void) | undefined;
  /**
   * Output of this turn not yet framed: a reply written in steps (the echo, the answer, the
   * prompt) leaves as one message, as a hand-written server would send it. Pieces of one kind
   * only: text for a text frame, or bytes for a binary one.
   */
  #held: string | Uint8Array[] | undefined;
  /** Text written goes in binary messages: the control channel has the text ones, or the layer is telnet's. */
  #isTextBinary: boolean;
  #heldLength = 0;
  #isInTurn = false;

  constructor(
    ws: WebSocket,
    /** The socket under `ws`, for its byte counts. */
    socket: Duplex,
    peer: ClientPeer,
    path: string,
    /** The URL's query, where it has one; its resume token is taken out. */
    query: URLSearchParams | undefined,
    readonly secure: boolean,
    maxOutputBuffer: number,
    pings: Pings | undefined,
  ) {
    super();
    this.#ws = ws;
    this.#maxOutputBuffer = maxOutputBuffer;
    this.#socket = socket;
    this.remoteAddress = peer.address;
    this.remotePort = peer.port;
    this.proxyAddress = peer.proxyAddress;
    this.resumeToken = query?.get(RESUME_PARAMETER) ?? undefined;
    query?.delete(RESUME_PARAMETER);
    this.#search = query?.toString() ?? '';
    this.path = path;
    this.protocol = ws.protocol;
    this.#control = controlMessageType(ws.protocol);
    this.#isTextBinary = this.#control === 'text';
    (ws as ConnectedWebSocket)[CONNECTION] = this;
    endParserOnce(ws);
    // The upgrade's answer is corked until the end of this first turn (listenWebSocket).
    this.#startTurn();
    ws.on('error', webSocketError);
    ws.on('close', webSocketClosed);
    if (pings !== undefined) {
      this.#pings = pings;
      this.#pingAt = Date.now() + pings.intervalMs;
      ws.on('pong', webSocketPong);
      pings.wheel.add(this, this.#pingAt);
    }
  }

  get framing(): 'message' {
    return 'message';
  }

  /** A new URLSearchParams each time: the session keeps the first it is given. */
  get query(): URLSearchParams {
    return new URLSearchParams(this.#search);
  }

  get bytesIn(): number {
    return this.#socket.bytesRead ?? 0;
  }

  get bytesOut(): number {
    return this.#socket.bytesWritten ?? 0;
  }

  get isClosed(): boolean {
    return this.#ws.readyState === this.#ws.CLOSED;
  }

  write(output: Uint8Array | string): Promise<void> {
    const ws = this.#ws;
    if (ws.readyState !== ws.OPEN) return READY;
    const data = this.#asData(output);
    // Raw bytes that end in part of a character wait for the rest.
    if (data.length === 0 && output.length > 0) return READY;
    const binary = typeof data !== 'string' || this.#isTextBinary;
    // Output still waiting from earlier turns means the peer is not reading (see TcpConnection).
    if (this.#startTurn() && ws.bufferedAmount > this.#maxOutputBuffer) {
      this.endFor({ reason: 'slow-consumer' });
      ws.terminate();
      return READY;
    }
    if (ws.bufferedAmount < WRITE_HIGH_WATER) {
      this.#hold(data);
      return READY;
    }
    this.#sendHeld();
    // The callback runs once this frame, and so everything before it, has gone out.
    return new Promise((resolve) => ws.send(data, binary ? BINARY_FRAME : TEXT_FRAME, () => resolve()));
  }

  /** The turn's output leaves as one frame. */
  endTurn(): void {
    this.#isInTurn = false;
    this.#sendHeld();
    // The first turn's: the upgrade's answer and the output held with it leave in one writev.
    if (this.#socket.writableCorked > 0) this.#socket.uncork();
  }

  /** Marks a write in this turn; true for the turn's first. */
  #startTurn(): boolean {
    if (this.#isInTurn) return false;
    this.#isInTurn = true;
    holdForTurn(this);
    return true;
  }

  /** Sends `text` as a text frame of its own, after the output before it (a GMCP message). */
  writeMessage(text: string): void {
    const ws = this.#ws;
    if (ws.readyState !== ws.OPEN) return;
    this.#sendHeld();
    ws.send(text, TEXT_FRAME);
  }

  #hold(data: Uint8Array | string): void {
    const held = this.#held;
    // Text and bytes that both go in binary messages still share the turn's one message.
    if (typeof data === 'string') {
      if (typeof held === 'string') this.#held = held + data;
      else if (held !== undefined && this.#isTextBinary) held.push(Buffer.from(data, 'utf8'));
      else {
        this.#sendHeld();
        this.#held = data;
      }
    } else if (Array.isArray(held)) {
      held.push(data);
    } else if (held !== undefined && this.#isTextBinary) {
      this.#held = [Buffer.from(held, 'utf8'), data];
    } else {
      this.#sendHeld();
      this.#held = [data];
    }
    this.#heldLength += data.length;
    if (this.#heldLength >= HELD_LIMIT) this.#sendHeld();
  }

  /** Frames what this turn has written so far. */
  #sendHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    this.#heldLength = 0;
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    // Straight to the socket, in order with ws's own frames: without compression ws queues none.
    this.#socket.write(encodeFrame(held, typeof held !== 'string' || this.#isTextBinary));
  }

  pause(): void {
    this.#ws.pause();
  }

  resume(): void {
    this.#ws.resume();
  }

  close(reason: CloseReason): Promise<void> {
    const ws = this.#ws;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      this.endFor({ reason: 'local' });
      this.#sendHeld();
      const frame = CLOSE_FRAMES[reason];
      ws.close(frame.code, frame.reason);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    }
    return this.untilEnded();
  }

  destroy(): void {
    this.endFor({ reason: 'local' });
    this.#ws.terminate();
  }

  override listen(listener: ConnectionListener): void {
    super.listen(listener);
    this.#ws.on('message', webSocketMessage);
  }

  sendTextAsBinary(): boolean {
    // Where the control channel has the binary messages, text must stay text.
    if (this.#control === 'binary') return false;
    this.#isTextBinary = true;
    return true;
  }

  /** Text frames go to `listener` rather than to the data listener (the gmcp.mudstandards.org subprotocol). */
  onTextFrame(listener: (text: string) => void): void {
    this.#textListener = listener;
  }

  control(message: ControlMessage): boolean {
    const ws = this.#ws;
    if (this.#control === undefined) return false;
    if (ws.readyState === ws.OPEN) {
      // In order with the output around it: a question's prompt before "hide what is typed".
      this.#sendHeld();
      const text = encodeControl(message);
      if (this.#control === 'binary') ws.send(Buffer.from(text, 'utf8'), BINARY_FRAME);
      else ws.send(text, TEXT_FRAME);
    }
    return true;
  }

  /** Output in the message type that carries data: the other one is control's. */
  #asData(output: Uint8Array | string): Uint8Array | string {
    if (this.#control === 'binary' && typeof output !== 'string') {
      this.#rawText ??= new TextDecoder();
      return this.#rawText.decode(output, { stream: true });
    }
    return output;
  }

  #message(data: RawData, isBinary: boolean): void {
    if (!isBinary && this.#textListener !== undefined) {
      this.#textListener(Buffer.from(toBytes(data)).toString('utf8'));
      return;
    }
    if (this.#control === undefined || isBinary !== (this.#control === 'binary')) {
      this.listener!.data(this, toBytes(data));
      return;
    }
    const facts = parseControl(Buffer.from(toBytes(data)).toString('utf8'));
    // The window size a client reports on its control channel.
    if (facts !== undefined) this.listener!.terminal(this, facts);
  }

  /** A ping or a pong deadline came up: the peer is pinged, or dropped for not answering the last ping. */
  due(now: number): number | undefined {
    const pings = this.#pings!;
    if (this.#pongDeadline !== undefined && now >= this.#pongDeadline) {
      this.endFor({ reason: 'timeout' });
      this.#ws.terminate();
      return undefined;
    }
    if (now >= this.#pingAt) {
      this.#ws.ping();
      this.#pongDeadline = now + pings.timeoutMs;
      this.#pingAt = now + pings.intervalMs;
    }
    return this.#pongDeadline === undefined ? this.#pingAt : Math.min(this.#pingAt, this.#pongDeadline);
  }

  static {
    // Shared by every WebSocket, which `this` is: a closure per connection and listener would cost memory.
    webSocketError = function (error) {
      const connection = connectionOf(this);
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        // ws has sent close 1009 already: give the peer the grace period to read it, since
        // destroying a socket with unread input resets it and the close frame is lost.
        connection.endFor({ reason: 'message-too-big' });
        setTimeout(() => this.terminate(), CLOSE_GRACE_MS).unref();
        return;
      }
      connection.endFor({ reason: 'reset', error });
      this.terminate();
    };
    webSocketClosed = function (code) {
      const connection = connectionOf(this);
      connection.#pings?.wheel.delete(connection);
      connection.ended(code === CLOSE_ABNORMAL ? { reason: 'reset' } : { reason: 'peer-closed' });
    };
    webSocketMessage = function (data, isBinary) {
      connectionOf(this).#message(data, isBinary);
    };
    webSocketPong = function () {
      connectionOf(this).#pongDeadline = undefined;
    };
  }
}

/**
 * ws ends its frame parser when the socket's peer ends, and again when the socket closes. Node
 * answers the second call by building an ERR_STREAM_ALREADY_FINISHED error, with a stack trace
 * as deep as it goes, that nobody sees: at a client's every abrupt disconnect (no close frame),
 * about a tenth of the server's work for the whole connection. The parser's `end` becomes one
 * that ignores a repeated call without a callback; where ws keeps no `_receiver`, nothing changes.
 */
function endParserOnce(ws: WebSocket): void {
  const parser = (ws as unknown as { _receiver?: Writable })._receiver;
  if (parser instanceof Writable) parser.end = endOnce as Writable['end'];
}

function endOnce(this: Writable, ...args: unknown[]): Writable {
  if (args.length === 0 && this.writableEnded) return this;
  return (Writable.prototype.end as (...args: unknown[]) => Writable).apply(this, args);
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
