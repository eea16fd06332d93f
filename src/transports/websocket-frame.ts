// A server's frames (RFC 6455 section 5.2) built as one buffer: a turn's output leaves in one write
// rather than ws's header-and-payload writev. Also the frame constants the decoder reads by.

/** Opcodes (RFC 6455 section 5.2); 3-7 and 0xB-0xF are reserved. */
export const CONTINUATION = 0x0;
export const TEXT = 0x1;
export const BINARY = 0x2;
export const CLOSE = 0x8;
export const PING = 0x9;
export const PONG = 0xa;
/** FIN: the frame is a whole message, or its last fragment. A server's frames are never masked. */
export const FINAL = 0x80;
/** Control frames carry at most this many payload bytes (RFC 6455 section 5.5). */
export const MAX_CONTROL_PAYLOAD = 125;
/** Payload lengths from here take a 16-bit, then a 64-bit, extended length. */
const LENGTH_16 = 126;
const LENGTH_64 = 65536;
/** The status code ahead of a close frame's reason. */
const CLOSE_CODE_BYTES = 2;

/**
 * One whole message as it goes on the wire: `payload` (text as UTF-8, or the bytes of its pieces
 * in order) behind its header. Buffers come from Node's pool where small, so a frame is usually
 * no allocation of its own.
 */
export function encodeFrame(payload: string | readonly Uint8Array[], binary: boolean): Buffer {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : totalLength(payload);
  const header = size < LENGTH_16 ? 2 : size < LENGTH_64 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + size);
  frame[0] = FINAL | (binary ? BINARY : TEXT);
  if (header === 2) {
    frame[1] = size;
  } else if (header === 4) {
    frame[1] = LENGTH_16;
    frame.writeUInt16BE(size, 2);
  } else {
    frame[1] = 127;
    // Output held for one frame is bounded far below 2^53: the high word is 0 or small.
    frame.writeUInt32BE(Math.floor(size / 2 ** 32), 2);
    frame.writeUInt32BE(size % 2 ** 32, 6);
  }
  if (typeof payload === 'string') {
    frame.write(payload, header);
  } else {
    let offset = header;
    for (const piece of payload) {
      frame.set(piece, offset);
      offset += piece.length;
    }
  }
  return frame;
}

/**
 * The code that stands for a close frame without one (RFC 6455 section 7.4.1): it is never sent,
 * and a frame "with" it is an empty close frame.
 */
export const NO_STATUS = 1005;

/**
 * A close frame with `code` and as much of `reason` as fits a control frame, cut between UTF-8
 * characters: a peer fails a connection whose close reason is not valid UTF-8. For NO_STATUS, an
 * empty close frame (the answer to a client's close frame without a code).
 */
export function encodeCloseFrame(code: number, reason: string): Buffer {
  if (code === NO_STATUS) return encodeControlFrame(CLOSE, new Uint8Array(0));
  const frame = Buffer.allocUnsafe(2 + MAX_CONTROL_PAYLOAD);
  frame[0] = FINAL | CLOSE;
  frame.writeUInt16BE(code, 2);
  // Buffer#write stops before a character that does not fit whole.
  const reasonLength = frame.write(reason, 2 + CLOSE_CODE_BYTES, MAX_CONTROL_PAYLOAD - CLOSE_CODE_BYTES, 'utf8');
  frame[1] = CLOSE_CODE_BYTES + reasonLength;
  return frame.subarray(0, 2 + CLOSE_CODE_BYTES + reasonLength);
}

/** A ping frame carrying `payload` (at most 125 bytes), which the peer's pong echoes. */
export function encodePingFrame(payload: Uint8Array = new Uint8Array(0)): Buffer {
  return encodeControlFrame(PING, payload);
}

/** A pong frame answering a ping with its `payload` (at most 125 bytes). */
export function encodePongFrame(payload: Uint8Array): Buffer {
  return encodeControlFrame(PONG, payload);
}

function encodeControlFrame(opcode: number, payload: Uint8Array): Buffer {
  if (payload.length > MAX_CONTROL_PAYLOAD) {
    throw new RangeError(`A control frame's payload is at most ${MAX_CONTROL_PAYLOAD} bytes, not ${payload.length}`);
  }
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = FINAL | opcode;
  frame[1] = payload.length;
  frame.set(payload, 2);
  return frame;
}

function totalLength(pieces: readonly Uint8Array[]): number {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  return length;
}
