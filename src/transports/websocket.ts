// WebSocket transport (RFC 6455): one HTTP(S) server per port serving pages and session upgrades.
// A session's frames are read and written here, on the byte connection under them. On a plain
// port that is the socket's libuv handle, whose upgrade request is read and answered here too:
// Node's HTTP server, a net.Socket and ws's WebSocket, Receiver and Sender cost more per connect
// than everything else a session does (docs/performance.md). Behind TLS or a PROXY header, and
// for any request not plainly a session's upgrade (a page, the monitor, anything unusual), Node's
// HTTP server reads it; an upgrade it hands over gets its frames here just the same.
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';

import type { Logger } from 'pino';

import { DeadlineWheel } from '../session/deadline-wheel.js';
import type { WheelEntry } from '../session/deadline-wheel.js';
import { ConnectionEnding, READY } from './connection.js';
import type {
  Admission,
  ByteStream,
  CloseReason,
  Connection,
  ConnectionEnd,
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
  refuseSocket,
  rejectUpgrade,
  retryAfter,
  targetPath,
  targetQuery,
} from './http.js';
import type { HandOver, RequestRoute, UpgradeRoute } from './http.js';
import { TcpConnection } from './tcp.js';
import type { AcceptedHandle } from './tcp-handle.js';
import { holdForTurn } from './turn.js';
import type { TurnBatch } from './turn.js';
import { FrameDecoder } from './websocket-decoder.js';
import type { FrameSink } from './websocket-decoder.js';
import { encodeCloseFrame, encodeFrame, encodePingFrame, encodePongFrame } from './websocket-frame.js';
import { asksToUpgrade, checkUpgrade, headEnd, parseRequestHead, switchingProtocols } from './websocket-handshake.js';
import type { UpgradeAsk, UpgradeFault } from './websocket-handshake.js';

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
  /** Other upgrades on the same port (the session monitor), each on a path of its own. */
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

/** What a session's connection is opened with, from its upgrade request. */
interface Opening {
  /** The server's answer to the upgrade: it leaves with the session's first output, in one write. */
  answer: string;
  path: string;
  query: URLSearchParams | undefined;
  protocol: string;
  /** Bytes that came after the request's head: the client's first frames. */
  early: Buffer;
  maxMessageSize: number;
  pings: Pings | undefined;
  maxOutputBuffer: number;
}

/** Pings and pong deadlines are kept to a tenth of the shorter of the two, and at least to a second. */
const PING_PRECISION = 0.1;
const PING_RESOLUTION_MAX_MS = 1000;

/** Output held for one frame beyond this many characters or bytes is framed at once. */
const HELD_LIMIT = 64 * 1024;
/** How long our close frame waits for the client's before the connection is dropped. */
const CLOSE_GRACE_MS = 2000;
const NO_BYTES = Buffer.alloc(0);
/** What Node's HTTP server answers a request whose head is not complete in time. */
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';

