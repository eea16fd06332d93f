// A session: one client's connection, its protocol layer and its handler, from connect to close.
import type { Logger } from 'pino';

import type { TransportName } from '../config/schema.js';
import { SessionClosedError } from '../errors.js';
import type { BaseHandler } from '../handlers/base-handler.js';
import type {
  OptionOutcome,
  SessionEndReason,
  SessionEventMap,
  SessionEventType,
  SessionInfo,
  TerminalSummary,
} from '../hub/events.js';
import type { HubMember, SessionHub } from '../hub/hub.js';
import { newSessionId } from '../hub/session-id.js';
import type { GmcpMessage } from '../telnet/gmcp.js';
import { optionName } from '../telnet/constants.js';
import type { MsdpCommand, MsdpVariables } from '../telnet/msdp.js';
import type {
  CloseReason,
  Connection,
  ConnectionEnd,
  ConnectionListener,
  TerminalFacts,
} from '../transports/connection.js';
import { READY, isPending } from '../transports/connection.js';
import { DeadlineWheel } from './deadline-wheel.js';
import type { WheelEntry } from './deadline-wheel.js';
import type { HandlerClass, ReadLineOptions, ServerContext, SessionHandle } from './handle.js';
import { SessionInput } from './input.js';
import type { InputTargets } from './input.js';
import type { InputToken } from './key-reader.js';
import type { InputMode, LayerEvents, SessionLayer, TerminalInfo } from './layer.js';
import { LazyLogger } from './lazy-logger.js';
import { LineEditor } from './line-editor.js';
import { NO_GMCP, NO_MSDP } from './out-of-band.js';
import type { GmcpChannel, MsdpChannel } from './out-of-band.js';
import { SessionOutput } from './output.js';
import type { ResumeTokens } from './resume-tokens.js';

/** Per-session limits, from the server's config. */
export interface SessionLimits {
  /** Seconds without input before the session is closed; 0 = never. */
  idleTimeout: number;
  /** Seconds the session may last at all; 0 = no limit. */
  maxSessionTime: number;
  maxLineLength: number;
  /** Seconds a session whose connection dropped waits for its client to resume it; 0 = off. */
  resumeGrace: number;
}

/** What a server gives each new session beside its connection: one object, shared by its sessions. */
export interface SessionOptions {
  /**
   * Builds the protocol layer of a connection (the first, and each one that resumes the session);
   * it reports changes through `events` and logs with the session's id.
   */
  createLayer(connection: Connection, events: LayerEvents, logger: LazyLogger): SessionLayer;
  handlerClass: HandlerClass;
  server: ServerContext;
  app: SessionHub;
  logger: Logger;
  limits: SessionLimits;
  /** The server's resume tokens, where limits.resumeGrace is above 0. */
  resumeTokens?: ResumeTokens<Session> | undefined;
  /** Called once the session has ended and its handler's onDisconnect has run, before `closed` resolves. */
  ended?: ((session: Session) => void) | undefined;
}

/** Session plumbing for the server and the base handler classes, kept off the handler's surface. */
export interface SessionControl {
  /** Starts the conversation: protocol negotiation, the handler's onConnect, then input. */
  start(session: Session): Promise<void> | void;
  /** Ends the session for `reason`, telling the user `message` first. */
  closeFor(session: Session, reason: CloseReason, message?: string): Promise<void>;
  /** Drops the connection at once, without a goodbye. */
  destroy(session: Session): void;
  /** Carries the session on over `connection`, whose client presented the session's resume token. */
  resume(session: Session, connection: Connection): void;
}

/**
 * How the base handler classes reach the line editor. A symbol from the global registry, not
 * a module-private function: a handler built on another copy of this package (a second
 * install, or the copy a TypeScript loader makes) must still reach a session of this one.
 */
export const EDIT_LINE: unique symbol = Symbol.for('chuk-protocol-server.editLine') as never;

/**
 * Asks a handler whether all its input goes to the line editor as received (receive is not
 * overridden), so that whole lines may skip the editor. Global, as EDIT_LINE is.
 */
export const EDITS_ALL_INPUT: unique symbol = Symbol.for('chuk-protocol-server.editsAllInput') as never;

/**
 * Hands a handler a completed line as processLine would, but answering with a plain boolean
 * where nothing was left to wait for: the default processLine must return a promise, and a
 * line whose command answered at once then costs none. Global, as EDIT_LINE is.
 */
export const HANDLE_LINE: unique symbol = Symbol.for('chuk-protocol-server.handleLine') as never;

/** A session as the base handler classes use it: the handle plus the line editor. */
export interface EditableSession extends SessionHandle {
  /** Applies one input token to the line editor; completed lines go to the handler. */
  [EDIT_LINE](token: InputToken): boolean | Promise<boolean>;
}

/** A lone ESC is the Escape key once nothing follows it for this long. */
const ESCAPE_QUIET_MS = 50;
const KICKED_MESSAGE = 'Disconnected by the server.';

