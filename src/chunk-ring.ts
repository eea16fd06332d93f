// Chunks of bytes in one buffer, written front to back and wrapping around, at positions that
// grow for ever: the storage under the monitor's replay log and the line history.

/** A header whose first word is this marks the rest of a lap as unused; its second word is how many bytes that is. */
const PAD = 0xffff_ffff;

/**
 * Bytes of chunks passed at once, ahead of the head's need: the oldest chunks were written a lap
 * ago and are cold, and a loop over many in a row lets the processor fetch them ahead, where one
 * chunk passed a write each is a read from memory a write.
 */
const PASS_AHEAD = 4096;

export interface ChunkRingOptions {
  /** What the ring is, for the error a wrong size gets. */
  name: string;
  /** Bytes, multiples of `align`, at least `minSize`; the ring grows from `size` to `maxSize`. */
  size: number;
  maxSize: number;
  minSize: number;
  /**
   * Bytes of a chunk's header, at least 8: its first word is its owner's slot, its second the
   * length of the bytes after the header. The rest is the owner's.
   */
  header: number;
  /** Chunks start on multiples of this: 8 or 16, so that a header can hold doubles. */
  align: number;
  /**
   * The ring is about to write over the chunk at buffer offset `at` (absolute position
   * `position`). Returns how many of its bytes its owner copied out to keep (0: it let them go).
   */
  pass(at: number, position: number): number;
}

/**
 * The buffer and its views are made at the first reserve(): a ring never written to holds none
 * of it. Where a lap passes chunks whose owners copy out more than a quarter of the ring, the ring
 * is too small for them: it doubles, up to its maximum.
 */
export class ChunkRing {
  #size: number;
  readonly #maxSize: number;
  readonly #header: number;
  readonly #align: number;
  readonly #pass: (at: number, position: number) => number;
  #bytes: Buffer | undefined;
  #words: Uint32Array | undefined;
  #doubles: Float64Array | undefined;
  /** Absolute positions: of the next chunk, and of the oldest not yet passed. */
  #head = 0;
  #tail = 0;
  /** Bytes owners copied out in this lap. */
  #copiedOut = 0;

  constructor(options: ChunkRingOptions) {
    const { name, size, maxSize, minSize, align } = options;
    if (size % align !== 0 || maxSize % align !== 0 || size < minSize || maxSize < size)
      throw new RangeError(
        `a ${name}'s size must be a multiple of ${align}, at least ${minSize / 1024} KiB and at most its maximum, not ${size} (maximum ${maxSize})`,
      );
    this.#size = size;
    this.#maxSize = maxSize;
    this.#header = options.header;
    this.#align = align;
    this.#pass = options.pass;
  }

  /** Bytes the ring takes (once it was first written to): its size now. */
  get size(): number {
    return this.#size;
  }

  get maxSize(): number {
    return this.#maxSize;
  }

  /** Where the next chunk will be. */
  get head(): number {
    return this.#head;
  }

  /** The buffer and two views of it, valid until the ring grows (reserve() may grow it). */
  get bytes(): Buffer {
    return this.#bytes!;
  }

  get words(): Uint32Array {
    return this.#words!;
  }

  get doubles(): Float64Array {
    return this.#doubles!;
  }

  /** Whether the chunk at `position` is still in the ring. */
  has(position: number): boolean {
    return position >= this.#tail;
  }

  /** Where the chunk at `position` is in the buffer. */
  offsetOf(position: number): number {
    return position % this.#size;
  }

  /**
   * Makes room at the head for a chunk of `size` bytes, its header included, in one piece;
   * returns its offset in the buffer. commit() then takes it.
   */
  reserve(size: number): number {
    return this.#reserveAligned(this.#aligned(size));
  }

  #reserveAligned(room: number): number {
    if (this.#bytes === undefined) this.#allocate(this.#size);
    const size = this.#size;
    const at = this.#head % size;
    if (at + room <= size) {
      if (this.#tail < this.#head + room - size) this.#passUntil(this.#head + room - size + PASS_AHEAD);
      return at;
    }
    // The chunk would pass the end of the lap: the ring grows first if it is short for its
    // owners, or the rest of the lap is left unused, marked once what was there is passed.
    const isShort = this.#copiedOut > size / 4 && size < this.#maxSize;
    this.#copiedOut = 0;
    if (isShort) {
      this.grow(Math.min(this.#maxSize, size * 2));
      return this.#reserveAligned(room);
    }
    const lapEnd = this.#head + size - at;
    this.#passUntil(lapEnd + room - size);
    this.#words![at / 4] = PAD;
    this.#words![at / 4 + 1] = size - at;
    this.#head = lapEnd;
    return 0;
  }

  /** Takes the chunk written at the head, `length` bytes after its header; returns its position. */
  commit(length: number): number {
    const position = this.#head;
    this.#head += this.#aligned(this.#header + length);
    return position;
  }

  /**
   * Moves the ring to a buffer of `size` bytes. Positions are absolute, so every chunk (and every
   * link to it) stays where it was: only where a position lands in the buffer changes.
   */
  grow(size: number): void {
    const old = this.#bytes;
    const oldSize = this.#size;
    const bytes = this.#allocate(size);
    if (old === undefined) return;
    for (let position = this.#tail; position < this.#head;) {
      const from = position % oldSize;
      const to = position % size;
      const run = Math.min(this.#head - position, oldSize - from, size - to);
      old.copy(bytes, to, from, from + run);
      position += run;
    }
  }

  #allocate(size: number): Buffer {
    const bytes = Buffer.allocUnsafeSlow(size);
    this.#bytes = bytes;
    this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset, size / 4);
    this.#doubles = new Float64Array(bytes.buffer, bytes.byteOffset, size / 8);
    this.#size = size;
    return bytes;
  }

  /** Passes the chunks that start before absolute position `end` (those the head is about to write over). */
  #passUntil(end: number): void {
    const size = this.#size;
    const words = this.#words!;
    while (this.#tail < end && this.#tail < this.#head) {
      const at = this.#tail % size;
      const length = words[at / 4 + 1]!;
      if (words[at / 4] === PAD) {
        this.#tail += length;
        continue;
      }
      this.#copiedOut += this.#pass(at, this.#tail);
      this.#tail += this.#aligned(this.#header + length);
    }
  }

  /** `bytes` rounded up to the alignment (a chunk's size: far below 2^31). */
  #aligned(bytes: number): number {
    return (bytes + this.#align - 1) & -this.#align;
  }
}
