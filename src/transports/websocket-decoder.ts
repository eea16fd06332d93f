// Incremental decoder of a client's WebSocket frames (RFC 6455 section 5), checking them as ws's server does.
import { constants, isUtf8 } from 'node:buffer';

import { BINARY, CLOSE, CONTINUATION, FINAL, MAX_CONTROL_PAYLOAD, PING, PONG, TEXT } from './websocket-frame.js';

/** Where a decoder delivers what it found, in order. */
export interface FrameSink {
  /** A whole message (fragments joined), unmasked: a Buffer of its own that the sink may keep. */
  message(payload: Buffer, isBinary: boolean): void;
  ping(payload: Buffer): void;
  pong(payload: Buffer): void;
  /** The peer's close frame: its status code (1005 when the frame had no payload) and its reason. */
  close(code: number, reason: string): void;
  /** The peer broke the protocol: the status to close with (1002, 1007 or 1009) and why, in words for a log. */
  fail(code: number, reason: string): void;
}

/** The message whose fragments are arriving: kept only between its first and last frame. */
interface Fragments {
  readonly opcode: number;
  readonly parts: Buffer[];
  /** Payload bytes of all fragments so far, the empty ones included. */
  length: number;
}

// Numbered rather than named: push() tests the state once per call.
const HEADER = 0;
const PAYLOAD = 1;
const ENDED = 2;
type State = typeof HEADER | typeof PAYLOAD | typeof ENDED;

/** readHeader() and the continue methods: the bytes are spent (kept for later, or the decoder has ended). */
const SPENT = -1;

const PROTOCOL_ERROR = 1002;
const INVALID_PAYLOAD = 1007;
const MESSAGE_TOO_BIG = 1009;
/** The status a close frame without payload stands for; never sent on the wire (RFC 6455 section 7.4.1). */
const NO_STATUS = 1005;

/** Second header byte: the payload is masked, and its length or an escape to a longer one. */
const MASKED = 0x80;
const LENGTH_BITS = 0x7f;
const LENGTH_16 = 126;
const LENGTH_64 = 127;
/** Flags and opcode bits of the first header byte. */
const RSV1 = 0x40;
const RSV2_3 = 0x30;
const OPCODE = 0x0f;
/** Two fixed bytes, a 64-bit length and the mask key. */
const MAX_HEADER = 14;
/** A 64-bit length's high word above this makes the length larger than 2^53 - 1. */
const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;
/** Runs from this many bytes are unmasked a word at a time (see unmaskInto). */
const WORDWISE_FROM = 256;
/** Int32Array reads the machine's byte order; the mask is kept big-endian, as on the wire. */
const IS_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * RFC 6455 decoder of the frames a client sends, keeping its state between pushes so a frame cut
 * anywhere decodes as if it had arrived whole. A whole frame in one push costs one allocation, its
 * payload; buffers are kept only across a cut or between fragments. The first close or failure
 * ends it: later bytes are ignored. No extension is ever negotiated, so RSV1 is an error too.
 */
export class FrameDecoder {
  readonly #sink: FrameSink;
  /**
   * Largest message in bytes; 0 = only what a Buffer can hold. It also bounds what one header can
   * make us allocate: a frame cut between pushes gets its whole buffer when its header arrives.
   */
  readonly #maxPayload: number;
  #state: State = HEADER;
  /** First header byte of the frame whose payload is being read: FIN and opcode. */
  #head = 0;
  /** That frame's mask key, big-endian, turned to line up with its next payload byte. */
  #mask = 0;
  /** That frame's payload bytes not yet read. */
  #remaining = 0;
  /** The part of a frame's payload that has arrived, unmasked, while the frame is cut between pushes. */
  #parts: Buffer[] | undefined;
  /** Bytes of a header cut between pushes. */
  #carry: Uint8Array | undefined;
  #fragments: Fragments | undefined;

