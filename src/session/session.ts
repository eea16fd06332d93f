// A session: one client's connection, its protocol layer and its handler, with input ordering.
import type { Logger } from 'pino';

import { SessionClosedError } from '../errors.js';
import type { BaseHandler } from '../handlers/base-handler.js';
import type { Connection } from '../transports/connection.js';
import type { InputToken } from './key-reader.js';
import type { InputMode, SessionLayer, TerminalInfo } from './layer.js';
import { LineEditor } from './line-editor.js';

/** What a session and its handler may use of the server that runs them. */
export interface ServerContext {
  /** The configured server's name (the key under `servers:`). */
  readonly name: string;
  /** The configured transport, e.g. "telnet" or "websocket". */
  readonly transport: string;
  readonly welcomeMessage: string | undefined;
  /** Every live session of this server. */
  readonly sessions: ReadonlySet<Session>;
  /** Sends a line to every session of this server. */
  sendGlobalMessage(text: string): Promise<void>;
}

/** Watches a session's traffic (the session monitor taps here, once for every transport). */
export interface SessionObserver {
  input(session: Session, text: string): void;
  output(session: Session, text: string): void;
}

/** Per-session limits, from the server's config. */
export interface SessionLimits {
  /** Seconds without input before the session is closed; 0 = never. */
  idleTimeout: number;
  maxLineLength: number;
}

/** Options of a readLine call. */
export interface ReadLineOptions {
  /** false hides the typing (passwords); 'mask' shows one '*' per character where possible. */
  echo?: boolean | 'mask';
}

/** A handler class: constructed once per session; `inputMode` says line or character input. */
export type HandlerClass = (new (session: Session) => BaseHandler) & { readonly inputMode: InputMode };

/** Keys or lines queued beyond these pause reading from the socket until the handler catches up. */
const TOKENS_HIGH_WATER = 1024;
const LINES_HIGH_WATER = 64;
/** A lone ESC is the Escape key once nothing follows it for this long. */
const ESCAPE_QUIET_MS = 50;

/** One client's session: created by a server for each accepted connection. */
export class Session {
  readonly id: string;
  readonly connectedAt = new Date();
  readonly handler: BaseHandler;
  #connection: Connection;
  #layer: SessionLayer;
  #server: ServerContext;
  #logger: Logger;
  #editor: LineEditor;
  #limits: SessionLimits;
  #observer: SessionObserver | undefined;

  #tokens: InputToken[] = [];
  #tokenHead = 0;
  #isPumping = false;
  #isPaused = false;
  #lines: string[] = [];
  #isProcessingLines = false;
  #lineWaiter: { resolve(line: string): void; reject(err: Error): void } | undefined;
  #isHidingInput = false;

  #idleTimer: NodeJS.Timeout | undefined;
  #escapeTimer: NodeJS.Timeout | undefined;
  #isClosing = false;
  #closing: Promise<void> | undefined;
  #closed: Promise<void>;
  #markClosed!: () => void;

  constructor(options: {
    connection: Connection;
    layer: SessionLayer;
    handlerClass: HandlerClass;
    server: ServerContext;
    logger: Logger;
    limits: SessionLimits;
    observer?: SessionObserver | undefined;
  }) {
    this.#connection = options.connection;
    this.id = options.connection.id;
    this.#layer = options.layer;
    this.#server = options.server;
    this.#limits = options.limits;
    this.#observer = options.observer;
    this.#logger = options.logger.child({ session: this.id });
    this.#editor = new LineEditor({ maxLineLength: options.limits.maxLineLength });
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.handler = new options.handlerClass(this);
  }

  get server(): ServerContext {
    return this.#server;
  }

  get logger(): Logger {
    return this.#logger;
  }

  get transport(): string {
    return this.#server.transport;
  }

  get remoteAddress(): string {
    return this.#connection.remoteAddress;
  }

  get remotePort(): number {
    return this.#connection.remotePort;
  }

  get isSecure(): boolean {
    return this.#connection.secure;
  }

  /** Query parameters of the URL the client connected to (WebSocket), else empty. */
  get query(): URLSearchParams {
    return this.#connection.query;
  }

  get terminal(): TerminalInfo {
    return this.#layer.terminal;
  }

  get mode(): InputMode {
    return this.#layer.mode;
  }

  /** Whether the server echoes what the user types (the client does not). */
  get serverEchoes(): boolean {
    return this.#layer.serverEchoes;
  }

  get isClosed(): boolean {
    return this.#isClosing;
  }

