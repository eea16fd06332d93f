// LINEMODE subnegotiation: MODE frames out, MODE/SLC/FORWARDMASK frames in (RFC 1184).

import { DO, DONT, LM_FORWARDMASK, LM_MODE, LM_SLC, MODE_ACK, OPT_LINEMODE, WILL, WONT } from './constants.js';
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