  constructor(sink: FrameSink, maxPayload: number) {
    this.#sink = sink;
    this.#maxPayload = maxPayload;
  }

  /** Decodes `bytes`, which are lent: the decoder copies what it keeps past the call. */
  push(bytes: Uint8Array): void {
    const end = bytes.length;
    let at = 0;
    if (this.#state === PAYLOAD) {
      at = this.#continuePayload(bytes);
    } else if (this.#state === ENDED) {
      return;
    } else if (this.#carry !== undefined) {
      at = this.#continueHeader(bytes);
      if (at !== SPENT) at = this.#readPayload(bytes, at, end);
    }
    while (at !== SPENT && at < end) {
      at = this.#readHeader(bytes, at, end);
      if (at !== SPENT) at = this.#readPayload(bytes, at, end);
    }
  }

  /**
   * Reads the header at `at`: on success returns where its payload starts, with #head, #mask and
   * #remaining set; otherwise keeps a cut header for the next push, or fails.
   */
  #readHeader(bytes: Uint8Array, at: number, end: number): number {
    if (end - at < 2) return this.#keepHeader(bytes, at, end);
    const head = bytes[at]!;
    const second = bytes[at + 1]!;
    const opcode = head & OPCODE;
    let length = second & LENGTH_BITS;
    // Checked in ws's order, so a frame with several faults is reported as ws would.
    if ((head & RSV2_3) !== 0) return this.#fail(PROTOCOL_ERROR, 'RSV2 and RSV3 must be clear');
    if ((head & RSV1) !== 0) return this.#fail(PROTOCOL_ERROR, 'RSV1 must be clear');
    if (opcode === CONTINUATION) {
      if (this.#fragments === undefined) return this.#fail(PROTOCOL_ERROR, 'invalid opcode 0');
    } else if (opcode === TEXT || opcode === BINARY) {
      if (this.#fragments !== undefined) return this.#fail(PROTOCOL_ERROR, `invalid opcode ${opcode}`);
    } else if (opcode === CLOSE || opcode === PING || opcode === PONG) {
      if ((head & FINAL) === 0) return this.#fail(PROTOCOL_ERROR, 'FIN must be set');
      // A close payload is empty or starts with a 2-byte status code.
      if (length > MAX_CONTROL_PAYLOAD || (opcode === CLOSE && length === 1)) {
        return this.#fail(PROTOCOL_ERROR, `invalid payload length ${length}`);
      }
    } else {
      return this.#fail(PROTOCOL_ERROR, `invalid opcode ${opcode}`);
    }
    // RFC 6455 section 5.1: a server must close on an unmasked client frame.
    if ((second & MASKED) === 0) return this.#fail(PROTOCOL_ERROR, 'MASK must be set');

    let maskAt = at + 2;
    if (length === LENGTH_16) {
      maskAt += 2;
      if (end < maskAt) return this.#keepHeader(bytes, at, end);
      length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    } else if (length === LENGTH_64) {
      maskAt += 8;
      if (end < maskAt) return this.#keepHeader(bytes, at, end);
      const high = readUint32(bytes, at + 2);
      if (high > MAX_SAFE_HIGH_WORD) {
        return this.#fail(MESSAGE_TOO_BIG, 'Unsupported WebSocket frame: payload length > 2^53 - 1');
      }
      length = high * 2 ** 32 + readUint32(bytes, at + 6);
    }
    if (opcode < CLOSE) {
      // Judged on the header, before any of the payload is read or a buffer is allocated for it.
      const messageLength = (this.#fragments?.length ?? 0) + length;
      if (this.#maxPayload > 0 ? messageLength > this.#maxPayload : messageLength > constants.MAX_LENGTH) {
        return this.#fail(MESSAGE_TOO_BIG, 'Max payload size exceeded');
      }
    }
    if (end < maskAt + 4) return this.#keepHeader(bytes, at, end);
    this.#head = head;
    this.#mask = readUint32(bytes, maskAt) | 0;
    this.#remaining = length;
    return maskAt + 4;
  }

  /** Reads the payload of the header just read, from `at`; returns where the next frame starts. */
  #readPayload(bytes: Uint8Array, at: number, end: number): number {
    const length = this.#remaining;
    if (end - at >= length) {
      const payload = Buffer.allocUnsafe(length);
      unmaskInto(payload, 0, bytes, at, at + length, this.#mask);
      return this.#deliver(payload) ? at + length : SPENT;
    }
    // Kept as it arrives, not in a buffer of the length the header claims: a client that names
    // a large frame and sends none of it holds no memory for it.
    this.#parts = [];
    this.#state = PAYLOAD;
    this.#keepPart(bytes, at, end);
    return SPENT;
  }

  #continuePayload(bytes: Uint8Array): number {
    const remaining = this.#remaining;
    if (bytes.length < remaining) {
      this.#keepPart(bytes, 0, bytes.length);
      return SPENT;
    }
    this.#keepPart(bytes, 0, remaining);
    const parts = this.#parts!;
    this.#parts = undefined;
    this.#state = HEADER;
    return this.#deliver(parts.length === 1 ? parts[0]! : Buffer.concat(parts)) ? remaining : SPENT;
  }

  /** Keeps `bytes[from, to)` of a cut payload, unmasked. */
  #keepPart(bytes: Uint8Array, from: number, to: number): void {
    const part = Buffer.allocUnsafe(to - from);
    unmaskInto(part, 0, bytes, from, to, this.#mask);
    this.#parts!.push(part);
    this.#remaining -= to - from;
    this.#mask = turnMask(this.#mask, to - from);
  }

  /** Completes a cut header from the front of `bytes`; returns where in `bytes` its payload starts. */
  #continueHeader(bytes: Uint8Array): number {
    const carry = this.#carry!;
    this.#carry = undefined;
    const header = new Uint8Array(Math.min(MAX_HEADER, carry.length + bytes.length));
    header.set(carry);
    header.set(bytes.subarray(0, header.length - carry.length), carry.length);
    const payloadAt = this.#readHeader(header, 0, header.length);
    return payloadAt === SPENT ? SPENT : payloadAt - carry.length;
  }

