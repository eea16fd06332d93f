// LINEMODE subnegotiation: MODE frames out, MODE/SLC/FORWARDMASK frames in (RFC 1184).

import {
  DO,
  DONT,
  LM_FORWARDMASK,
  LM_MODE,
  LM_SLC,
  MODE_ACK,
  OPT_LINEMODE,
  SLC_ABORT,
  SLC_ACK,
  SLC_AO,
  SLC_AYT,
  SLC_DEFAULT,
  SLC_EC,
  SLC_EL,
  SLC_EOF,
  SLC_EW,
  SLC_IP,
  SLC_LEVELBITS,
  SLC_LNEXT,
  SLC_NOSUPPORT,
  SLC_RP,
  SLC_SUSP,
  SLC_VARIABLE,
  SLC_XOFF,
  SLC_XON,
  WILL,
  WONT,
} from './constants.js';
import { subnegotiation } from './encoder.js';

/** A parsed LINEMODE subnegotiation. */
export type LinemodeMessage = { mode: number; ack: boolean } | { slc: Uint8Array } | { forwardMask: true };

/** IAC SB LINEMODE MODE <mask> IAC SE, mask built from MODE_EDIT, MODE_TRAPSIG, MODE_ACK. */
export function linemodeMode(mask: number): Buffer {
  return subnegotiation(OPT_LINEMODE, [LM_MODE, mask & 0xff]);
}

/**
 * Reads a LINEMODE payload: MODE (mode without the ACK bit, plus whether ACK was set),
 * SLC (the raw function/modifier/value triplets), or a DO/DONT/WILL/WONT FORWARDMASK.
 */
export function parseLinemode(payload: Uint8Array): LinemodeMessage | undefined {
  const kind = payload[0];
  if (kind === LM_MODE) {
    if (payload.length !== 2) return undefined;
    const mask = payload[1]!;
    return { mode: mask & ~MODE_ACK, ack: (mask & MODE_ACK) !== 0 };
  }
  if (kind === LM_SLC) {
    // RFC 1184 section 3.3: SLC data is a list of three-byte triplets.
    if ((payload.length - 1) % 3 !== 0) return undefined;
    return { slc: payload.slice(1) };
  }
  // FORWARDMASK is negotiated inside the SB with a telnet verb in front (RFC 1184 section 2.2).
  const isVerb = kind === DO || kind === DONT || kind === WILL || kind === WONT;
  if (isVerb && payload[1] === LM_FORWARDMASK) return { forwardMask: true };
  return undefined;
}

/**
 * The characters a server without a terminal of its own offers: the usual BSD ones, so that a
 * client asking for our defaults maps Ctrl-C to Interrupt Process, DEL to Erase Character and so on.
 */
const DEFAULT_SPECIAL_CHARACTERS: ReadonlyMap<number, number> = new Map([
  [SLC_IP, 0x03],
  [SLC_AO, 0x0f],
  [SLC_AYT, 0x14],
  [SLC_ABORT, 0x1c],
  [SLC_EOF, 0x04],
  [SLC_SUSP, 0x1a],
  [SLC_EC, 0x7f],
  [SLC_EL, 0x15],
  [SLC_EW, 0x17],
  [SLC_RP, 0x12],
  [SLC_LNEXT, 0x16],
  [SLC_XON, 0x11],
  [SLC_XOFF, 0x13],
]);

/**
 * The server's side of the special-character exchange (RFC 1184 section 2.3). The client edits
 * the line, so its characters win: a change it proposes is taken and acknowledged, a request for
 * our defaults is answered with them, and what agrees with our table or carries the ACK bit gets
 * no reply, so two conforming ends never loop.
 */
export class SpecialCharacters {
  /** Per function: level and flag bits, and the character; both 0 (NOSUPPORT) where unset. */
  readonly #modifiers = new Uint8Array(256);
  readonly #values = new Uint8Array(256);

  constructor() {
    this.#reset();
  }

  /** The answer to a client's SLC triplets, or undefined when nothing in them needs one. */
  answer(triplets: Uint8Array): Buffer | undefined {
    const reply: number[] = [];
    for (let i = 0; i + 2 < triplets.length; i += 3) {
      const func = triplets[i]!;
      const modifiers = triplets[i + 1]!;
      const value = triplets[i + 2]!;
      const level = modifiers & SLC_LEVELBITS;
      if (func === 0) {
        // Function 0 asks for our whole table: DEFAULT resets it first, VARIABLE sends it as it is.
        if (level === SLC_DEFAULT) this.#reset();
        if (level === SLC_DEFAULT || level === SLC_VARIABLE) this.#appendTable(reply);
        continue;
      }
      if ((modifiers & SLC_ACK) !== 0) continue;
      if (level === (this.#modifiers[func]! & SLC_LEVELBITS) && value === this.#values[func]) continue;
      if (level === SLC_DEFAULT) {
        const fallback = DEFAULT_SPECIAL_CHARACTERS.get(func);
        this.#set(func, fallback === undefined ? SLC_NOSUPPORT : SLC_VARIABLE, fallback ?? 0);
        reply.push(func, this.#modifiers[func]!, this.#values[func]!);
        continue;
      }
      // NOSUPPORT, CANTCHANGE or VARIABLE with another character: the client's choice stands.
      this.#set(func, modifiers, level === SLC_NOSUPPORT ? 0 : value);
      reply.push(func, modifiers | SLC_ACK, this.#values[func]!);
    }
    return reply.length === 0 ? undefined : subnegotiation(OPT_LINEMODE, [LM_SLC, ...reply]);
  }

  #reset(): void {
    this.#modifiers.fill(SLC_NOSUPPORT);
    this.#values.fill(0);
    for (const [func, value] of DEFAULT_SPECIAL_CHARACTERS) this.#set(func, SLC_VARIABLE, value);
  }

  #set(func: number, modifiers: number, value: number): void {
    this.#modifiers[func] = modifiers & ~SLC_ACK;
    this.#values[func] = value;
  }

  #appendTable(reply: number[]): void {
    for (let func = 1; func < 256; func++) {
      const level = this.#modifiers[func]! & SLC_LEVELBITS;
      if (level !== SLC_NOSUPPORT || this.#values[func] !== 0)
        reply.push(func, this.#modifiers[func]!, this.#values[func]!);
    }
  }
}
