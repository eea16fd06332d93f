// Pure telnet encoders: IAC escaping, NVT newlines, negotiation and subnegotiation frames (RFC 854, 855).

import { IAC, SB, SE } from './constants.js';

const NEWLINES = /\r\n|\r|\n/g;

/** Doubles every IAC byte; returns the input itself when it holds none. */
export function escapeIac(bytes: Uint8Array): Uint8Array {
  let next = bytes.indexOf(IAC);
  if (next === -1) return bytes;
  let count = 0;
  for (let i = next; i !== -1; i = bytes.indexOf(IAC, i + 1)) count++;
  const out = Buffer.allocUnsafe(bytes.length + count);
  let from = 0;
  let at = 0;
  while (next !== -1) {
    out.set(bytes.subarray(from, next + 1), at);
    at += next + 1 - from;
    out[at++] = IAC;
    from = next + 1;
    next = bytes.indexOf(IAC, from);
  }
  out.set(bytes.subarray(from), at);
  return out;
}

/**
 * Encodes text for the NVT: UTF-8, a lone LF becomes CR LF and a lone CR becomes CR NUL
 * (RFC 854 says a CR must be followed by LF or NUL), IAC doubled. Stateless, so a CR at
 * the end of one call and an LF at the start of the next are two line ends.
 */
export function encodeText(text: string): Buffer {
  const bytes = Buffer.from(nvtText(text), 'utf8');
  // Well-formed UTF-8 never contains 0xFF, but escaping here keeps the NVT guarantee
  // from resting on that; it costs one indexOf.
  const escaped = escapeIac(bytes);
  return Buffer.isBuffer(escaped) ? escaped : Buffer.from(escaped);
}

/**
 * Text with encodeText's newlines, left a string: its UTF-8 bytes are encodeText's, since UTF-8
 * never holds the byte 0xFF (IAC). A byte stream writes it as such, joined with other text.
 */
export function nvtText(text: string): string {
  const lf = text.indexOf('\n');
  const cr = text.indexOf('\r');
  // The usual cases without a regular expression: no line end, or one at the end (a line, Enter's echo).
  if (lf === -1 && cr === -1) return text;
  if (lf === text.length - 1 && cr === -1) return `${text.slice(0, -1)}\r\n`;
  if (lf === text.length - 1 && cr === lf - 1) return text;
  if (cr === -1) return text.replaceAll('\n', '\r\n');
  return text.replace(NEWLINES, nvtNewline);
}

/** IAC <verb> <option> frames, one per verb and option, made at first use and never written to. */
const NEGOTIATIONS = new Map<number, Buffer>();

/** IAC <verb> <option>, verb being DO, DONT, WILL or WONT: a shared frame, not to be written to. */
export function negotiate(verb: number, option: number): Buffer {
  const key = (verb << 8) | option;
  let frame = NEGOTIATIONS.get(key);
  if (frame === undefined) {
    // Not from the shared pool: a frame kept for good would keep a pool chunk alive with it.
    frame = Buffer.alloc(3);
    frame[0] = IAC;
    frame[1] = verb;
    frame[2] = option;
    NEGOTIATIONS.set(key, frame);
  }
  return frame;
}

/** IAC SB <option> <payload, IAC doubled> IAC SE. */
export function subnegotiation(option: number, payload: Uint8Array | readonly number[]): Buffer {
  const body = escapeIac(payload instanceof Uint8Array ? payload : Uint8Array.from(payload));
  const out = Buffer.allocUnsafe(body.length + 5);
  out[0] = IAC;
  out[1] = SB;
  out[2] = option;
  out.set(body, 3);
  out[body.length + 3] = IAC;
  out[body.length + 4] = SE;
  return out;
}

/** IAC <cmd>, for commands without an option such as NOP, GA or AYT. */
export function command(cmd: number): Buffer {
  return Buffer.from([IAC, cmd]);
}

function nvtNewline(match: string): string {
  return match === '\r' ? '\r\0' : '\r\n';
}
