// TERMINAL-TYPE subnegotiation and the MTTS name cycle (RFC 1091, MUD Terminal Type Standard).

import { OPT_TTYPE, TTYPE_IS, TTYPE_SEND } from './constants.js';
import { subnegotiation } from './encoder.js';

/** MTTS capability bits, sent by MUD clients as a third terminal type "MTTS <bits>". */
export const MTTS = {
  ANSI: 1,
  VT100: 2,
  UTF8: 4,
  COLORS_256: 8,
  MOUSE: 16,
  OSC_COLOR: 32,
  SCREEN_READER: 64,
  PROXY: 128,
  TRUECOLOR: 256,
  MNES: 512,
  MSLP: 1024,
  SSL: 2048,
} as const;

// A client cycling through names forever is cut off here (RFC 1091 leaves the list length open).
const MAX_NAMES = 4;
const MTTS_NAME = /^MTTS (\d{1,10})$/i;
// Names that are terminal types rather than client names, to tell an MTTS client's
// first reply ("MUDLET") from a plain terminal's ("XTERM").
const TERMINAL_NAME =
  /^(?:xterm|vt\d|ansi|linux|screen|tmux|rxvt|dumb|putty|cygwin|eterm|konsole|gnome|st(?:-|$)|alacritty|kitty|foot|wezterm|iterm|network-virtual-terminal|unknown)/i;

/** IAC SB TTYPE SEND IAC SE: asks the client for its next terminal type. */
export function requestTerminalType(): Buffer {
  return SEND_TERMINAL_TYPE;
}

/** Made once: every telnet session asks at least once, and the frame never changes. */
const SEND_TERMINAL_TYPE = subnegotiation(OPT_TTYPE, [TTYPE_SEND]);

/** Reads IS <name> (printable ASCII per RFC 1091); undefined if malformed or empty. */
export function parseTerminalType(payload: Uint8Array): string | undefined {
  if (payload[0] !== TTYPE_IS || payload.length < 2) return undefined;
  for (let i = 1; i < payload.length; i++) {
    const byte = payload[i]!;
    if (byte < 0x20 || byte > 0x7e) return undefined;
  }
  return Buffer.from(payload.subarray(1)).toString('latin1');
}

/** Reads the capability bits from an MTTS name such as "MTTS 137". */
export function parseMtts(name: string): number | undefined {
  const match = MTTS_NAME.exec(name.trim());
  if (match === null) return undefined;
  const bits = Number(match[1]);
  return Number.isSafeInteger(bits) ? bits : undefined;
}

/**
 * Collects the names a client gives on successive TTYPE SENDs. RFC 1091: each SEND gets the
 * next name and the last one is repeated at the end; MTTS: client name, terminal type, "MTTS <bits>".
 */
export class TerminalTypeCycle {
  #names: string[] = [];
  #mtts: number | undefined;
  #done = false;

  /** Records one reply; askAgain says whether another SEND may bring a new name. */
  add(name: string): { askAgain: boolean } {
    if (this.#done) return { askAgain: false };
    // Some clients restart the list instead of repeating the last name; either way it ended.
    if (this.#names.some((seen) => seen.toUpperCase() === name.toUpperCase())) {
      this.#done = true;
      return { askAgain: false };
    }
    // An array grown by push keeps room for 16 more; concat makes one just long enough.
    this.#names = this.#names.concat(name);
    const bits = parseMtts(name);
    if (bits !== undefined) this.#mtts = bits;
    this.#done = bits !== undefined || this.#names.length >= MAX_NAMES;
    return { askAgain: !this.#done };
  }

  /**
   * Distinct names in the order received, an MTTS name included. Not a copy: a name is added by
   * making a new array, so a session's terminal can keep this one.
   */
  get names(): readonly string[] {
    return this.#names;
  }

  /** The first name, which MTTS clients use for their own name. */
  get clientName(): string | undefined {
    return this.#names[0];
  }

  /** The best terminal type: the second name when the first is a client name, else the first. */
  get terminalType(): string | undefined {
    const [first, second] = this.#names.filter((name) => parseMtts(name) === undefined);
    if (first !== undefined && second !== undefined && !TERMINAL_NAME.test(first)) return second;
    return first;
  }

  /** MTTS capability bits (see MTTS), once the client sent them. */
  get mtts(): number | undefined {
    return this.#mtts;
  }
}