/** Starts an HTTP(S) server that upgrades `path` to WebSocket sessions and serves `routes`. */
export function listenWebSocket(options: WebSocketListenOptions): Promise<Listener> {
  const secure = options.tls !== undefined;
  const pings = pingsFor(options);
  const routedPaths = new Set(options.upgrades.map((route) => route.path));
  /**
   * Answers an upgrade that is refused: `answer` is rejectUpgrade for a socket Node's HTTP server
   * upgraded, refuseSocket for one read off its handle, which no server watches.
   */
  const refuse = (socket: Duplex, address: string, refusal: Refusal, answer = rejectUpgrade): void => {
    options.admission.refused(address, refusal);
    answer(socket, ...refusalStatus(refusal), refusal.message, retryAfter(refusal));
  };
  /** Answers an upgrade request that is not a valid one (ws's statuses and words). */
  const refuseAsk = (socket: Duplex, fault: UpgradeFault, answer = rejectUpgrade): void =>
    answer(socket, fault.status, http.STATUS_CODES[fault.status]!, fault.message, fault.headers);
  /** Why a client may not open a session here: the path, its origin, or the server's limits. */
  const refusalOf = (
    pathname: string,
    origin: string | undefined,
    address: string,
    query: URLSearchParams | undefined,
  ): Refusal | undefined => {
    if (!isUnderPath(pathname, options.path)) return { reason: 'path', message: 'Not Found' };
    if (origin === undefined && options.requireOrigin) {
      return { reason: 'origin', message: 'An Origin header is required' };
    }
    if (origin !== undefined && !isOriginAllowed(origin, options.allowOrigins)) {
      return { reason: 'origin', message: `Origin ${origin} is not allowed` };
    }
    return options.admission.check(address, query?.get(RESUME_PARAMETER) ?? undefined);
  };
  const open = (
    stream: ByteStream,
    ask: UpgradeAsk,
    path: string,
    query: URLSearchParams | undefined,
    early: Buffer,
  ) => {
    const protocol = options.subprotocols.find((name) => ask.protocols.has(name)) ?? '';
    const opening: Opening = {
      answer: switchingProtocols(ask.key, protocol === '' ? undefined : protocol),
      path,
      query,
      protocol,
      early,
      maxMessageSize: options.maxMessageSize,
      pings,
      maxOutputBuffer: options.maxOutputBuffer,
    };
    options.onConnection(new WebSocketConnection(stream, opening));
  };

  /** A session's upgrade that Node's HTTP server read (TLS, a PROXY header, or a request handed over). */
  const upgradeRequest = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const peer = requestPeer(request, options.proxy);
    // Other clients had their address screened as the connection opened (listenHttp).
    if (isScreenedPerRequest(request, options.proxy)) {
      const screened = options.admission.screen(peer.address);
      if (screened !== undefined) return refuse(socket, peer.address, screened);
    }
    const path = pathOf(request);
    const query = queryOf(request);
    const refusal = refusalOf(path, request.headers.origin, peer.address, query);
    if (refusal !== undefined) return refuse(socket, peer.address, refusal);
    const ask = checkUpgrade(request.method ?? '', (name) => headerText(request.headers[name]));
    if ('status' in ask) return refuseAsk(socket, ask);
    open(new TcpConnection(socket as net.Socket, secure, options.maxOutputBuffer, peer), ask, path, query, head);
  };

  /**
   * A plain port's client, on its socket's handle: its request's head is read here, and a
   * session's upgrade answered; anything else goes to Node's HTTP server as it came.
   */
  const takeHandle = (accepted: AcceptedHandle, peer: ClientPeer, handOver: HandOver): void => {
    let received: Buffer | undefined;
    const timer = setTimeout(() => {
      const socket = accepted.toSocket();
      socket.on('error', () => socket.destroy());
      socket.end(REQUEST_TIMEOUT);
      socket.destroySoon();
    }, options.handshakeTimeoutMs).unref();
    accepted.readFirst((bytes) => {
      if (bytes === undefined) {
        clearTimeout(timer);
        accepted.close();
        return false;
      }
      received = received === undefined ? bytes : Buffer.concat([received, bytes]);
      const end = headEnd(received);
      if (end === -1 && received.length < http.maxHeaderSize) return true;
      clearTimeout(timer);
      if (end === -1 || !upgradeHandle(accepted, peer, received, end)) handOver(accepted, received);
      return false;
    });
  };
  /** Answers a session's upgrade read off a handle; false for a request Node's HTTP server is to answer. */
  const upgradeHandle = (accepted: AcceptedHandle, peer: ClientPeer, received: Buffer, end: number): boolean => {
    const request = parseRequestHead(received.subarray(0, end));
    if (request === undefined || !asksToUpgrade(request.headers)) return false;
    const path = targetPath(request.target);
    if (routedPaths.has(path)) return false;
    const query = targetQuery(request.target);
    const refusal = refusalOf(path, request.headers.get('origin'), peer.address, query);
    if (refusal !== undefined) {
      refuse(accepted.toSocket(), peer.address, refusal, refuseSocket);
      return true;
    }
    const ask = checkUpgrade(request.method, (name) => request.headers.get(name));
    if ('status' in ask) {
      refuseAsk(accepted.toSocket(), ask, refuseSocket);
      return true;
    }
    // A copy, where the client sent frames with its request: a frame or two do not keep the head's buffer alive.
    const early = end === received.length ? NO_BYTES : Buffer.from(received.subarray(end));
    open(accepted.connect(options.maxOutputBuffer, peer), ask, path, query, early);
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
    upgrades: options.upgrades,
    otherUpgrade: upgradeRequest,
    takeHandle,
    logger: options.logger,
  });
}