  /** Resolves once the session has ended and its handler's onDisconnect has run. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Starts the conversation: protocol negotiation, the handler's onConnect, then input. */
  async start(): Promise<void> {
    this.#connection.onClose(() => void this.#finish());
    this.#connection.onData(this.#onData);
    this.#armIdleTimer();
    this.#layer.start();
    this.#syncEditorEcho();
    // Lines wait for onConnect to finish, but keys flow so that onConnect can readLine().
    this.#isProcessingLines = true;
    const isOpen = await this.#guard(() => this.handler.onConnect());
    this.#isProcessingLines = false;
    if (!isOpen) {
      await this.close();
      return;
    }
    if (this.#lines.length > 0) void this.#processLines();
  }

  /** Sends text; each newline goes out as CR LF. Resolves when the transport takes more. */
  write(text: string): Promise<void> {
    if (this.#isClosing) return Promise.resolve();
    this.#observer?.output(this, text);
    // Output that arrives while the user types (a chat line, a game event) goes above the line being typed.
    const redraw = this.#isRedrawingInput() && text.endsWith('\n');
    const out = redraw ? `${this.#editor.erase()}${text}${this.#editor.redraw()}` : text;
    return this.#connection.write(this.#layer.encodeText(out));
  }

  /** Sends a prompt, remembered so that it can be redrawn, and marks it (telnet GA/EOR). */
  async writePrompt(prompt: string): Promise<void> {
    this.#editor.prompt = prompt;
    if (this.#isClosing) return;
    this.#observer?.output(this, prompt);
    const out = this.#isRedrawingInput() ? `${this.#editor.erase()}${this.#editor.redraw()}` : prompt;
    await this.#connection.write(this.#layer.encodeText(out));
    await this.markPrompt();
  }

  /** Sends bytes or text as they are (only protocol escaping applied). */
  writeRaw(data: Uint8Array | string): Promise<void> {
    if (this.#isClosing) return Promise.resolve();
    if (this.#observer) {
      this.#observer.output(this, typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    }
    return this.#connection.write(this.#layer.encodeRaw(data));
  }

  /** Marks the end of a prompt for clients that want it (telnet GA/EOR). */
  markPrompt(): Promise<void> {
    const mark = this.#layer.promptMark();
    if (mark === undefined || this.#isClosing) return Promise.resolve();
    return this.#connection.write(mark);
  }

  /**
   * Applies one input token to the session's line editor; completed lines go to the handler.
   * Synchronous unless the handler's onInterrupt runs: most keys cost no promise.
   */
  editLine(token: InputToken): boolean | Promise<boolean> {
    const result = this.#editor.feed(token);
    if (result.echo !== '') void this.#connection.write(this.#layer.encodeText(result.echo));
    if (result.signal !== undefined) return this.handler.onInterrupt(result.signal);
    if (result.line !== undefined) this.#submitLine(result.line);
    return true;
  }

  /** Waits for the next line the user enters, after showing `prompt`. */
  async readLine(prompt?: string, options: ReadLineOptions = {}): Promise<string> {
    if (this.#isClosing) throw new SessionClosedError();
    if (this.#lineWaiter) throw new Error('readLine is already waiting for a line in this session');
    const echo = options.echo ?? true;
    if (echo !== true) this.#setHiddenInput(echo === 'mask' ? 'mask' : 'off');
    try {
      // Lines typed ahead of the question answer it, in order; the waiter is in place before
      // the prompt goes out, so that an answer arriving meanwhile is not queued past it.
      const typedAhead = this.#lines.shift();
      this.#updateFlow();
      const answer =
        typedAhead !== undefined
          ? Promise.resolve(typedAhead)
          : new Promise<string>((resolve, reject) => (this.#lineWaiter = { resolve, reject }));
      // If the session ends while the prompt is written, the rejection is seen by the await below.
      answer.catch(() => undefined);
      if (prompt !== undefined) await this.writePrompt(prompt);
      return await answer;
    } finally {
      if (echo !== true) this.#setHiddenInput(undefined);
    }
  }

  /** Ends the session: sends `message` (if any) as a last line, flushes and closes. Idempotent. */
  close(message?: string): Promise<void> {
    if (this.#isClosing) return this.#closed;
    this.#closing ??= this.#close(message);
    return this.#closing;
  }

  async #close(message: string | undefined): Promise<void> {
    if (message !== undefined) await this.write(`${message}\n`);
    this.#isClosing = true;
    this.#clearTimers();
    await this.#connection.close();
    return this.#closed;
  }

  /** Drops the connection at once, without a goodbye. */
  destroy(): void {
    this.#isClosing = true;
    this.#connection.destroy();
  }

  /** Called by the layer when the terminal or mode changed. */
  layerChanged(what: 'mode' | 'terminal' | 'size'): void {
    if (what === 'mode') this.#syncEditorEcho();
    if (what === 'size') {
      const { cols, rows } = this.#layer.terminal;
      this.#editor.width = cols;
      if (cols !== undefined && rows !== undefined) {
        void this.#guard(() => this.handler.onWindowSize(cols, rows));
      }
    }
  }

  #onData = (bytes: Uint8Array): void => {
    this.#idleTimer?.refresh();
    let tokens: InputToken[];
    try {
      tokens = this.#layer.receive(bytes);
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (bytes[bytes.length - 1] === 0x1b) this.#scheduleEscapeFlush();
    this.#enqueue(tokens);
  };

  #enqueue(tokens: InputToken[]): void {
    if (tokens.length === 0 || this.#isClosing) return;
    for (const token of tokens) this.#tokens.push(token);
    this.#updateFlow();
    if (!this.#isPumping) void this.#pumpInput();
  }

  /** Pauses the socket while input waits unhandled, so a flood costs bounded memory. */
  #updateFlow(): void {
    const isBacklogged =
      this.#tokens.length - this.#tokenHead > TOKENS_HIGH_WATER || this.#lines.length > LINES_HIGH_WATER;
    if (isBacklogged === this.#isPaused || this.#isClosing) return;
    this.#isPaused = isBacklogged;
    if (isBacklogged) this.#connection.pause();
    else this.#connection.resume();
  }

  async #pumpInput(): Promise<void> {
    this.#isPumping = true;
    while (this.#tokenHead < this.#tokens.length && !this.#isClosing) {
      const token = this.#tokens[this.#tokenHead]!;
      this.#tokenHead += 1;
      let keepOpen: boolean;
      try {
        const received = this.handler.receive(token);
        keepOpen = (received instanceof Promise ? await received : received) !== false;
      } catch (err) {
        keepOpen = this.#caught(err);
      }
      if (!keepOpen) {
        await this.close();
        break;
      }
    }
    this.#tokens = [];
    this.#tokenHead = 0;
    this.#isPumping = false;
    this.#updateFlow();
  }

  #submitLine(line: string): void {
    this.#observer?.input(this, line);
    const waiter = this.#lineWaiter;
    if (waiter) {
      this.#lineWaiter = undefined;
      waiter.resolve(line);
      return;
    }
    this.#lines.push(line);
    this.#updateFlow();
    if (!this.#isProcessingLines) void this.#processLines();
  }

  async #processLines(): Promise<void> {
    this.#isProcessingLines = true;
    let line = this.#lines.shift();
    while (line !== undefined && !this.#isClosing) {
      const current = line;
      const keepOpen = await this.#guard(() => this.handler.processLine(current));
      if (!keepOpen) {
        await this.close();
        break;
      }
      line = this.#lines.shift();
      this.#updateFlow();
    }
    this.#isProcessingLines = false;
  }

  /** Runs handler code; an error ends this session only. Resolves to whether to go on. */
  async #guard(run: () => Promise<boolean | void> | boolean | void): Promise<boolean> {
    try {
      return (await run()) !== false;
    } catch (err) {
      return this.#caught(err);
    }
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
      const reported = this.handler.onError(error);
      if (reported instanceof Promise) reported.catch(() => undefined);
    } catch {
      // onError itself failed: the session is closing anyway and the first error is logged.
    }
    void this.close();
  }

  #setHiddenInput(echo: 'off' | 'mask' | undefined): void {
    this.#isHidingInput = echo !== undefined;
    const isServerDrawing = this.#layer.setHiddenInput(this.#isHidingInput);
    if (echo === undefined) this.#editor.echo = this.#layer.serverEchoes ? 'on' : 'off';
    // Where the client still echoes (nc, a browser text page) nothing can be hidden or masked.
    else if (!isServerDrawing) this.#editor.echo = 'off';
    else this.#editor.echo = echo === 'mask' ? 'mask' : 'hidden';
  }

  #syncEditorEcho(): void {
    if (this.#isHidingInput) return;
    this.#editor.echo = this.#layer.serverEchoes ? 'on' : 'off';
  }

  /** Whether the server draws the user's line, and there is one on screen to keep. */
  #isRedrawingInput(): boolean {
    return this.#layer.serverEchoes && this.#editor.echo !== 'off' && this.#editor.hasInput;
  }

  #armIdleTimer(): void {
    const seconds = this.#limits.idleTimeout;
    if (seconds <= 0) return;
    this.#idleTimer = setTimeout(() => {
      this.#logger.info('idle timeout');
      void this.close(`\nIdle for ${seconds} second${seconds === 1 ? '' : 's'}: closing the connection.`);
    }, seconds * 1000);
    this.#idleTimer.unref();
  }

  #scheduleEscapeFlush(): void {
    clearTimeout(this.#escapeTimer);
    this.#escapeTimer = setTimeout(() => this.#enqueue(this.#layer.flush()), ESCAPE_QUIET_MS);
    this.#escapeTimer.unref();
  }

  #clearTimers(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#escapeTimer);
  }

  async #finish(): Promise<void> {
    this.#isClosing = true;
    this.#clearTimers();
    this.#layer.dispose();
    this.#lineWaiter?.reject(new SessionClosedError());
    this.#lineWaiter = undefined;
    try {
      await this.handler.onDisconnect();
    } catch (err) {
      this.#logger.error({ err }, 'onDisconnect failed');
    }
    this.#markClosed();
  }
}
