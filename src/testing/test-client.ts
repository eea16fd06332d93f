// A test client of any transport, seen as its user would see it: lines and keys in, text out, expect().
import type { TransportName } from '../config/schema.js';
import type { SshWire } from './ssh-wire.js';
import { TelnetPeer } from './telnet-peer.js';
import type { TelnetStyle } from './telnet-peer.js';
import { Transcript } from './transcript.js';
import type { CloseInfo } from './transcript.js';

/** How to reach a server, and what kind of client to be. */
export interface ConnectOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** WebSocket path (a query string may follow); default /ws, or /ws_telnet for ws_telnet. */
  path?: string;
  /** Speak TLS (wss:// on WebSocket); the server's certificate is not checked. */
  tls?: boolean;
  /** telnet and ws_telnet: 'terminal' (default) negotiates as a real terminal; 'refuse' says no to everything. */
  telnet?: TelnetStyle;
  /** The window width a terminal reports (NAWS, the SSH pty request); default 80. */
  cols?: number;
  /** The window height a terminal reports (NAWS, the SSH pty request); default 24. */
  rows?: number;
  /** The terminal type a terminal reports (TTYPE, the SSH pty request); default XTERM-256COLOR. */
  terminalType?: string;
  /** ssh: the name to log in as; default "user". */
  username?: string;
  /** ssh: the password, tried after the 'none' login by the password and keyboard-interactive methods. */
  password?: string;
  /** ssh: variables sent by `env` requests before the shell (`ssh -o SetEnv=NAME=value`). */
  environment?: Record<string, string>;
}

/** Where and how long expect() looks. */
export interface ExpectOptions {
  /** Milliseconds before it rejects; default 2000, under the 5 s a vitest test gets. */
  timeoutMs?: number;
  /** Offset in `text` to search from instead of the end of the last match; 0 searches everything. */
  from?: number;
}

/** A connected client of any transport. */
export interface TestClient {
  readonly transport: TransportName;
  /**
   * Sends a line: one text message on websocket, the line and CR LF on the others. A telnet
   * terminal holds input until it has told the server its terminal type, as a person starts
   * typing once the terminal is up, so the handler always knows the type and size.
   */
  send(line: string): void;
  /** Sends keys as they are, without a line end: 'abc', '\x1b[A' (Up), '\t', '\x03' (Ctrl-C). */
  type(keys: string | Uint8Array): void;
  /**
   * Resolves once `pattern` (text, or a RegExp) appears in what arrived since the end of the
   * previous match, and moves that point past this match: two expect('> ') wait for two prompts.
   * Rejects with an ExpectError showing what did arrive when `timeoutMs` passes or the
   * connection closes first. Resolves with the match (`index` counted in `text`, groups included).
   */
  expect(pattern: string | RegExp, options?: ExpectOptions): Promise<RegExpExecArray>;
  /** Everything received so far, as text; on telnet, without the protocol's commands. */
  readonly text: string;
  /** telnet and ws_telnet: options the server performs with this client's agreement, e.g. 1 (ECHO), 3 (SGA). */
  readonly serverOptions: ReadonlySet<number>;
  /** Resolves once the connection has closed, with the WebSocket close code and reason where there is one. */
  readonly closed: Promise<CloseInfo>;
  /** telnet, ws_telnet and ssh terminals: reports a new window size (NAWS, window-change), as a resized window does. */
  resize(cols: number, rows: number): void;
  /** Closes from the client's side, cleanly, and resolves once closed; idempotent. */
  close(): Promise<void>;
  /** Drops the connection at once, as a crashed client would. */
  destroy(): void;
}

/** The transport under a client: a socket or a WebSocket. */
export interface Wire {
  /** Text goes as a text message on a WebSocket, bytes as a binary one. */
  write(data: string | Uint8Array): void;
  end(): void;
  destroy(): void;
}

/** Where a wire delivers what it receives. */
export interface WireSink {
  /** Bytes of the stream, or one WebSocket text message. */
  receive(data: Uint8Array | string): void;
  ended(info: CloseInfo): void;
}

const DEFAULT_TIMEOUT_MS = 2000;
const NO_OPTIONS: ReadonlySet<number> = new Set();
/** Longest that input waits for the server's terminal-type question before it goes anyway. */
const SETTLE_LIMIT_MS = 1000;
/** How long close() waits for the server to close its side before dropping the connection. */
const CLOSE_WAIT_MS = 1000;

