// Plain text layer for clients that speak no telnet: netcat, WebSocket text clients.
import { KeyReader } from './key-reader.js';
import type { InputToken } from './key-reader.js';
import { toCrlf, unknownTerminal } from './layer.js';
import type { SessionLayer, TerminalInfo } from './layer.js';

const ENTER: InputToken = { type: 'key', name: 'enter', sequence: '\n' };

/** Line-mode text: the client edits and echoes its own line; every message ends a line. */
export class PlainLayer implements SessionLayer {
  readonly mode = 'line' as const;
  readonly serverEchoes = false;
  readonly terminal: TerminalInfo = unknownTerminal();
  #reader = new KeyReader();

  /** `messageFraming`: each inbound chunk is one message that ends a line (WebSocket). */
  constructor(private readonly messageFraming: boolean) {}

  start(): void {}

  receive(bytes: Uint8Array): InputToken[] {
    const tokens = this.#reader.push(bytes);
    if (!this.messageFraming) return tokens;
    tokens.push(...this.#reader.flush());
    const last = tokens[tokens.length - 1];
    const endsLine = last?.type === 'key' && last.name === 'enter';
    if (!endsLine) tokens.push(ENTER);
    return tokens;
  }

  flush(): InputToken[] {
    return this.#reader.flush();
  }

  encodeText(text: string): string {
    return toCrlf(text);
  }

  encodeRaw(data: Uint8Array | string): Uint8Array | string {
    return data;
  }

  promptMark(): undefined {
    return undefined;
  }

  setHiddenInput(): boolean {
    return false;
  }

  dispose(): void {}
}