  #keepHeader(bytes: Uint8Array, at: number, end: number): number {
    // A copy: the pushed bytes are only lent.
    this.#carry = new Uint8Array(bytes.subarray(at, end));
    return SPENT;
  }

  /** Hands a whole frame's payload on; returns whether decoding goes on. */
  #deliver(payload: Buffer): boolean {
    const opcode = this.#head & OPCODE;
    if (opcode === PING) {
      this.#sink.ping(payload);
    } else if (opcode === PONG) {
      this.#sink.pong(payload);
    } else if (opcode === CLOSE) {
      this.#close(payload);
    } else if (this.#fragments === undefined && (this.#head & FINAL) !== 0) {
      this.#deliverMessage(payload, opcode);
    } else {
      this.#gather(payload);
    }
    return this.#state !== ENDED;
  }

  #gather(payload: Buffer): void {
    let fragments = this.#fragments;
    if (fragments === undefined) {
      fragments = { opcode: this.#head & OPCODE, parts: [], length: 0 };
      this.#fragments = fragments;
    }
    if (payload.length > 0) fragments.parts.push(payload);
    fragments.length += payload.length;
    if ((this.#head & FINAL) === 0) return;
    this.#fragments = undefined;
    const { parts, length, opcode } = fragments;
    this.#deliverMessage(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length), opcode);
  }

  #deliverMessage(payload: Buffer, opcode: number): void {
    // RFC 6455 section 8.1: text must be UTF-8 once whole; a fragment may end inside a character.
    if (opcode === TEXT && !isUtf8(payload)) {
      this.#fail(INVALID_PAYLOAD, 'invalid UTF-8 sequence');
      return;
    }
    this.#sink.message(payload, opcode === BINARY);
  }

  #close(payload: Buffer): void {
    if (payload.length === 0) {
      this.#end();
      this.#sink.close(NO_STATUS, '');
      return;
    }
    const code = payload.readUInt16BE(0);
    if (!isValidStatusCode(code)) {
      this.#fail(PROTOCOL_ERROR, `invalid status code ${code}`);
      return;
    }
    const reason = payload.subarray(2);
    if (!isUtf8(reason)) {
      this.#fail(INVALID_PAYLOAD, 'invalid UTF-8 sequence');
      return;
    }
    this.#end();
    this.#sink.close(code, reason.toString('utf8'));
  }

  #fail(code: number, reason: string): typeof SPENT {
    this.#end();
    this.#sink.fail(code, reason);
    return SPENT;
  }

  /** Ended before the sink hears of it, so a sink that throws leaves nothing to decode. */
  #end(): void {
    this.#state = ENDED;
    this.#parts = undefined;
    this.#carry = undefined;
    this.#fragments = undefined;
  }
}

