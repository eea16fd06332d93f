// BaseHandler: the hooks and helpers every handler has, whatever transport carries it.
import type { TransportName } from '../config/schema.js';
import type { Application } from '../hub/hub.js';
import type {
  AuthenticationAttempt,
  HandlerClass,
  ReadLineOptions,
  ServerContext,
  SessionHandle,
} from '../session/handle.js';
import type { InputToken } from '../session/key-reader.js';
import type { InputMode, TerminalInfo } from '../session/layer.js';
import type { GmcpChannel, MsdpChannel } from '../session/out-of-band.js';
import { EDIT_LINE, EDITS_ALL_INPUT, HANDLE_LINE } from '../session/session.js';
import type { EditableSession } from '../session/session.js';
import { MSDP_COMMANDS } from '../telnet/msdp.js';
import { READY, isPending } from '../transports/connection.js';
import type { MsdpCommand, MsdpVariables } from '../telnet/msdp.js';

/** Marks handler classes, so that a class from another copy of this package is still accepted. */
export const HANDLER_BRAND: unique symbol = Symbol.for('chuk-protocol-server.handler') as never;

/** Words that end the session in the default processLine, as in the original package. */
const QUIT_COMMANDS = new Set(['quit', 'exit', 'q']);
/** A longer line is no quit command: most lines need not be lower-cased (a copy each) to tell. */
const LONGEST_QUIT_COMMAND = Math.max(...Array.from(QUIT_COMMANDS, (command) => command.length));

/**
 * Base of all handlers: lifecycle hooks, output, line input and session context.
 * Subclass it (or LineHandler, CharacterHandler, TelnetHandler) and override hooks.
 */
export class BaseHandler {
  static readonly [HANDLER_BRAND] = true;
  /** The input mode this handler asks for on terminals that can do both (telnet). */
  static readonly inputMode: InputMode = 'line';
  /**
   * SSH: serve clients that ask for no terminal (`ssh host command`, `ssh -T host`) in line mode,
   * the command read as the first line; by default they are told a terminal is needed.
   */
  static readonly acceptsNoPty: boolean = false;

  /**
   * SSH, with ssh_auth password or publickey: whether this client may log in (a key listed in
   * ssh_authorized_keys needs no answer). The name becomes `this.session.user`. Refuses by default.
   */
  static async authenticate(_attempt: AuthenticationAttempt): Promise<boolean> {
    return false;
  }

  /** Text shown by showPrompt(). */
  prompt = '> ';

  /** What follows each command in processLine: made once, not a closure per line. */
  #afterCommand: (() => boolean | Promise<boolean>) | undefined;

  constructor(protected readonly session: SessionHandle) {}

  /** The session's id: random, unique beyond this process. */
  get sessionId(): string {
    return this.session.id;
  }

  get remoteAddress(): string {
    return this.session.remoteAddress;
  }

  /** The trusted proxy the client came through (proxy_protocol, X-Forwarded-For); undefined when direct. */
  get proxyAddress(): string | undefined {
    return this.session.proxyAddress;
  }

  /** The configured transport: "telnet", "tcp", "websocket" or "ws_telnet". */
  get transport(): TransportName {
    return this.session.transport;
  }

  /** The configured server this session came in through, and its own sessions. */
  get server(): ServerContext {
    return this.session.server;
  }

  /** The whole application: every session of every server of the launch, broadcast, messages. */
  get app(): Application {
    return this.session.app;
  }

  /** Aborts when this session ends: hand it to timers and requests that should stop with it. */
  get signal(): AbortSignal {
    return this.session.signal;
  }

  get welcomeMessage(): string | undefined {
    return this.session.server.welcomeMessage;
  }

  /** What the client told us of its terminal (type, size, …). */
  get terminal(): TerminalInfo {
    return this.session.terminal;
  }

  /** GMCP with a MUD client: `this.gmcp.send('Char.Vitals', { hp: 10 })`, `this.gmcp.supports('Char')`. */
  get gmcp(): GmcpChannel {
    return this.session.gmcp;
  }

  /** MSDP with a MUD client: `this.msdp.send({ HEALTH: 10 })`, `this.msdp.reported`. */
  get msdp(): MsdpChannel {
    return this.session.msdp;
  }

  // Lifecycle hooks.

  /**
   * Runs when the client connects; by default sends the welcome and the first prompt. Chained,
   * not awaited, like the default processLine: where both were written at once it answers READY,
   * and the session starts with no promise to wait for.
   */
  onConnect(): Promise<void> {
    const welcomed = this.sendWelcome() as Promise<void> | undefined;
    return isPending(welcomed) ? welcomed.then(() => this.showPrompt()) : this.showPrompt();
  }

  /**
   * Runs once when the session has ended, whoever ended it. With resume_grace, a connection that
   * dropped without a goodbye ends the session only when the grace period runs out.
   */
  onDisconnect(): Promise<void> {
    return READY;
  }

  /**
   * Runs when the client came back over a new connection within resume_grace, after the output
   * written meanwhile has been sent to it; a pending readLine is still waiting. Does nothing by default.
   */
  async onResume(): Promise<void> {}

  /** Runs when this handler threw; the session is closed afterwards. */
  async onError(_error: Error): Promise<void> {}