/** Transports whose clients can present a resume token when they connect (a URL parameter, an SSH env variable). */
const PRESENTS_TOKENS: ReadonlySet<TransportName> = new Set(['websocket', 'ws_telnet', 'ssh']);

/** Connection ends that come without a goodbye, after which a session may wait to be resumed. */
const DROPS: ReadonlySet<ConnectionEnd['reason']> = new Set(['reset', 'timeout']);

/** How a connection's end reads as the session's end, when the session did not close it itself. */
const END_REASONS: Record<ConnectionEnd['reason'], SessionEndReason> = {
  local: 'handler-ended',
  'peer-closed': 'client-closed',
  reset: 'connection-lost',
  timeout: 'ping-timeout',
  'slow-consumer': 'slow-consumer',
  'message-too-big': 'message-too-big',
};

/**
 * A terminal nothing is known of, as sessions report it: shared, as observers that keep a session's
 * info (the monitor, for every session) replace its terminal rather than change it.
 */
const UNKNOWN_TERMINAL: TerminalSummary = Object.freeze({ type: undefined, cols: undefined, rows: undefined });

// Assigned in Session's static block, where the private members can be reached.
export let sessionControl!: SessionControl;

/** A session's yes-or-no states, as bits of one number. */
const HIDING_INPUT = 1;
/** Hidden input is masked (echoed as asterisks) rather than not echoed at all. */
const MASKING_INPUT = 2;
const CLIENT_HIDING = 4;
const RESUMABLE = 8;
const RESUMED_CONNECTION = 16;
const FINISHED = 32;
const CLOSING = 64;
const ENDED = 128;

/**
 * What a session holds only once something happens: it closes, drops, is asked for its query,
 * has a time limit or reads a lone ESC. Made then: most of their life, sessions need none of it.
 */
class Eventualities {
  /** Taken from the connection when first asked for (or when a resume replaces it): most handlers never ask. */
  query: URLSearchParams | undefined;
  /** When the connection dropped, while the session waits for its client. */
  detachedAt: number | undefined;
  graceTimer: NodeJS.Timeout | undefined;
  lifetimeTimer: NodeJS.Timeout | undefined;
  escapeTimer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
  closeReason: SessionEndReason | undefined;
  closing: Promise<void> | undefined;
  /** Made when first asked for: the server learns of the end through `ended`, and most handlers never ask. */
  closed: Promise<void> | undefined;
  markClosed: (() => void) | undefined;
}

/** Everything a session's callbacks object answers. */
type SessionCallbacks = LayerEvents & InputTargets & WheelEntry & ConnectionListener;

/**
 * A session's side of its connection, its layer and its input, also its place in the idle
 * deadlines: one small object per session whose methods are shared, where a closure per callback
 * would cost memory.
 */
let SessionCallbacks: new (session: Session) => SessionCallbacks;

/** Idle deadlines by idle timeout (seconds): sessions share a wheel, not a Timeout each. */
const IDLE_WHEELS = new Map<number, DeadlineWheel>();
/** An idle timeout is checked to within a tenth of itself, and never less often than each second. */
const IDLE_PRECISION = 0.1;
const IDLE_RESOLUTION_MAX_MS = 1000;

function idleWheel(idleTimeout: number): DeadlineWheel {
  let wheel = IDLE_WHEELS.get(idleTimeout);
  if (wheel === undefined) {
    wheel = new DeadlineWheel(Math.min(IDLE_RESOLUTION_MAX_MS, idleTimeout * 1000 * IDLE_PRECISION));
    IDLE_WHEELS.set(idleTimeout, wheel);
  }
  return wheel;
}

/** One client's session: created by a server for each accepted connection. */
export class Session implements EditableSession, HubMember {
  readonly id = newSessionId();
  #startedAt = Date.now();
  #handler: BaseHandler;
  #connection: Connection;
  #layer: SessionLayer;
  #callbacks: SessionCallbacks;
  /** The server's, shared by its sessions. */
  #options: SessionOptions;
  /** Of the first connection: a session resumed over another URL keeps what it started with. */
  #path: string;
  #logger: LazyLogger;
  #editor: LineEditor;
  #output: SessionOutput;
  #input: SessionInput;
  #user: string | undefined;
  #lastInputAt = Date.now();
  /**
   * The yes-or-no states (HIDING_INPUT and the others), and what only some sessions need, behind
   * the accessors below: a field each would cost every idle session 8 bytes.
   */
  #states = 0;
  #eventualities: Eventualities | undefined;