/** A status code a peer may send in a close frame: ws's isValidStatusCode (RFC 6455 section 7.4). */
function isValidStatusCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
  );
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** The mask key as it stands `count` payload bytes further on: the key repeats every 4 bytes. */
function turnMask(mask: number, count: number): number {
  const shift = (count & 3) * 8;
  return shift === 0 ? mask : (mask << shift) | (mask >>> (32 - shift));
}

/**
 * Copies `source[from, to)` into `target` at `at`, unmasked. A short run is unmasked while copied,
 * in one pass; a long one is copied, then unmasked a word at a time: twice as fast from 256 bytes
 * (measured on Node 20), slower below for the view it allocates.
 */
function unmaskInto(target: Buffer, at: number, source: Uint8Array, from: number, to: number, mask: number): void {
  if (to - from < WORDWISE_FROM) {
    unmaskBytewise(target, at, source, from, to, mask);
    return;
  }
  target.set(source.subarray(from, to), at);
  unmaskWordwise(target, at, to - from, mask);
}

function unmaskBytewise(target: Buffer, at: number, source: Uint8Array, from: number, to: number, mask: number): void {
  const m0 = mask >>> 24;
  const m1 = (mask >>> 16) & 0xff;
  const m2 = (mask >>> 8) & 0xff;
  const m3 = mask & 0xff;
  const wholeWordsEnd = from + ((to - from) & ~3);
  let i = from;
  let j = at;
  for (; i < wholeWordsEnd; i += 4, j += 4) {
    target[j] = source[i]! ^ m0;
    target[j + 1] = source[i + 1]! ^ m1;
    target[j + 2] = source[i + 2]! ^ m2;
    target[j + 3] = source[i + 3]! ^ m3;
  }
  if (i < to) target[j++] = source[i++]! ^ m0;
  if (i < to) target[j++] = source[i++]! ^ m1;
  if (i < to) target[j] = source[i]! ^ m2;
}

/** Unmasks `length` bytes of `bytes` from `at` in place, 4 at a time where they are 4-byte aligned. */
function unmaskWordwise(bytes: Buffer, at: number, length: number, mask: number): void {
  // An Int32Array view must start on a multiple of 4.
  const lead = Math.min(length, (4 - ((bytes.byteOffset + at) & 3)) & 3);
  unmaskBytewise(bytes, at, bytes, at, at + lead, mask);
  const wordMask = turnMask(mask, lead);
  const nativeMask = IS_LITTLE_ENDIAN ? swapBytes(wordMask) : wordMask;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset + at + lead, (length - lead) >>> 2);
  for (let w = 0; w < words.length; w++) words[w]! ^= nativeMask;
  const tail = at + lead + words.length * 4;
  unmaskBytewise(bytes, tail, bytes, tail, at + length, wordMask);
}

function swapBytes(word: number): number {
  return ((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24);
}
