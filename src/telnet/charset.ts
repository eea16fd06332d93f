// CHARSET subnegotiation: REQUEST, ACCEPTED and REJECTED frames (RFC 2066).

import { CHARSET_ACCEPTED, CHARSET_REJECTED, CHARSET_REQUEST, OPT_CHARSET } from './constants.js';
import { subnegotiation } from './encoder.js';

/** A parsed CHARSET subnegotiation from the peer. */
export type CharsetMessage = { accepted: string } | { rejected: true } | { request: string[] };

const SEPARATOR = ';';
// RFC 2066 section 4: a REQUEST may start with "[TTABLE]" and a version byte.
const TTABLE_MARK = '[TTABLE]';

/** IAC SB CHARSET REQUEST ";NAME;NAME" IAC SE, offering the names in order of preference. */
export function requestCharset(charsets: string[]): Buffer {
  const list = charsets.map((name) => SEPARATOR + name).join('');
  return subnegotiation(OPT_CHARSET, [CHARSET_REQUEST, ...Buffer.from(list, 'latin1')]);
}

/** IAC SB CHARSET ACCEPTED <name> IAC SE, our answer to a client's REQUEST. */
export function acceptCharset(name: string): Buffer {
  return subnegotiation(OPT_CHARSET, [CHARSET_ACCEPTED, ...Buffer.from(name, 'latin1')]);
}

/** IAC SB CHARSET REJECTED IAC SE, our answer to a client's REQUEST we cannot meet. */
export function rejectCharset(): Buffer {
  return subnegotiation(OPT_CHARSET, [CHARSET_REJECTED]);
}

/** Reads the peer's ACCEPTED, REJECTED or REQUEST; undefined for TTABLE messages and malformed payloads. */
export function parseCharsetReply(payload: Uint8Array): CharsetMessage | undefined {
  const kind = payload[0];
  const text = Buffer.from(payload.subarray(1)).toString('latin1');
  if (kind === CHARSET_ACCEPTED) return text.length > 0 ? { accepted: text } : undefined;
  if (kind === CHARSET_REJECTED) return { rejected: true };
  if (kind !== CHARSET_REQUEST) return undefined;
  const list = text.startsWith(TTABLE_MARK) ? text.slice(TTABLE_MARK.length + 1) : text;
  // The first byte of the list is the separator the sender chose.
  const separator = list[0];
  if (separator === undefined) return undefined;
  const names = list
    .slice(1)
    .split(separator)
    .filter((name) => name.length > 0);
  return names.length > 0 ? { request: names } : undefined;
}
