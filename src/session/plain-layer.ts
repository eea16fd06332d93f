// Plain text layer for clients that speak no telnet: netcat, WebSocket text clients, SSH terminals.
import type { TerminalFacts } from '../transports/connection.js';
import { KeyReader, readWholeLines, readWholeMessage } from './key-reader.js';
import type { InputToken } from './key-reader.js';
import { mergeTerminalFacts, toCrlf, unknownTerminal } from './layer.js';
import type { InputMode, SessionLayer, TerminalChange, TerminalInfo } from './layer.js';

const ENTER: InputToken = { type: 'key', name: 'enter', sequence: '\n' };

/**
 * The terminal of every plain session whose transport has told nothing of it: a netcat client
 * never does, so an idle one holds no description of its own.
 */
const NOTHING_KNOWN: TerminalInfo = Object.freeze(unknownTerminal());

/** Options of a plain layer. */
export interface PlainLayerOptions {
  /** Each inbound chunk is one message that ends a line (WebSocket). */
  messageFraming: boolean;
  /**
   * The client is a raw terminal that sends every key and shows only what it is sent (an SSH
   * pty): character mode, the server echoes and edits. Otherwise the client edits its own line.
   */
  serverEchoes: boolean;
}

/** Text with no protocol around it, in line mode or, for raw terminals, in character mode. */
export class PlainLayer implements SessionLayer {
  readonly mode: InputMode;
  readonly serverEchoes: boolean;
  readonly #messageFraming: boolean;
  /** Made at the first fact a transport learns (a WebSocket resize, an SSH pty request). */
  #terminal: TerminalInfo | undefined;
  /** Made at the first input that is not whole lines: an idle client, or a line client, never needs one. */
  #reader: KeyReader | undefined;

  constructor(options: PlainLayerOptions) {
    this.#messageFraming = options.messageFraming;
    this.serverEchoes = options.serverEchoes;
    this.mode = options.serverEchoes ? 'character' : 'line';
  }

  get terminal(): TerminalInfo {
    return this.#terminal ?? NOTHING_KNOWN;
  }

  learnTerminal(facts: TerminalFacts): TerminalChange {
    return mergeTerminalFacts((this.#terminal ??= unknownTerminal()), facts);
  }

  start(): void {}

  receive(bytes: Uint8Array): InputToken[] {
    const reader = (this.#reader ??= new KeyReader());
    const tokens = reader.push(bytes);
    if (!this.#messageFraming) return tokens;
    tokens.push(...reader.flush());
    const last = tokens[tokens.length - 1];
    const endsLine = last?.type === 'key' && last.name === 'enter';
    if (!endsLine) tokens.push(ENTER);
    return tokens;
  }

  readLines(bytes: Uint8Array): string[] | undefined {
    // Without a reader nothing is pending: a client that sends only whole lines never needs one.
    const reader = this.#reader;
    if (!this.#messageFraming) return reader === undefined ? readWholeLines(bytes) : reader.readLines(bytes);
    const line = reader === undefined ? readWholeMessage(bytes) : reader.readMessage(bytes);
    return line === undefined ? undefined : [line];
  }

  flush(): InputToken[] {
    return this.#reader?.flush() ?? [];
  }

  encodeText(text: string, isCrlf = false): string {
    return isCrlf ? text : toCrlf(text);
  }

  encodeRaw(data: Uint8Array | string): Uint8Array | string {
    return data;
  }

  promptMark(): undefined {
    return undefined;
  }

  setHiddenInput(): boolean {
    // A raw terminal shows only what we send, so hiding is ours to do; a line client echoes itself.
    return this.serverEchoes;
  }

  dispose(): void {}
}