function headerText(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.join(', ');
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
const MESSAGE_TOO_BIG = 1009;
/** Every ping is the same empty frame. */
const PING_FRAME = encodePingFrame();

// Assigned in WebSocketConnection's static block, where its private members can be reached.
let frameMessage: (connection: WebSocketConnection, payload: Buffer, isBinary: boolean) => void;
let framePing: (connection: WebSocketConnection, payload: Buffer) => void;
let framePong: (connection: WebSocketConnection) => void;
let frameClose: (connection: WebSocketConnection, code: number) => void;
let frameFault: (connection: WebSocketConnection, code: number, reason: string) => void;
let streamInputEnded: (connection: WebSocketConnection) => void;
let streamClosed: (connection: WebSocketConnection, end: ConnectionEnd) => void;

/**
 * What hears the byte connection under a WebSocket, and the frames decoded from it: one object
 * for both, beside its connection, rather than a closure per callback.
 */
class Wire implements ConnectionListener, FrameSink {
  readonly decoder: FrameDecoder;

  constructor(
    readonly connection: WebSocketConnection,
    maxMessageSize: number,
  ) {
    this.decoder = new FrameDecoder(this, maxMessageSize);
  }

  data(_stream: Connection, bytes: Uint8Array): void {
    this.decoder.push(bytes);
  }

  closed(_stream: Connection, end: ConnectionEnd): void {
    streamClosed(this.connection, end);
  }

  inputEnded(): void {
    streamInputEnded(this.connection);
  }

  terminal(): void {
    // A byte stream under WebSocket frames carries no terminal facts of its own.
  }

  message(payload: Buffer, isBinary: boolean): void {
    frameMessage(this.connection, payload, isBinary);
  }

  ping(payload: Buffer): void {
    framePing(this.connection, payload);
  }

  pong(): void {
    framePong(this.connection);
  }

  close(code: number): void {
    frameClose(this.connection, code);
  }

  fail(code: number, reason: string): void {
    frameFault(this.connection, code, reason);
  }
}

/** A WebSocket client as a Connection: text frames for strings, binary frames for bytes. */
export class WebSocketConnection extends ConnectionEnding implements Connection, WheelEntry, TurnBatch {
  readonly path: string;
  readonly protocol: string;
  readonly resumeToken: string | undefined;
  /** The URL's query without the resume token, parsed when asked for: most sessions never ask. */
  #search: string;
  /** The byte connection the frames travel on. */
  readonly #stream: ByteStream;
  readonly #wire: Wire;
  /** The message type that carries control messages, where the client chose one of our subprotocols. */
  #control: 'text' | 'binary' | undefined;
  /** Raw output bytes become text where binary messages carry control; a character may be cut between writes. */
  #rawText: TextDecoder | undefined;
  #pings: Pings | undefined;
  /** When the next ping is due, and while a pong is awaited, when it is too late. */
  #pingAt = 0;
  #pongDeadline: number | undefined;
  /** Where this connection waits in its listener's ping wheel. */
  wheelSlot: WheelEntry[] | undefined;
  wheelIndex = 0;
  #maxOutputBuffer: number;
  #textListener: ((text: string) => void) | undefined;
  /** The answer to the upgrade, until it has gone out with the first frame. */
  #answer: string | undefined;
  /** The client's first frames, sent with its request: decoded once the session listens. */
  #early: Buffer | undefined;
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
  /** Our close frame has gone: no frame follows it. */
  #isCloseSent = false;
  /** The client's close frame has come: the end of its stream that follows is a normal one. */
  #isCloseReceived = false;
  /** Drops a client that never answers our close frame; cleared when the stream closes (see destroyUnlessClosed). */
  #closeGrace: NodeJS.Timeout | undefined;
  /** Whether the stream wanted a drain at the last frame sent; writers then wait for it. */
  #needsDrain = false;
  #drained: Promise<void> | undefined;

  constructor(stream: ByteStream, opening: Opening) {
    super();
    this.#stream = stream;
    this.#wire = new Wire(this, opening.maxMessageSize);
    this.#maxOutputBuffer = opening.maxOutputBuffer;
    this.#answer = opening.answer;
    if (opening.early.length > 0) this.#early = opening.early;
    const query = opening.query;
    this.resumeToken = query?.get(RESUME_PARAMETER) ?? undefined;
    query?.delete(RESUME_PARAMETER);
    this.#search = query?.toString() ?? '';
    this.path = opening.path;
    this.protocol = opening.protocol;
    this.#control = controlMessageType(opening.protocol);
    this.#isTextBinary = this.#control === 'text';
    // The answer waits for the end of this first turn, to leave with the session's welcome.
    this.#startTurn();
    const pings = opening.pings;
    if (pings !== undefined) {
      this.#pings = pings;
      this.#pingAt = Date.now() + pings.intervalMs;
      pings.wheel.add(this, this.#pingAt);
    }
  }

  get framing(): 'message' {
    return 'message';
  }

  get remoteAddress(): string {
    return this.#stream.remoteAddress;
  }

  get remotePort(): number {
    return this.#stream.remotePort;
  }

  get proxyAddress(): string | undefined {
    return this.#stream.proxyAddress;
  }

  get secure(): boolean {
    return this.#stream.secure;
  }

  /** A new URLSearchParams each time: the session keeps the first it is given. */
  get query(): URLSearchParams {
    return new URLSearchParams(this.#search);
  }

  get bytesIn(): number {
    return this.#stream.bytesIn;
  }

  get bytesOut(): number {
    return this.#stream.bytesOut;
  }

  get isClosed(): boolean {
    return this.#stream.isClosed;
  }

  /** Whether frames may still be sent: not after our close frame, nor once the stream is gone. */
  get #isOpen(): boolean {
    return !this.#isCloseSent && !this.#stream.isClosed;
  }

  write(output: Uint8Array | string): Promise<void> {
    if (!this.#isOpen) return READY;
    const data = this.#asData(output);
    // Raw bytes that end in part of a character wait for the rest.
    if (data.length === 0 && output.length > 0) return READY;
    // Output still waiting from earlier turns means the peer is not reading (see TcpConnection).
    if (this.#startTurn() && this.#stream.sink.pendingBytes > this.#maxOutputBuffer) {
      this.endFor({ reason: 'slow-consumer' });
      this.#stream.destroy();
      return READY;
    }
    this.#hold(data);
    return this.#needsDrain ? this.#drain() : READY;
  }

  /** The turn's output leaves as one frame. */
  endTurn(): void {
    this.#isInTurn = false;
    this.#sendHeld();
    // The first turn's: the answer to the upgrade goes even where the session wrote nothing.
    if (this.#answer !== undefined && this.#isOpen) this.#send(undefined);
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
    if (!this.#isOpen) return;
    this.#sendHeld();
    this.#send(encodeFrame(text, false));
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
    if (this.#isOpen) this.#send(encodeFrame(held, typeof held !== 'string' || this.#isTextBinary));
  }

  /** Sends a frame now, behind the answer to the upgrade while that has not gone. */
  #send(frame: Buffer | undefined): void {
    const sink = this.#stream.sink;
    if (!sink.writable) return;
    const answer = this.#answer;
    let isReady: boolean;
    if (answer === undefined) {
      isReady = sink.send(frame!);
    } else {
      this.#answer = undefined;
      isReady = frame === undefined ? sink.send(answer) : sink.sendAll([answer, frame]);
    }
    this.#needsDrain = !isReady;
  }

  #drain(): Promise<void> {
    this.#drained ??= this.#stream.sink.drained().then(() => {
      this.#drained = undefined;
      this.#needsDrain = false;
    });
    return this.#drained;
  }

  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    this.#stream.resume();
  }

  close(reason: CloseReason): Promise<void> {
    if (this.#isOpen) {
      this.endFor({ reason: 'local' });
      this.#sendHeld();
      const frame = CLOSE_FRAMES[reason];
      this.#sendClose(encodeCloseFrame(frame.code, frame.reason));
      // Reads go on for the client's close frame, which closes the stream; a client that never sends it is dropped.
      const stream = this.#stream;
      this.#closeGrace = setTimeout(() => stream.destroy(), CLOSE_GRACE_MS).unref();
    }
    return this.untilEnded();
  }

  /** Sends our close frame, after which no frame follows. */
  #sendClose(frame: Buffer): void {
    this.#send(frame);
    this.#isCloseSent = true;
    this.#pings?.wheel.delete(this);
  }

  destroy(): void {
    this.endFor({ reason: 'local' });
    this.#stream.destroy();
  }

  override listen(listener: ConnectionListener): void {
    super.listen(listener);
    const early = this.#early;
    if (early !== undefined) {
      this.#early = undefined;
      this.#wire.decoder.push(early);
    }
    this.#stream.listen(this.#wire);
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
    if (this.#control === undefined) return false;
    if (this.#isOpen) {
      // In order with the output around it: a question's prompt before "hide what is typed".
      this.#sendHeld();
      const text = encodeControl(message);
      this.#send(
        this.#control === 'binary' ? encodeFrame([Buffer.from(text, 'utf8')], true) : encodeFrame(text, false),
      );
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

  #message(payload: Buffer, isBinary: boolean): void {
    // The session has ended: what the client still sends is no one's.
    if (this.#isCloseSent) return;
    if (!isBinary && this.#textListener !== undefined) {
      this.#textListener(payload.toString('utf8'));
      return;
    }
    if (this.#control === undefined || isBinary !== (this.#control === 'binary')) {
      this.listener!.data(this, payload);
      return;
    }
    const facts = parseControl(payload.toString('utf8'));
    // The window size a client reports on its control channel.
    if (facts !== undefined) this.listener!.terminal(this, facts);
  }

  /** A ping or a pong deadline came up: the peer is pinged, or dropped for not answering the last ping. */
  due(now: number): number | undefined {
    const pings = this.#pings!;
    if (this.#pongDeadline !== undefined && now >= this.#pongDeadline) {
      this.endFor({ reason: 'timeout' });
      this.#stream.destroy();
      return undefined;
    }
    if (now >= this.#pingAt) {
      if (this.#isOpen) this.#send(PING_FRAME);
      this.#pongDeadline = now + pings.timeoutMs;
      this.#pingAt = now + pings.intervalMs;
    }
    return this.#pongDeadline === undefined ? this.#pingAt : Math.min(this.#pingAt, this.#pongDeadline);
  }

  static {
    frameMessage = (connection, payload, isBinary) => connection.#message(payload, isBinary);
    framePing = (connection, payload) => {
      if (connection.#isOpen) connection.#send(encodePongFrame(payload));
    };
    framePong = (connection) => {
      connection.#pongDeadline = undefined;
    };
    frameClose = (connection, code) => {
      connection.#isCloseReceived = true;
      if (!connection.#isCloseSent) {
        connection.endFor({ reason: 'peer-closed' });
        // The client's code, echoed (RFC 6455 section 5.5.1), after what this turn has written; an
        // empty close frame is answered with an empty one.
        connection.#sendHeld();
        connection.#sendClose(encodeCloseFrame(code, ''));
      }
      // Both close frames have gone: the stream ends once the client has its.
      void connection.#stream.close('handler-ended');
    };
    frameFault = (connection, code, reason) => {
      connection.endFor(
        code === MESSAGE_TOO_BIG ? { reason: 'message-too-big' } : { reason: 'reset', error: new Error(reason) },
      );
      if (!connection.#isOpen) return;
      // The client is told why (1002, 1007, 1009), and the stream closes after it has read that:
      // a socket closed with its input unread would be reset, and the close frame lost.
      connection.#sendHeld();
      connection.#sendClose(encodeCloseFrame(code, ''));
      void connection.#stream.close('handler-ended');
    };
    streamInputEnded = (connection) => {
      // A WebSocket has no half-close: the client's end without a close frame is an abnormal one (1006).
      if (!connection.#isCloseReceived) connection.endFor({ reason: 'reset' });
      void connection.#stream.close('handler-ended');
    };
    streamClosed = (connection, end) => {
      clearTimeout(connection.#closeGrace);
      connection.#pings?.wheel.delete(connection);
      connection.ended(end);
    };
  }
}
