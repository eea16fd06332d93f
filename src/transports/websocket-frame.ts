// A server's data frames (RFC 6455 section 5.2) built as one buffer: a turn's output leaves in
// one write rather than ws's header-and-payload writev.

/** Opcodes of the two data frames. */
const TEXT = 0x1;
const BINARY = 0x2;
/** FIN: the frame is a whole message. A server's frames are never masked. */
const FINAL = 0x80;
/** Payload lengths from here take a 16-bit, then a 64-bit, extended length. */
const LENGTH_16 = 126;
const LENGTH_64 = 65536;

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

function totalLength(pieces: readonly Uint8Array[]): number {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  return length;
}
