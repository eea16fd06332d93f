// What a handler sees of its session and of the server and application around it.
import type { Logger } from 'pino';

import type { TransportName } from '../config/schema.js';
import type { BaseHandler } from '../handlers/base-handler.js';
import type { SessionInfo } from '../hub/events.js';
import type { Application } from '../hub/hub.js';
import type { InputMode, TerminalInfo } from './layer.js';
import type { GmcpChannel, MsdpChannel } from './out-of-band.js';

/** The configured server a session came in through. */
export interface ServerContext {
  /** The configured server's name (the key under `servers:`). */
  readonly name: string;
  /** The configured transport, e.g. "telnet" or "websocket". */
  readonly transport: TransportName;
  readonly welcomeMessage: string | undefined;
  /** Every live session of this server only; `app` has the whole application's. */
  readonly sessions: ReadonlySet<SessionHandle>;
  /** Sends a line to every session of the application: all servers of the launch. */
  sendGlobalMessage(text: string): Promise<void>;
}

/** Options of a readLine call. */
export interface ReadLineOptions {
  /** false hides the typing (passwords); 'mask' shows one '*' per character where possible. */
  echo?: boolean | 'mask';
  /** Gives up waiting when this signal aborts; readLine rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Gives up after this many milliseconds; readLine rejects with a ReadLineTimeoutError. */
  timeoutMs?: number;
}

/** One client's session, as its handler uses it. */
export interface SessionHandle {
  /** Random and unique beyond this process: safe to log, to put in URLs and to send to others. */
  readonly id: string;
  readonly startedAt: Date;
  readonly transport: TransportName;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The trusted proxy the client came through (proxy_protocol, X-Forwarded-For); undefined when direct. */
  readonly proxyAddress: string | undefined;
  /** Whether the connection is encrypted (TLS, SSH). */
  readonly isSecure: boolean;
  /** The WebSocket URL's path ("/ws/room"); "" on other transports. */
  readonly path: string;
  /** Query parameters of the WebSocket URL the client connected to; empty elsewhere. */
  readonly query: URLSearchParams;
  readonly terminal: TerminalInfo;
  readonly mode: InputMode;
  /** Whether the server echoes what the user types (the client does not). */
  readonly serverEchoes: boolean;
  /** GMCP with a MUD client (telnet_options: [gmcp]); send() is a no-op returning false without it. */
  readonly gmcp: GmcpChannel;
  /** MSDP with a MUD client (telnet_options: [msdp]); send() is a no-op returning false without it. */
  readonly msdp: MsdpChannel;
  /** The user's name, as the handler (or the transport, e.g. SSH) set it; shown in listings. */
  user: string | undefined;
  readonly server: ServerContext;
  readonly app: Application;
  /** Logs with this session's id on every line. */
  readonly logger: Logger;
  readonly isClosed: boolean;
  /** Resolves once the session has ended and its handler's onDisconnect has run. */
  readonly closed: Promise<void>;
  /** Aborts when the session ends: hand it to timers, fetches and readLine. */
  readonly signal: AbortSignal;
  /** Sends text; each newline goes out as CR LF. Resolves when the transport takes more. */
  write(text: string): Promise<void>;
  /** Sends text and a line end: `write(text + '\n')`, without copying a line that has no newline of its own. */
  writeLine(text: string): Promise<void>;
  /** Sends a prompt, remembered so that it can be redrawn, and marks it (telnet GA/EOR). */
  writePrompt(prompt: string): Promise<void>;
  /** Sends bytes or text as they are (only protocol escaping applied). */
  writeRaw(data: Uint8Array | string): Promise<void>;
  /** Marks the end of a prompt for clients that want it (telnet GA/EOR). */
  markPrompt(): Promise<void>;
  /**
   * A resume token for the handler to show its user, where no control channel sends one (ssh, a
   * WebSocket client of no subprotocol of ours): showing it lets the session wait for its client
   * after a drop. Each call voids the token before; a resumed session needs a new one. Undefined
   * where resume_grace is 0, the session is ending, or the transport cannot present a token
   * (telnet, tcp).
   */
  offerResume(): string | undefined;
  /** Waits for the next line the user enters, after showing `prompt`. */
  readLine(prompt?: string, options?: ReadLineOptions): Promise<string>;
  /** Ends the session: sends `message` (if any) as a last line, flushes and closes. */
  close(message?: string): Promise<void>;
  /** The session as listings show it. */
  info(): SessionInfo;
}

/** A client logging in over SSH, as the handler class's `authenticate` is asked about it. */
export interface AuthenticationAttempt {
  /** 'password' and 'keyboard-interactive' carry `password`; 'publickey' carries `publicKey`. */
  method: 'password' | 'keyboard-interactive' | 'publickey';
  username: string;
  password?: string;
  /** A key not in ssh_authorized_keys: its type ("ssh-ed25519"), its public blob and SHA256 fingerprint. */
  publicKey?: { type: string; data: Buffer; fingerprint: string };
  remoteAddress: string;
}

/** A handler class: constructed once per session; `inputMode` says line or character input. */
export type HandlerClass = (new (session: SessionHandle) => BaseHandler) & {
  readonly inputMode: InputMode;
  /** SSH: whether a client may log in; BaseHandler's refuses everyone. */
  authenticate?(attempt: AuthenticationAttempt): Promise<boolean> | boolean;
  /** SSH: serve clients that ask for no terminal (`ssh host command`) in line mode; BaseHandler's is false. */
  readonly acceptsNoPty?: boolean;
};
