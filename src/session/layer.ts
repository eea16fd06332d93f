// The protocol layer between a connection and a session: plain text, or telnet (RFC 854).
import type { OptionOutcome } from '../hub/events.js';
import type { Connection, TerminalFacts } from '../transports/connection.js';
import type { InputToken } from './key-reader.js';
import type { GmcpChannel, MsdpChannel, OutOfBandEvents } from './out-of-band.js';

/** How the client's keystrokes reach us: a whole line at a time, or one key at a time. */
export type InputMode = 'line' | 'character';

/** What is known of the client's terminal; fields stay undefined until the client says. */
export interface TerminalInfo {
  /** Terminal type reported by the client (RFC 1091), e.g. "XTERM-256COLOR". */
  type: string | undefined;
  /** Client program name, where the client reports one (MTTS convention), e.g. "MUDLET". */
  clientName: string | undefined;
  /** All names the client gave for its terminal type, in order. */
  typeNames: readonly string[];
  /** MTTS capability bits, where the client sends them. */
  mtts: number | undefined;
  cols: number | undefined;
  rows: number | undefined;
  /** Character set agreed for text (RFC 2066); UTF-8 unless the client says otherwise. */
  charset: string;
  /** Environment variables the client sent (RFC 1572). */
  environment: Readonly<Record<string, string>>;
  /** Telnet options in effect, by name, e.g. ["ECHO (server)", "NAWS (client)"]. */
  options: readonly string[];
}

/** Changes a layer reports to its session, and out-of-band data its client sent. */
export interface LayerEvents extends OutOfBandEvents {
  /** The input mode, echo or terminal details changed. */
  changed(what: 'mode' | 'terminal' | 'size'): void;
  /** A protocol option was switched on or off, or the client refused one we asked for. */
  option(code: number, side: 'local' | 'remote', outcome: OptionOutcome): void;
}

/** A protocol layer: decodes inbound bytes into keys and encodes outbound text. */
export interface SessionLayer {
  readonly mode: InputMode;
  /** Whether the server must echo typed characters (the client does not). */
  readonly serverEchoes: boolean;
  readonly terminal: TerminalInfo;
  /** Takes in what the transport learned of the terminal beside the byte stream; says what changed. */
  learnTerminal(facts: TerminalFacts): TerminalChange;
  /** Opens the conversation (telnet sends its negotiation here). */
  start(): void;
  /** Decodes inbound bytes; protocol replies are written by the layer itself. */
  receive(bytes: Uint8Array): InputToken[];
  /**
   * Reads bytes that hold whole lines of printable ASCII and nothing else straight into those
   * lines, where receive would give just their text and an Enter each (a shortcut: a layer may
   * have none); undefined, with nothing read, for anything else.
   */
  readLines?(bytes: Uint8Array): string[] | undefined;
  /** Input still held back (a lone ESC), released after a short quiet time. */
  flush(): InputToken[];
  /**
   * Encodes text for the wire; every newline goes out as CR LF. `isCrlf`: the text's only line
   * ends are CR LF already, and it has no other CR or LF, so it needs no conversion.
   */
  encodeText(text: string, isCrlf?: boolean): Uint8Array | string;
  /** Encodes application bytes or text sent as they are (only protocol escaping applied). */
  encodeRaw(data: Uint8Array | string): Uint8Array | string;
  /** Bytes that mark the end of a prompt (telnet GA or EOR), if the client wants them. */
  promptMark(): Uint8Array | undefined;
  /**
   * Hides the user's typing for one line (passwords) where the protocol allows. Returns
   * whether the client now leaves all echo to the server (which must then echo Enter).
   */
  setHiddenInput(hidden: boolean): boolean;
  /** Releases timers; called once when the session ends. */
  dispose(): void;
  /** The connection as the layer wraps it (MCCP compression); the session reads and writes through it. */
  readonly connection?: Connection;
  /** GMCP with the client, where the layer carries it. */
  readonly gmcp?: GmcpChannel;
  /** MSDP with the client, where the layer carries it. */
  readonly msdp?: MsdpChannel;
}

/**
 * Shared by every terminal until its client tells: a layer replaces a TerminalInfo's lists, never
 * changes them, so that an idle session holds none of its own.
 */
const NO_NAMES: readonly string[] = Object.freeze([]);
const NO_ENVIRONMENT: Readonly<Record<string, string>> = Object.freeze({});

/** A fresh TerminalInfo with nothing known yet. */
export function unknownTerminal(): TerminalInfo {
  return {
    type: undefined,
    clientName: undefined,
    typeNames: NO_NAMES,
    mtts: undefined,
    cols: undefined,
    rows: undefined,
    charset: 'UTF-8',
    environment: NO_ENVIRONMENT,
    options: NO_NAMES,
  };
}

/** Which kinds of terminal fact changed. */
export interface TerminalChange {
  size: boolean;
  terminal: boolean;
}

/** Merges what a transport learned outside the byte stream; says which kinds of fact changed. */
export function mergeTerminalFacts(terminal: TerminalInfo, facts: TerminalFacts): TerminalChange {
  let isSizeChanged = false;
  let isTerminalChanged = false;
  if (facts.type !== undefined && facts.type !== terminal.type) {
    terminal.type = facts.type;
    if (!terminal.typeNames.includes(facts.type)) terminal.typeNames = [...terminal.typeNames, facts.type];
    isTerminalChanged = true;
  }
  if (facts.environment !== undefined && Object.keys(facts.environment).length > 0) {
    terminal.environment = { ...terminal.environment, ...facts.environment };
    isTerminalChanged = true;
  }
  // 0 means "unknown" to SSH and NAWS alike: keep what we had.
  if (facts.cols !== undefined && facts.rows !== undefined && facts.cols > 0 && facts.rows > 0) {
    isSizeChanged = facts.cols !== terminal.cols || facts.rows !== terminal.rows;
    terminal.cols = facts.cols;
    terminal.rows = facts.rows;
  }
  return { size: isSizeChanged, terminal: isTerminalChanged };
}

/**
 * toCrlf's last text of several lines, and what it made of it; only a text of at most
 * CONVERTED_KEPT characters, so that a large one is not held after its write.
 */
let convertedText = '';
let converted = '';
const CONVERTED_KEPT = 4096;

/** Converts every LF not already preceded by CR into CR LF. */
export function toCrlf(text: string): string {
  const first = text.indexOf('\n');
  if (first === -1) return text;
  // The usual case, one line ending in LF, without a regular expression.
  if (first === text.length - 1) return text[first - 1] === '\r' ? text : `${text.slice(0, -1)}\r\n`;
  // Text of several lines is mostly the same text again (a welcome, a menu, a help page).
  if (text === convertedText) return converted;
  const result = text.indexOf('\r') === -1 ? text.replaceAll('\n', '\r\n') : text.replace(/\r?\n/g, '\r\n');
  if (text.length <= CONVERTED_KEPT) {
    convertedText = text;
    converted = result;
  }
  return result;
}