  /**
   * Runs when the client's window size changes (telnet NAWS, browser terminal resize). Does
   * nothing by default, and answers READY: a telnet client sends its size as it connects, and an
   * async no-op would cost each connect a promise and a promise job.
   */
  onWindowSize(_cols: number, _rows: number): Promise<void> {
    return READY;
  }

  /** Ctrl-C or Ctrl-D on an empty line; by default ends the session. Return true to go on. */
  async onInterrupt(signal: 'interrupt' | 'eof'): Promise<boolean> {
    // Where the client draws its own line it has already shown the ^C.
    const shown = signal === 'interrupt' && this.session.serverEchoes ? '^C' : '';
    await this.endSession(`${shown}\nGoodbye!`);
    return false;
  }

  /**
   * A GMCP message from the client (Core.Hello and Core.Supports are tracked already). `data` is
   * the parsed JSON, or the raw text when `detail.isJson` is false: a malformed body never throws.
   */
  async onGmcp(_message: string, _data: unknown, _detail: { text: string; isJson: boolean }): Promise<void> {}

  /** MSDP variables the client sent, other than commands. */
  async onMsdp(_variables: MsdpVariables): Promise<void> {}

  /**
   * An MSDP command (REPORT and UNREPORT already update `this.msdp.reported`). By default
   * `LIST COMMANDS` is answered; override to answer the other lists and SEND.
   */
  async onMsdpCommand(command: MsdpCommand, names: string[]): Promise<void> {
    if (command === 'LIST' && names.includes('COMMANDS')) this.msdp.send({ COMMANDS: [...MSDP_COMMANDS] });
  }

  // Output.

  /** Sends bytes or text exactly as given (telnet IAC escaping only). */
  sendRaw(data: Uint8Array | string): Promise<void> {
    return this.session.writeRaw(data);
  }

  /** Sends text and a newline; newlines inside `text` become CR LF too. */
  sendLine(text = ''): Promise<void> {
    return this.session.writeLine(text);
  }

  /** Sends the prompt, marked as a prompt for clients that ask for that. */
  showPrompt(): Promise<void> {
    return this.session.writePrompt(this.prompt);
  }

  /** Sends the configured welcome message, if there is one. */
  sendWelcome(): Promise<void> {
    return this.welcomeMessage === undefined ? READY : this.sendLine(this.welcomeMessage);
  }

  /** Sends `message` (if given) and closes the connection. */
  endSession(message?: string): Promise<void> {
    return this.session.close(message);
  }

  // Input.

  /** Waits for the user's next line, showing `prompt` first; `{ echo: false }` for passwords. */
  readLine(prompt?: string, options?: ReadLineOptions): Promise<string> {
    return this.session.readLine(prompt, options);
  }

  /** Receives each input token in order; by default edits the line. Return false to end. */
  receive(token: InputToken): boolean | Promise<boolean> {
    return (this.session as EditableSession)[EDIT_LINE](token);
  }

  /** Whether receive is the default, which hands every key to the line editor. */
  [EDITS_ALL_INPUT](): boolean {
    return this.receive === BaseHandler.prototype.receive;
  }

  /** Handles one complete line. Return false to end the session. */
  processLine(line: string): Promise<boolean> {
    try {
      const keepOpen = this.#runCommand(line);
      return typeof keepOpen === 'boolean' ? Promise.resolve(keepOpen) : keepOpen;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** processLine as the session calls it: the default one answers at once where it can. */
  [HANDLE_LINE](line: string): boolean | Promise<boolean> {
    return this.processLine === BaseHandler.prototype.processLine ? this.#runCommand(line) : this.processLine(line);
  }

  /**
   * The default processLine: quit words end the session, anything else goes to
   * onCommandSubmitted, then the prompt. Chained, not awaited: every line of a burst comes
   * through here, and an async function costs a promise and a resumption per await. Where the
   * command and the prompt were written at once (READY, or nothing returned: a JavaScript override
   * may return nothing), the answer is a plain true.
   */
  #runCommand(line: string): boolean | Promise<boolean> {
    const command = line.trim();
    if (command.length <= LONGEST_QUIT_COMMAND && QUIT_COMMANDS.has(command.toLowerCase())) {
      return this.endSession('Goodbye!').then(() => false);
    }
    const submitted = this.onCommandSubmitted(line) as Promise<void> | undefined;
    if (!isPending(submitted)) return this.#promptShown();
    return submitted.then((this.#afterCommand ??= () => this.#promptShown()));
  }

  #promptShown(): boolean | Promise<boolean> {
    const shown = this.showPrompt();
    return shown === READY ? true : shown.then(() => true);
  }

  /**
   * Tab was pressed: the candidates for `word`, the word before the cursor (`line` is the whole
   * line), e.g. command names. Only where the server edits the line (character mode on telnet,
   * raw terminals); undefined, the default, leaves Tab alone.
   */
  completeWord(_word: string, _line: string): readonly string[] | Promise<readonly string[]> | undefined {
    return undefined;
  }

  /** A line that is not a quit command; override to act on it. */
  async onCommandSubmitted(_command: string): Promise<void> {}
}

/** Whether `value` is a handler class (a subclass of BaseHandler from any copy of the package). */
export function isHandlerClass(value: unknown): value is HandlerClass {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[HANDLER_BRAND] === true;
}