/** A TestClient over a wire that is attached once it is open. */
export class Client implements TestClient, WireSink {
  readonly transport: TransportName;
  readonly closed: Promise<CloseInfo>;
  readonly #transcript = new Transcript();
  readonly #telnet: TelnetPeer | undefined;
  readonly #decoder = new TextDecoder();
  #wire: Wire | undefined;
  /** An ssh client's wire, which reports window changes. */
  #sshWire: SshWire | undefined;
  /** Input held while the server's opening negotiation is under way. */
  readonly #held: Array<string | Uint8Array> = [];
  #holdTimer: NodeJS.Timeout | undefined;
  /** The server never asked in time: input is no longer held. */
  #isHoldOver = false;
  #cursor = 0;
  #isClosed = false;
  #closing: Promise<void> | undefined;
  #resolveClosed: (info: CloseInfo) => void = () => undefined;

  constructor(transport: TransportName, options: ConnectOptions) {
    this.transport = transport;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (transport === 'telnet' || transport === 'ws_telnet') {
      this.#telnet = new TelnetPeer({
        style: options.telnet ?? 'terminal',
        cols: options.cols ?? 80,
        rows: options.rows ?? 24,
        terminalType: options.terminalType ?? 'XTERM-256COLOR',
      });
    }
  }

  get text(): string {
    return this.#transcript.text;
  }

  get serverOptions(): ReadonlySet<number> {
    return this.#telnet?.serverOptions ?? NO_OPTIONS;
  }

  attach(wire: Wire, sshWire?: SshWire): void {
    this.#wire = wire;
    this.#sshWire = sshWire;
  }

  receive(data: Uint8Array | string): void {
    if (typeof data === 'string') return this.#transcript.add(data);
    if (this.#telnet === undefined) return this.#transcript.add(this.#decoder.decode(data, { stream: true }));
    const { data: chunks, replies } = this.#telnet.receive(data);
    for (const chunk of chunks) this.#transcript.add(this.#decoder.decode(chunk, { stream: true }));
    for (const reply of replies) this.#wire?.write(reply);
    if (!this.#telnet.isSettling) this.#release();
  }

  ended(info: CloseInfo): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#holdTimer);
    this.#transcript.add(this.#decoder.decode());
    this.#transcript.close(info);
    this.#resolveClosed(info);
  }

  send(line: string): void {
    // A pty sends Enter as CR alone.
    const ending = this.transport === 'ssh' ? '\r' : '\r\n';
    this.#write(this.transport === 'websocket' ? line : Buffer.from(`${line}${ending}`));
  }

  type(keys: string | Uint8Array): void {
    this.#write(this.transport === 'websocket' || typeof keys !== 'string' ? keys : Buffer.from(keys));
  }

  async expect(pattern: string | RegExp, options: ExpectOptions = {}): Promise<RegExpExecArray> {
    const match = await this.#transcript.waitFor(pattern, {
      from: options.from ?? this.#cursor,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      transport: this.transport,
    });
    this.#cursor = match.index + match[0].length;
    return match;
  }

  resize(cols: number, rows: number): void {
    if (this.#sshWire !== undefined) {
      this.#sshWire.resize(cols, rows);
      return;
    }
    if (this.#telnet === undefined)
      throw new Error(`resize() needs a telnet, ws_telnet or ssh client, not ${this.transport}`);
    const report = this.#telnet.resize(cols, rows);
    if (report === undefined) throw new Error('resize(): the server has not asked for the window size (DO NAWS)');
    this.#write(report);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#isClosed) return;
      // What was typed goes out before the end, as it would from a person's terminal.
      this.#release();
      this.#wire?.end();
      // A server that never closes its side must not hold the test up.
      const timer = setTimeout(() => this.#wire?.destroy(), CLOSE_WAIT_MS);
      await this.closed;
      clearTimeout(timer);
    })();
    return this.#closing;
  }

  destroy(): void {
    this.#wire?.destroy();
  }

  #write(data: string | Uint8Array): void {
    if (this.#wire === undefined) throw new Error('the client is not connected yet');
    // As a person types only once the terminal is up: the handler gets the terminal type first.
    if (this.#held.length > 0 || (this.#telnet?.isSettling === true && !this.#isHoldOver)) {
      this.#held.push(data);
      this.#holdTimer ??= setTimeout(() => {
        this.#isHoldOver = true;
        this.#release();
      }, SETTLE_LIMIT_MS).unref();
      return;
    }
    this.#wire.write(data);
  }

  #release(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const data of this.#held.splice(0)) this.#wire?.write(data);
  }
}
