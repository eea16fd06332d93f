// The gmcp.mudstandards.org WebSocket subprotocol: text in binary frames both ways, GMCP messages
// ("Package.Message <JSON>") in text frames beside it, no telnet (https://mudstandards.org/websocket).
import { gmcpText, parseGmcp } from '../telnet/gmcp.js';
import type { TerminalFacts } from '../transports/connection.js';
import type { WebSocketConnection } from '../transports/websocket.js';
import type { InputToken } from './key-reader.js';
import type { InputMode, LayerEvents, SessionLayer, TerminalChange, TerminalInfo } from './layer.js';
import { GmcpSession } from './out-of-band.js';
import type { GmcpChannel } from './out-of-band.js';
import { PlainLayer } from './plain-layer.js';

/** The cap on a GMCP text frame, as on a telnet subnegotiation: a longer one is dropped. */
const MAX_GMCP_FRAME = 8192;

/** Plain lines in binary frames, with GMCP in text frames; GMCP is on from the handshake. */
export class GmcpWebSocketLayer implements SessionLayer {
  readonly #text = new PlainLayer({ messageFraming: true, serverEchoes: false });
  readonly #gmcp: GmcpSession;
  /** The connection sends text in binary frames, so text is written as text and encoded once a turn. */
  readonly #isTextBinary: boolean;

  constructor(connection: WebSocketConnection, events: LayerEvents) {
    this.#isTextBinary = connection.sendTextAsBinary();
    // Choosing the subprotocol was the client's agreement: there is nothing to negotiate.
    this.#gmcp = new GmcpSession(
      () => !connection.isClosed,
      (message, data) => connection.writeMessage(gmcpText(message, data)),
    );
    connection.onTextFrame((text) => {
      if (text.length > MAX_GMCP_FRAME) return;
      const message = parseGmcp(text);
      if (message !== undefined) this.#gmcp.receive(message, events);
    });
  }

  get mode(): InputMode {
    return this.#text.mode;
  }

  get serverEchoes(): boolean {
    return this.#text.serverEchoes;
  }

  get terminal(): TerminalInfo {
    return this.#text.terminal;
  }

  learnTerminal(facts: TerminalFacts): TerminalChange {
    return this.#text.learnTerminal(facts);
  }

  get gmcp(): GmcpChannel {
    return this.#gmcp;
  }

  start(): void {}

  receive(bytes: Uint8Array): InputToken[] {
    return this.#text.receive(bytes);
  }

  readLines(bytes: Uint8Array): string[] | undefined {
    return this.#text.readLines(bytes);
  }

  flush(): InputToken[] {
    return this.#text.flush();
  }

  /** Text for a connection that sends it in binary frames; else bytes, so that it does. */
  encodeText(text: string, isCrlf = false): Uint8Array | string {
    const encoded = this.#text.encodeText(text, isCrlf);
    return this.#isTextBinary ? encoded : Buffer.from(encoded, 'utf8');
  }

  encodeRaw(data: Uint8Array | string): Uint8Array {
    return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  }

  promptMark(): undefined {
    return undefined;
  }

  setHiddenInput(): boolean {
    return false;
  }

  dispose(): void {}
}