  get #createLayer(): SessionOptions['createLayer'] {
    return this.#options.createLayer;
  }

  get #server(): ServerContext {
    return this.#options.server;
  }

  get #app(): SessionHub {
    return this.#options.app;
  }

  get #limits(): SessionLimits {
    return this.#options.limits;
  }

  get #resumeTokens(): ResumeTokens<Session> | undefined {
    return this.#options.resumeTokens;
  }

  get #ended(): SessionOptions['ended'] {
    return this.#options.ended;
  }

  get #isHidingInput(): boolean {
    return this.#is(HIDING_INPUT);
  }

  set #isHidingInput(is: boolean) {
    this.#set(HIDING_INPUT, is);
  }

  get #hiddenEcho(): 'off' | 'mask' {
    return this.#is(MASKING_INPUT) ? 'mask' : 'off';
  }

  set #hiddenEcho(echo: 'off' | 'mask') {
    this.#set(MASKING_INPUT, echo === 'mask');
  }

  /** The client was told to hide what is typed (its control channel), as the layer could not. */
  get #isClientHiding(): boolean {
    return this.#is(CLIENT_HIDING);
  }

  set #isClientHiding(is: boolean) {
    this.#set(CLIENT_HIDING, is);
  }

  /** The client holds a resume token: a dropped connection then waits for it rather than ending the session. */
  get #isResumable(): boolean {
    return this.#is(RESUMABLE);
  }

  set #isResumable(is: boolean) {
    this.#set(RESUMABLE, is);
  }

  /** The present connection came with a resume token, as the control channel's session message says. */
  get #isResumedConnection(): boolean {
    return this.#is(RESUMED_CONNECTION);
  }

  set #isResumedConnection(is: boolean) {
    this.#set(RESUMED_CONNECTION, is);
  }

  get #isFinished(): boolean {
    return this.#is(FINISHED);
  }

  set #isFinished(is: boolean) {
    this.#set(FINISHED, is);
  }

  get #isClosing(): boolean {
    return this.#is(CLOSING);
  }

  set #isClosing(is: boolean) {
    this.#set(CLOSING, is);
  }

  /** The session has ended and onDisconnect has run. */
  get #isEnded(): boolean {
    return this.#is(ENDED);
  }

  set #isEnded(is: boolean) {
    this.#set(ENDED, is);
  }

  get #query(): URLSearchParams | undefined {
    return this.#eventualities?.query;
  }

  set #query(query: URLSearchParams | undefined) {
    if (query !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.query = query;
  }

  get #detachedAt(): number | undefined {
    return this.#eventualities?.detachedAt;
  }

  set #detachedAt(at: number | undefined) {
    if (at !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.detachedAt = at;
  }

  get #graceTimer(): NodeJS.Timeout | undefined {
    return this.#eventualities?.graceTimer;
  }

  set #graceTimer(timer: NodeJS.Timeout | undefined) {
    if (timer !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.graceTimer = timer;
  }

  get #lifetimeTimer(): NodeJS.Timeout | undefined {
    return this.#eventualities?.lifetimeTimer;
  }

  set #lifetimeTimer(timer: NodeJS.Timeout | undefined) {
    if (timer !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.lifetimeTimer = timer;
  }

  get #escapeTimer(): NodeJS.Timeout | undefined {
    return this.#eventualities?.escapeTimer;
  }

  set #escapeTimer(timer: NodeJS.Timeout | undefined) {
    if (timer !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.escapeTimer = timer;
  }

  get #abort(): AbortController | undefined {
    return this.#eventualities?.abort;
  }

  set #abort(abort: AbortController | undefined) {
    if (abort !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.abort = abort;
  }

  get #closeReason(): SessionEndReason | undefined {
    return this.#eventualities?.closeReason;
  }

  set #closeReason(reason: SessionEndReason | undefined) {
    if (reason !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.closeReason = reason;
  }

  get #closing(): Promise<void> | undefined {
    return this.#eventualities?.closing;
  }

  set #closing(closing: Promise<void> | undefined) {
    if (closing !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.closing = closing;
  }

  get #closed(): Promise<void> | undefined {
    return this.#eventualities?.closed;
  }

  set #closed(closed: Promise<void> | undefined) {
    if (closed !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.closed = closed;
  }

  get #markClosed(): (() => void) | undefined {
    return this.#eventualities?.markClosed;
  }

  set #markClosed(mark: (() => void) | undefined) {
    if (mark !== undefined || this.#eventualities !== undefined) this.#eventualitiesNow.markClosed = mark;
  }

  get #eventualitiesNow(): Eventualities {
    this.#eventualities ??= new Eventualities();
    return this.#eventualities;
  }

  /** Publishes a session event after the output written before it, which the event stream has in turns. */
  #publish<T extends SessionEventType>(type: T, event: SessionEventMap[T]): void {
    this.#output.publishPending();
    this.#app.events.publish(type, event);
  }

  #is(state: number): boolean {
    return (this.#states & state) !== 0;
  }

  #set(state: number, is: boolean): void {
    this.#states = is ? this.#states | state : this.#states & ~state;
  }

  static {
    sessionControl = {
      start: (session) => session.#start(),
      closeFor: (session, reason, message) => session.#closeFor(reason, message),
      destroy: (session) => session.#destroy(),
      resume: (session, connection) => session.#resume(connection),
    };
    SessionCallbacks = class implements LayerEvents, InputTargets, WheelEntry, ConnectionListener {
      readonly #session: Session;
      wheelSlot: WheelEntry[] | undefined;
      wheelIndex = 0;

      constructor(session: Session) {
        this.#session = session;
      }

      // A connection replaced by a resume is heard no more.
      data(connection: Connection, bytes: Uint8Array): void {
        const session = this.#session;
        if (connection !== session.#connection) return;
        session.#received(bytes);
        // A read answered in full, nothing awaited, is written now, as a hand-written server
        // writes in its read callback, rather than after every other socket read in this turn
        // (500 clients: tcp about 7% more round trips, telnet about 2%). A message transport
        // keeps its turn: the messages of one read are answered in one message.
        if (connection.framing === 'stream' && session.#input.isSettled) connection.endTurn?.();
      }

      closed(connection: Connection, end: ConnectionEnd): void {
        const session = this.#session;
        if (connection === session.#connection) session.#connectionEnded(end);
      }

      inputEnded(connection: Connection): void {
        const session = this.#session;
        if (connection === session.#connection) session.#input.endOfInput();
      }

      terminal(connection: Connection, facts: TerminalFacts): void {
        const session = this.#session;
        if (connection === session.#connection) session.#terminalFacts(facts);
      }

      changed(what: 'mode' | 'terminal' | 'size'): void {
        this.#session.#layerChanged(what);
      }

      option(code: number, side: 'local' | 'remote', outcome: OptionOutcome): void {
        const session = this.#session;
        session.#app.telnetOptions.count(code, side, outcome);
        if (session.#app.events.has('option')) {
          const option = optionName(code);
          session.#publish('option', { sessionId: session.id, option, side, enabled: outcome === 'enabled', outcome });
        }
      }

      gmcp({ message, data, text, isJson }: GmcpMessage): void {
        const session = this.#session;
        void session.#guard(() => session.#handler.onGmcp(message, data, { text, isJson }));
      }

      msdp(variables: MsdpVariables): void {
        const session = this.#session;
        void session.#guard(() => session.#handler.onMsdp(variables));
      }

      msdpCommand(command: MsdpCommand, names: string[]): void {
        const session = this.#session;
        void session.#guard(() => session.#handler.onMsdpCommand(command, names));
      }

      decode(bytes: Uint8Array, isLast: boolean): InputToken[] {
        return this.#session.#decode(bytes, isLast);
      }

      readLines(bytes: Uint8Array): string[] | undefined {
        return this.#session.#readLines(bytes);
      }

      typeLine(line: string, isOneOfMany: boolean): boolean {
        const session = this.#session;
        const echo = session.#editor.typeLine(line, isOneOfMany);
        if (echo === undefined) return false;
        // A line read whole is printable ASCII: its echo's one line end is the CR LF after it.
        session.#output.echo(echo, true);
        session.#output.lineEnded();
        return true;
      }

      linesTyped(): void {
        this.#session.#editor.storeTypedLines();
      }

      receive(token: InputToken): boolean | Promise<boolean> {
        const session = this.#session;
        // Published as the handler takes each key, so that keys typed ahead of a hidden
        // question count as hidden when that question takes them.
        if (session.#app.events.has('input') && session.#layer.mode === 'character') {
          session.#publishInput('keys', token.type === 'text' ? token.text : token.sequence, session.#isHidingInput);
        }
        return session.#handler.receive(token);
      }

      processLine(line: string): boolean | Promise<boolean> {
        const session = this.#session;
        if (session.#app.events.has('input')) session.#publishInput('line', line, false);
        // A line typed ahead was answered by the prompts shown since: what follows is the reply.
        session.#output.lineEnded();
        const handler = session.#handler as { [HANDLE_LINE]?: (line: string) => boolean | Promise<boolean> };
        return handler[HANDLE_LINE] === undefined ? session.#handler.processLine(line) : handler[HANDLE_LINE](line);
      }

      caught(err: unknown): false {
        return this.#session.#caught(err);
      }

      end(): Promise<void> {
        return this.#session.close();
      }

      inputDone(): void {
        void this.#session.#closeFor('client-closed', undefined);
      }

      /** The idle deadline came up: ends the session if no input came since, else says when it will be. */
      due(now: number): number | undefined {
        const session = this.#session;
        const { idleTimeout } = session.#limits;
        const deadline = session.#lastInputAt + idleTimeout * 1000;
        if (now < deadline) return deadline;
        session.#logger.info('idle timeout');
        void session.#closeFor('idle-timeout', `Idle for ${seconds(idleTimeout)}: closing the connection.`);
        return undefined;
      }
    };
  }

  constructor(connection: Connection, options: SessionOptions) {
    this.#connection = connection;
    this.#user = connection.user;
    this.#options = options;
    this.#path = connection.path;
    this.#logger = new LazyLogger(options.logger, 'session', this.id);
    this.#callbacks = new SessionCallbacks(this);
    this.#layer = this.#layerOver(this.#connection);
    this.#editor = new LineEditor({ maxLineLength: options.limits.maxLineLength });
    this.#output = new SessionOutput(this.id, this.#connection, this.#layer, this.#editor, this.#app.events);
    this.#input = new SessionInput(this.#connection, this.#callbacks);
    this.#handler = new options.handlerClass(this);
  }

  get startedAt(): Date {
    return new Date(this.#startedAt);
  }

  get server(): ServerContext {
    return this.#server;
  }

  get app(): SessionHub {
    return this.#app;
  }

  get logger(): Logger {
    return this.#logger.logger;
  }

  get transport(): TransportName {
    return this.#server.transport;
  }

  get remoteAddress(): string {
    return this.#connection.remoteAddress;
  }

  get remotePort(): number {
    return this.#connection.remotePort;
  }

  get proxyAddress(): string | undefined {
    return this.#connection.proxyAddress;
  }

  get isSecure(): boolean {
    return this.#connection.secure;
  }

  get path(): string {
    return this.#path;
  }

  get query(): URLSearchParams {
    this.#query ??= this.#connection.query;
    return this.#query;
  }

  get terminal(): TerminalInfo {
    return this.#layer.terminal;
  }

  get mode(): InputMode {
    return this.#layer.mode;
  }

  get serverEchoes(): boolean {
    return this.#layer.serverEchoes;
  }

  get user(): string | undefined {
    return this.#user;
  }

  get gmcp(): GmcpChannel {
    return this.#layer.gmcp ?? NO_GMCP;
  }

  get msdp(): MsdpChannel {
    return this.#layer.msdp ?? NO_MSDP;
  }

  set user(user: string | undefined) {
    if (user === this.#user) return;
    this.#user = user;
    if (this.#app.events.has('user')) {
      this.#publish('user', { sessionId: this.id, user });
    }
  }

  get isClosed(): boolean {
    return this.#isClosing;
  }

  get closed(): Promise<void> {
    if (this.#closed === undefined) {
      this.#closed = this.#isEnded ? Promise.resolve() : new Promise((resolve) => (this.#markClosed = resolve));
    }
    return this.#closed;
  }

  get signal(): AbortSignal {
    // Made on first use: most sessions never ask, and a controller per connection costs memory.
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#isClosing) this.#abort.abort(new SessionClosedError());
    }
    return this.#abort.signal;
  }

  info(): SessionInfo {
    const { type, cols, rows } = this.#layer.terminal;
    const connection = this.#connection;
    // One literal of fixed shape, the rare fields added after: spreading them in built every
    // summary (two a connection) property by property, at a few µs each.
    const info: SessionInfo = {
      id: this.id,
      instance: this.#app.instance,
      server: this.#server.name,
      transport: this.#server.transport,
      remoteAddress: connection.remoteAddress,
      remotePort: connection.remotePort,
      secure: connection.secure,
      startedAt: this.#startedAt,
      lastInputAt: this.#lastInputAt,
      user: this.#user,
      terminal:
        type === undefined && cols === undefined && rows === undefined ? UNKNOWN_TERMINAL : { type, cols, rows },
      bytesIn: connection.bytesIn,
      bytesOut: connection.bytesOut,
    };
    if (connection.proxyAddress !== undefined) info.proxyAddress = connection.proxyAddress;
    if (this.#detachedAt !== undefined) info.detachedAt = this.#detachedAt;
    return info;
  }

  write(text: string): Promise<void> {
    return this.#output.write(text);
  }

  writeLine(text: string): Promise<void> {
    return this.#output.writeLine(text);
  }

  writePrompt(prompt: string): Promise<void> {
    return this.#output.writePrompt(prompt);
  }

  writeRaw(data: Uint8Array | string): Promise<void> {
    return this.#output.writeRaw(data);
  }

  markPrompt(): Promise<void> {
    return this.#output.markPrompt();
  }

  /** Output from outside the conversation (a broadcast, a message): above the prompt. */
  notify(text: string): Promise<void> {
    return this.#output.write(text);
  }

  kick(message = KICKED_MESSAGE): Promise<void> {
    return this.#closeFor('kicked', message);
  }

  async readLine(prompt?: string, options: ReadLineOptions = {}): Promise<string> {
    const answer = this.#input.nextLine({ signal: options.signal, timeoutMs: options.timeoutMs });
    // If the session ends while the prompt is written, the rejection is seen by the await below.
    answer.catch(() => undefined);
    const echo = options.echo ?? true;
    if (echo !== true) this.#setHiddenInput(echo === 'mask' ? 'mask' : 'off');
    try {
      if (prompt !== undefined) await this.#output.writePrompt(prompt);
      const line = await answer;
      if (this.#app.events.has('input')) this.#publishInput('line', line, echo !== true);
      this.#output.lineEnded();
      return line;
    } catch (err) {
      // A question given up on (timeout, abort) is no longer on screen to redraw.
      if (!(err instanceof SessionClosedError)) this.#output.abandonPrompt();
      throw err;
    } finally {
      if (echo !== true) this.#setHiddenInput(undefined);
    }
  }

  close(message?: string): Promise<void> {
    return this.#closeFor('handler-ended', message);
  }

  offerResume(): string | undefined {
    const tokens = this.#resumeTokens;
    if (tokens === undefined || this.#limits.resumeGrace === 0 || this.#closing !== undefined || this.#isClosing) {
      return undefined;
    }
    if (!PRESENTS_TOKENS.has(this.#server.transport)) return undefined;
    this.#isResumable = true;
    const token = tokens.issue(this);
    // A client with a control channel (the browser page) holds the token just voided: it gets this one.
    this.#connection.control({
      type: 'session',
      token,
      resumed: this.#isResumedConnection,
      grace: this.#limits.resumeGrace,
    });
    return token;
  }

  [EDIT_LINE](token: InputToken): boolean | Promise<boolean> {
    return this.#editLine(token);
  }

  #start(): Promise<void> | void {
    this.#app.add(this);
    if (this.#app.events.has('session-started')) this.#app.events.publish('session-started', { session: this.info() });
    // Built only for a logger that writes it: every connect would pay for the fields otherwise.
    if (this.#logger.isLevelEnabled('debug')) {
      this.#logger.debug({ address: this.remoteAddress, transport: this.transport }, 'session started');
    }
    this.#connection.listen(this.#callbacks);
    this.#armTimers();
    this.#layer.start();
    this.#syncEditorEcho();
    this.#offerResume(false);
    // Lines wait for onConnect to finish, but keys flow so that onConnect can readLine().
    this.#input.holdLines(true);
    const isOpen = this.#guard(() => this.#handler.onConnect());
    if (isOpen === true) this.#input.holdLines(false);
    else if (isOpen === false) return this.close();
    else return isOpen.then((open) => (open ? this.#input.holdLines(false) : this.close()));
  }

  #closeFor(reason: CloseReason, message: string | undefined): Promise<void> {
    if (this.#isClosing) return this.closed;
    // A session on its way out is not to be resumed.
    this.#resumeTokens?.revoke(this);
    this.#closing ??= this.#close(reason, message);
    return this.#closing;
  }

  async #close(reason: CloseReason, message: string | undefined): Promise<void> {
    this.#closeReason ??= reason;
    // No one to tell: the session that waits for its client ends here.
    if (this.#detachedAt !== undefined) return this.#finish(reason);
    if (message !== undefined) await this.#output.write(`${message}\n`, true);
    this.#stopIO();
    await this.#connection.close(reason);
    return this.closed;
  }

  #destroy(): void {
    this.#stopIO();
    if (this.#detachedAt !== undefined) void this.#finish(this.#closeReason ?? 'server-shutdown');
    else this.#connection.destroy();
  }

  /** Gives the client a new resume token on its control channel, where resume is on and it has one. */
  #offerResume(resumed: boolean): void {
    const tokens = this.#resumeTokens;
    if (tokens === undefined || this.#limits.resumeGrace === 0) return;
    const token = tokens.issue(this);
    this.#isResumedConnection = resumed;
    this.#isResumable = this.#connection.control({ type: 'session', token, resumed, grace: this.#limits.resumeGrace });
    if (!this.#isResumable) tokens.revoke(this);
  }

  #connectionEnded(end: ConnectionEnd): void {
    if (end.error !== undefined) this.#logger.debug({ err: end.error }, 'connection error');
    const reason = this.#closeReason ?? END_REASONS[end.reason];
    if (this.#isResumable && DROPS.has(end.reason) && this.#closing === undefined && !this.#isClosing) {
      this.#detach(reason);
      return;
    }
    void this.#finish(reason);
  }

  /** The connection dropped: the handler, its readLine and its output wait resume_grace seconds for the client. */
  #detach(reason: SessionEndReason): void {
    this.#detachedAt = Date.now();
    this.#layer.dispose();
    this.#output.detach();
    clearTimeout(this.#escapeTimer);
    this.#logger.debug(
      { reason, grace: this.#limits.resumeGrace },
      'connection dropped; waiting for the client to resume',
    );
    if (this.#app.events.has('session-detached')) {
      this.#publish('session-detached', { sessionId: this.id, reason });
    }
    this.#graceTimer = setTimeout(() => void this.#finish(reason), this.#limits.resumeGrace * 1000);
    this.#graceTimer.unref();
  }

  /**
   * A new protocol layer over `connection`. A layer may wrap the connection (MCCP compression):
   * the session then reads and writes through the wrapper.
   */
  #layerOver(connection: Connection): SessionLayer {
    const layer = this.#createLayer(connection, this.#callbacks, this.#logger);
    this.#connection = layer.connection ?? connection;
    return layer;
  }

  /**
   * A client presented the session's token: the session carries on over its connection. A
   * connection that has not been seen to drop (a phone that changed networks) is let go.
   */
  #resume(connection: Connection): void {
    const old = this.#connection;
    this.#query ??= old.query;
    const wasDetached = this.#detachedAt !== undefined;
    clearTimeout(this.#graceTimer);
    // The address count follows the client to its new address.
    this.#app.remove(this);
    this.#connection = connection;
    this.#detachedAt = undefined;
    this.#app.add(this);
    if (!wasDetached) {
      this.#layer.dispose();
      old.destroy();
    }
    // Negotiated state belongs to the connection: a new one negotiates afresh.
    this.#layer = this.#layerOver(connection);
    connection = this.#connection;
    this.#input.attach(connection);
    connection.listen(this.#callbacks);
    this.#layer.start();
    this.#syncEditorEcho();
    this.#offerResume(true);
    this.#isClientHiding = false;
    if (this.#isHidingInput) this.#setHiddenInput(this.#hiddenEcho);
    void this.#output.attach(connection, this.#layer);
    this.#logger.debug({ address: connection.remoteAddress }, 'session resumed');
    if (this.#app.events.has('session-resumed')) {
      this.#publish('session-resumed', { session: this.info() });
    }
    void this.#guard(() => this.#handler.onResume());
  }

  #editLine(token: InputToken): boolean | Promise<boolean> {
    // Tab completes only where the server draws the line: a client that edits locally keeps its Tab.
    if (token.type === 'key' && token.name === 'tab' && this.#editor.echo === 'on') return this.#complete();
    if (token.type === 'key' && token.name === 'clear-screen') {
      this.#output.echo(this.#editor.clearScreen(this.#output.isPromptShown));
      return true;
    }
    const result = this.#editor.feed(token);
    this.#output.echo(result.echo);
    const { signal } = result;
    if (signal !== undefined) {
      this.#output.lineEnded();
      // The end of input comes after the lines entered before it; an interrupt cuts in at once.
      if (signal === 'eof') return this.#input.linesHandled().then(() => this.#handler.onInterrupt(signal));
      return this.#handler.onInterrupt(signal);
    }
    if (result.line !== undefined) {
      this.#output.lineEnded();
      this.#input.submitLine(result.line);
    }
    return true;
  }

  /** Asks the handler for candidates for the word before the cursor and completes it. */
  async #complete(): Promise<boolean> {
    const { word, line } = this.#editor.completionContext;
    let candidates: readonly string[] | undefined;
    try {
      candidates = await this.#handler.completeWord(word, line);
    } catch (err) {
      return this.#caught(err);
    }
    if (candidates !== undefined && !this.#isClosing) this.#output.echo(this.#editor.complete(candidates));
    return true;
  }

  /**
   * Whole lines straight from the bytes, where the handler leaves its input to the editor, and
   * no one watches keys one by one (a viewer of a session in character mode).
   */
  #readLines(bytes: Uint8Array): string[] | undefined {
    const layer = this.#layer;
    const handler = this.#handler as { [EDITS_ALL_INPUT]?: () => boolean };
    if (layer.readLines === undefined || handler[EDITS_ALL_INPUT]?.() !== true) return undefined;
    if (layer.mode === 'character' && this.#app.events.has('input')) return undefined;
    return layer.readLines(bytes);
  }

  #received(bytes: Uint8Array): void {
    // The idle deadline follows: its wheel reads this when the old deadline comes up.
    this.#lastInputAt = Date.now();
    this.#input.receive(bytes);
  }

  /** Bytes into keys through the protocol layer; `isLast`: nothing more waits to be read. */
  #decode(bytes: Uint8Array, isLast: boolean): InputToken[] {
    let tokens: InputToken[];
    try {
      tokens = this.#layer.receive(bytes);
    } catch (err) {
      this.#fail(err);
      return [];
    }
    // A lone ESC at the end of what has arrived may be the Escape key, or the start of a sequence cut by the network.
    if (isLast && bytes[bytes.length - 1] === 0x1b) this.#scheduleEscapeFlush();
    return tokens;
  }

  /** An input event, published when the handler takes the input: hidden is the taker's to say. */
  #publishInput(kind: 'line' | 'keys', text: string, hidden: boolean): void {
    this.#publish('input', { sessionId: this.id, kind, hidden, text: hidden ? undefined : text });
  }

  #terminalFacts(facts: TerminalFacts): void {
    const changed = this.#layer.learnTerminal(facts);
    if (changed.terminal) this.#layerChanged('terminal');
    if (changed.size) this.#layerChanged('size');
  }

  #layerChanged(what: 'mode' | 'terminal' | 'size'): void {
    if (what === 'mode') {
      this.#syncEditorEcho();
      return;
    }
    if (this.#app.events.has('terminal')) {
      const { type, cols, rows } = this.#layer.terminal;
      this.#publish('terminal', { sessionId: this.id, terminal: { type, cols, rows } });
    }
    if (what === 'size') {
      const { cols, rows } = this.#layer.terminal;
      this.#editor.width = cols;
      this.#editor.height = rows;
      if (cols !== undefined && rows !== undefined) {
        void this.#guard(() => this.#handler.onWindowSize(cols, rows));
      }
    }
  }

  /**
   * Runs handler code; an error ends this session only. Whether to go on: at once when the
   * handler answered synchronously, else once its promise settles.
   */
  #guard(run: () => Promise<boolean | void> | boolean | void): boolean | Promise<boolean> {
    let result: Promise<boolean | void> | boolean | void;
    try {
      result = run();
    } catch (err) {
      return this.#caught(err);
    }
    // What a write returns when the socket took the data: settled, and no turn to wait for.
    if (result === READY) return true;
    if (result instanceof Promise) {
      return result.then(
        (goOn) => goOn !== false,
        (err: unknown) => this.#caught(err),
      );
    }
    return result !== false;
  }

  /** A handler error: a readLine cut short by the session's end is expected; others end it. */
  #caught(err: unknown): false {
    if (!(this.#isClosing && err instanceof SessionClosedError)) this.#fail(err);
    return false;
  }

  #fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#logger.error({ err: error }, 'handler error; closing this session');
    try {
      const reported = this.#handler.onError(error);
      if (reported instanceof Promise) reported.catch(() => undefined);
    } catch {
      // onError itself failed: the session is closing anyway and the first error is logged.
    }
    void this.#closeFor('handler-error', undefined);
  }

  #setHiddenInput(echo: 'off' | 'mask' | undefined): void {
    this.#isHidingInput = echo !== undefined;
    if (echo !== undefined) this.#hiddenEcho = echo;
    const isServerDrawing = this.#layer.setHiddenInput(this.#isHidingInput);
    // A client that edits its own line can still hide it, if it has a control channel to be told on.
    if (this.#isHidingInput && !isServerDrawing) {
      this.#isClientHiding = this.#connection.control({ type: 'input', hidden: true });
    } else if (!this.#isHidingInput && this.#isClientHiding) {
      this.#isClientHiding = false;
      this.#connection.control({ type: 'input', hidden: false });
    }
    if (echo === undefined) this.#editor.echo = this.#layer.serverEchoes ? 'on' : 'off';
    // Where the client still echoes (nc, a browser text page) nothing can be hidden or masked.
    else if (!isServerDrawing) this.#editor.echo = 'off';
    else this.#editor.echo = echo === 'mask' ? 'mask' : 'hidden';
  }

  #syncEditorEcho(): void {
    if (this.#isHidingInput) return;
    this.#editor.echo = this.#layer.serverEchoes ? 'on' : 'off';
  }

  #armTimers(): void {
    const { idleTimeout, maxSessionTime } = this.#limits;
    if (idleTimeout > 0) idleWheel(idleTimeout).add(this.#callbacks, this.#lastInputAt + idleTimeout * 1000);
    if (maxSessionTime > 0) {
      this.#lifetimeTimer = setTimeout(() => {
        this.#logger.info('session time limit');
        void this.#closeFor(
          'session-time-limit',
          `This session has reached its time limit of ${seconds(maxSessionTime)}: closing the connection.`,
        );
      }, maxSessionTime * 1000);
      this.#lifetimeTimer.unref();
    }
  }

  #scheduleEscapeFlush(): void {
    clearTimeout(this.#escapeTimer);
    this.#escapeTimer = setTimeout(() => this.#input.enqueue(this.#layer.flush()), ESCAPE_QUIET_MS);
    this.#escapeTimer.unref();
  }

  /** No more input or output: the session is on its way out. */
  #stopIO(): void {
    this.#isClosing = true;
    this.#output.isClosed = true;
    this.#input.isClosed = true;
    if (this.#limits.idleTimeout > 0) idleWheel(this.#limits.idleTimeout).delete(this.#callbacks);
    clearTimeout(this.#lifetimeTimer);
    clearTimeout(this.#escapeTimer);
  }

  /** The real end, once: after the connection closed, or the grace period of a dropped one ran out. */
  #finish(reason: SessionEndReason): Promise<void> {
    if (this.#isFinished) return this.closed;
    this.#isFinished = true;
    clearTimeout(this.#graceTimer);
    this.#resumeTokens?.revoke(this);
    this.#stopIO();
    this.#layer.dispose();
    this.#input.close();
    this.#editor.dispose();
    if (this.#logger.isLevelEnabled('debug')) this.#logger.debug({ reason }, 'session ended');
    // What the session wrote last is its watchers' before they hear that it ended.
    this.#output.publishPending();
    this.#app.remove(this);
    if (this.#app.events.has('session-ended')) {
      this.#app.events.publish('session-ended', { session: this.info(), reason });
    }
    this.#abort?.abort(new SessionClosedError());
    let disconnected: Promise<void> | undefined;
    try {
      disconnected = this.#handler.onDisconnect();
    } catch (err) {
      this.#logger.error({ err }, 'onDisconnect failed');
    }
    // The default onDisconnect has nothing to wait for: the session ends in this turn.
    if (!isPending(disconnected)) return this.#markEnded();
    return disconnected.then(
      () => this.#markEnded(),
      (err: unknown) => {
        this.#logger.error({ err }, 'onDisconnect failed');
        return this.#markEnded();
      },
    );
  }

  #markEnded(): Promise<void> {
    this.#isEnded = true;
    this.#ended?.(this);
    this.#markClosed?.();
    return READY;
  }
}

/** "1 second", "90 seconds". */
function seconds(count: number): string {
  return `${count} second${count === 1 ? '' : 's'}`;
}
