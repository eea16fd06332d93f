// The client side of telnet negotiation for test clients: a terminal that reports its size and type, or a refuser (RFC 854, 1073, 1091, 1143).
import { DO, DONT, OPT_NAWS, OPT_TTYPE, TTYPE_IS, TTYPE_SEND, WILL, WONT } from '../telnet/constants.js';
import { TelnetDecoder } from '../telnet/decoder.js';
import { negotiate, subnegotiation } from '../telnet/encoder.js';

/**
 * How a telnet client answers the server: 'terminal' as xterm's telnet does (reports its window
 * size and terminal type, lets the server echo and edit), 'refuse' as Python's telnetlib does
 * (says no to every option, so the server falls back to plain lines).
 */
export type TelnetStyle = 'terminal' | 'refuse';

/** What a telnet test client is. */
export interface TelnetProfile {
  style: TelnetStyle;
  cols: number;
  rows: number;
  /** Sent on every TTYPE SEND: one name, repeated, ends an RFC 1091 cycle at once. */
  terminalType: string;
}

/** What one chunk from the server comes to: text bytes for the screen, and the client's replies. */
export interface TelnetReceipt {
  data: Uint8Array[];
  replies: Uint8Array[];
}

/** Options a terminal client offers to perform when the server asks (DO). */
const TERMINAL_OFFERS = new Set([OPT_NAWS, OPT_TTYPE]);

/**
 * Decodes what the server sends and answers its negotiation. Pure: bytes in, bytes out.
 * Each side's state per option is kept (RFC 1143), so a request for what is already in
 * effect gets no reply and no negotiation loops.
 */
export class TelnetPeer {
  readonly #profile: TelnetProfile;
  readonly #decoder = new TelnetDecoder();
  /** Options this client performs (it sent WILL and the server agreed, or the server asked). */
  readonly #local = new Set<number>();
  /** Options the server performs and this client agreed to (the server's WILL, answered DO). */
  readonly #remote = new Set<number>();
  #cols: number;
  #rows: number;
  /** Agreed to report the terminal type, and not asked for it yet. */
  #isTypeAwaited = false;

  constructor(profile: TelnetProfile) {
    this.#profile = profile;
    this.#cols = profile.cols;
    this.#rows = profile.rows;
  }

  /**
   * Whether the server is about to ask for the terminal type: this client agreed to TTYPE and
   * no SEND has come yet. Input sent before the answer would reach a handler that lacks it.
   */
  get isSettling(): boolean {
    return this.#isTypeAwaited;
  }

  /** Options the server performs with this client's agreement, e.g. ECHO (1) and SGA (3). */
  get serverOptions(): ReadonlySet<number> {
    return this.#remote;
  }

  receive(bytes: Uint8Array): TelnetReceipt {
    const receipt: TelnetReceipt = { data: [], replies: [] };
    for (const event of this.#decoder.push(bytes)) {
      if (event.type === 'data') receipt.data.push(event.bytes);
      else if (event.type === 'negotiate') receipt.replies.push(...this.#answer(event.verb, event.option));
      else if (event.type === 'subnegotiation' && event.option === OPT_TTYPE && event.payload[0] === TTYPE_SEND) {
        if (!this.#local.has(OPT_TTYPE)) continue;
        this.#isTypeAwaited = false;
        receipt.replies.push(this.#terminalType());
      }
    }
    return receipt;
  }

  /** The NAWS report of a new window size, or undefined when the server never asked for it. */
  resize(cols: number, rows: number): Uint8Array | undefined {
    this.#cols = cols;
    this.#rows = rows;
    return this.#local.has(OPT_NAWS) ? this.#windowSize() : undefined;
  }

  #answer(verb: number, option: number): Uint8Array[] {
    const isTerminal = this.#profile.style === 'terminal';
    switch (verb) {
      case DO: {
        if (this.#local.has(option)) return [];
        if (!isTerminal || !TERMINAL_OFFERS.has(option)) return [negotiate(WONT, option)];
        this.#local.add(option);
        if (option === OPT_TTYPE) this.#isTypeAwaited = true;
        // RFC 1073: the size follows the WILL at once, and again whenever it changes.
        return option === OPT_NAWS ? [negotiate(WILL, option), this.#windowSize()] : [negotiate(WILL, option)];
      }
      case DONT:
        if (option === OPT_TTYPE) this.#isTypeAwaited = false;
        return this.#local.delete(option) ? [negotiate(WONT, option)] : [];
      case WILL:
        if (this.#remote.has(option)) return [];
        if (!isTerminal) return [negotiate(DONT, option)];
        // A terminal lets the server do what it offers: ECHO and SGA make it echo and edit the line.
        this.#remote.add(option);
        return [negotiate(DO, option)];
      case WONT:
        return this.#remote.delete(option) ? [negotiate(DONT, option)] : [];
      default:
        return [];
    }
  }

  #windowSize(): Uint8Array {
    const size = [this.#cols >> 8, this.#cols & 0xff, this.#rows >> 8, this.#rows & 0xff];
    return subnegotiation(OPT_NAWS, size);
  }

  #terminalType(): Uint8Array {
    return subnegotiation(OPT_TTYPE, Uint8Array.of(TTYPE_IS, ...Buffer.from(this.#profile.terminalType, 'latin1')));
  }
}
