// The output kept for late viewers of every session of a process, in one log written in order.

/** Bytes of recent output (UTF-8) a session's replay holds at most. */
export const REPLAY_CAP = 64 * 1024;

/**
 * What a replay keeps at least, where the session wrote as much: output cut back is cut to at most
 * this, after a newline, so that cutting is rare and every line kept is whole.
 */
export const REPLAY_KEPT = Math.floor((REPLAY_CAP * 3) / 4);

/** The log's first size: room for the last few seconds of output of a few hundred busy sessions. */
export const LOG_SIZE = 16 * 1024 * 1024;

/** What the log grows to at most, where its sessions keep more output than it holds. */
export const MAX_LOG_SIZE = 64 * 1024 * 1024;

/** A chunk's header: its owner's slot, its length, and where the owner's next chunk starts. */
const HEADER = 16;
/** Chunks start on multiples of this: the space left at the end of a lap always holds a header. */
const ALIGN = 16;
/** A header whose slot is this marks the rest of a lap as unused; its length is how many bytes that is. */
const PAD = 0xffff_ffff;
/** Nothing there: no next chunk, or no chunk of a chain in the log. */
const NONE = -1;
/**
 * Bytes of chunks dropped at once, ahead of the head's need: the oldest chunks were written a lap
 * ago and are cold, and a loop over many in a row lets the processor fetch them ahead, where one
 * chunk dropped a write each is a read from memory a write.
 */
const DROP_AHEAD = 4096;
/** Text written in one chunk at most, in characters: larger writes are split. */
const PIECE = 8192;
const NEWLINE = 0x0a;

/**
 * One session's output in a log: its chunks in the log, oldest first, and older output the log
 * has passed and the session still needs, in a buffer of its own.
 */
export interface ReplayChain {
  readonly slot: number;
  /** Absolute log positions of the session's oldest and newest chunks in the log, or NONE. */
  oldest: number;
  newest: number;
  /** Bytes of the session's output in the log. */
  retained: number;
  /** Older output, written before the chunks in the log, moved out of the log as it wrapped. */
  overflow: Buffer | undefined;
  overflowLength: number;
  /** Output before what is kept was dropped: the replay starts after the first newline. */
  isCut: boolean;
}

/**
 * Every session's recent output, as UTF-8, in one buffer written front to back and wrapping
 * around. Each write lands right after the last one, in memory the processor has at hand; a
 * buffer per session put each write on a page of its own, which at 500 busy sessions cost a
 * tenth of the server's time. A session's chunks are linked, oldest to newest.
 *
 * When the log wraps over a chunk whose session has more than REPLAY_KEPT bytes of newer output
 * in the log, the chunk is dropped; otherwise (a quiet session among busy ones, or a log too
 * small for its sessions) it is copied out to the session's overflow, as a per-session buffer
 * would have kept it all along. Where a lap copies out more than a quarter of the log, the log is
 * too small for the sessions it serves: it doubles, up to its maximum, so that busy sessions'
 * chunks are dropped again rather than copied.
 */
export class ReplayLog {
  #size: number;
  readonly #maxSize: number;
  /** Allocated on the first write: a process whose sessions never write holds none of it. */
  #bytes: Buffer | undefined;
  #words: Uint32Array | undefined;
  #doubles: Float64Array | undefined;
  /** Absolute positions (growing for ever): of the next chunk, and of the oldest chunk not yet dropped. */
  #head = 0;
  #tail = 0;
  /** Bytes copied out to sessions' overflows in this lap. */
  #copiedOut = 0;
  #chains: Array<ReplayChain | undefined> = [];
  #freeSlots: number[] = [];

  /** `size` and `maxSize`: bytes, multiples of 16, at least 64 KiB; the log grows from one to the other. */
  constructor(size = LOG_SIZE, maxSize = Math.max(size, MAX_LOG_SIZE)) {
    if (size % ALIGN !== 0 || size < 64 * 1024 || maxSize < size)
      throw new RangeError(
        `a replay log's size must be a multiple of 16, at least 64 KiB and at most its maximum, not ${size} (maximum ${maxSize})`,
      );
    this.#size = size;
    this.#maxSize = maxSize;
  }

  /** Bytes the log takes (once its first output came): its size now. */
  get size(): number {
    return this.#size;
  }

  /** A chain for a new session. */
  open(): ReplayChain {
    const slot = this.#freeSlots.pop() ?? this.#chains.length;
    const chain: ReplayChain = {
      slot,
      oldest: NONE,
      newest: NONE,
      retained: 0,
      overflow: undefined,
      overflowLength: 0,
      isCut: false,
    };
    this.#chains[slot] = chain;
    return chain;
  }

  /** Forgets `chain`: its chunks in the log are left to be written over. */
  close(chain: ReplayChain): void {
    if (this.#chains[chain.slot] !== chain) return;
    this.#chains[chain.slot] = undefined;
    this.#freeSlots.push(chain.slot);
    chain.oldest = NONE;
    chain.newest = NONE;
    chain.retained = 0;
    chain.overflow = undefined;
    chain.overflowLength = 0;
  }

  /** Appends `text` to `chain`'s output. */
  append(chain: ReplayChain, text: string): void {
    if (this.#chains[chain.slot] !== chain) return;
    for (let start = 0; start < text.length;) {
      let end = Math.min(text.length, start + PIECE);
      // A surrogate pair stays whole: each half alone would be written as U+FFFD.
      if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
      this.#appendPiece(chain, start === 0 && end === text.length ? text : text.slice(start, end));
      start = end;
    }
  }

  /** `chain`'s output as kept: at most REPLAY_CAP bytes, starting on a whole line. */
  read(chain: ReplayChain): string {
    const bytes = this.#bytes;
    // The chain's chunks, oldest first; the oldest are passed over while more than the cap (and a
    // piece's worth, so that the cut below still falls on a newline) follows them.
    const chunks: number[] = [];
    let inLog = 0;
    // A chain with chunks means the log has its buffer.
    for (let at = chain.oldest; at !== NONE; at = this.#nextOf(at)) chunks.push(at);
    for (const at of chunks) inLog += this.#lengthOf(at);
    let first = 0;
    let skipped = 0;
    while (inLog - skipped > REPLAY_CAP + PIECE * 3 && first < chunks.length - 1)
      skipped += this.#lengthOf(chunks[first++]!);
    const isOverflowRead = skipped === 0;
    const total = (isOverflowRead ? chain.overflowLength : 0) + inLog - skipped;
    const gathered = Buffer.allocUnsafe(total);
    let length = 0;
    if (isOverflowRead && chain.overflow !== undefined)
      length = chain.overflow.copy(gathered, 0, 0, chain.overflowLength);
    for (let i = first; i < chunks.length; i++) {
      const at = chunks[i]! % this.#size;
      length += bytes!.copy(gathered, length, at + HEADER, at + HEADER + this.#lengthOf(chunks[i]!));
    }
    let start = 0;
    if (chain.isCut || !isOverflowRead) start = afterNewline(gathered, 0, length);
    if (length - start > REPLAY_CAP) start = afterNewline(gathered, length - REPLAY_KEPT - 1, length);
    return gathered.toString('utf8', start, length);
  }

  #appendPiece(chain: ReplayChain, text: string): void {
    // Room for the worst case, three bytes a UTF-16 unit; the chunk then takes what it needs.
    const room = align(HEADER + text.length * 3);
    const at = this.#reserve(room);
    const bytes = this.#bytes!;
    const length = bytes.write(text, at + HEADER);
    this.#words![at / 4] = chain.slot;
    this.#words![at / 4 + 1] = length;
    this.#doubles![at / 8 + 1] = NONE;
    const position = this.#head;
    if (chain.newest === NONE) chain.oldest = position;
    else this.#doubles![(chain.newest % this.#size) / 8 + 1] = position;
    chain.newest = position;
    chain.retained += length;
    this.#head += align(HEADER + length);
  }

  /** Makes `room` bytes free at the head, in one piece; returns their offset in the buffer. */
  #reserve(room: number): number {
    if (this.#bytes === undefined) this.#allocate(this.#size);
    const size = this.#size;
    const at = this.#head % size;
    if (at + room <= size) {
      if (this.#tail < this.#head + room - size) this.#dropUntil(this.#head + room - size + DROP_AHEAD);
      return at;
    }
    // The chunk would pass the end of the lap: the log grows first if it is short for its
    // sessions, or the rest of the lap is left unused, marked once what was there is dropped.
    const isShort = this.#copiedOut > size / 4 && size < this.#maxSize;
    this.#copiedOut = 0;
    if (isShort) {
      this.#grow(Math.min(this.#maxSize, size * 2));
      return this.#reserve(room);
    }
    const lapEnd = this.#head + size - at;
    this.#dropUntil(lapEnd + room - size);
    this.#words![at / 4] = PAD;
    this.#words![at / 4 + 1] = size - at;
    this.#head = lapEnd;
    return 0;
  }

  #allocate(size: number): Buffer {
    const bytes = Buffer.allocUnsafeSlow(size);
    this.#bytes = bytes;
    this.#words = new Uint32Array(bytes.buffer, bytes.byteOffset, size / 4);
    this.#doubles = new Float64Array(bytes.buffer, bytes.byteOffset, size / 8);
    this.#size = size;
    return bytes;
  }

  /**
   * Moves the log to a buffer of `size` bytes. Positions are absolute, so every chunk (and every
   * link to it) stays where it was: only where a position lands in the buffer changes.
   */
  #grow(size: number): void {
    const old = this.#bytes!;
    const oldSize = this.#size;
    const bytes = this.#allocate(size);
    for (let position = this.#tail; position < this.#head;) {
      const from = position % oldSize;
      const to = position % size;
      const run = Math.min(this.#head - position, oldSize - from, size - to);
      old.copy(bytes, to, from, from + run);
      position += run;
    }
  }

  /** Drops the chunks that start before absolute position `end` (chunks the head is about to write over). */
  #dropUntil(end: number): void {
    const size = this.#size;
    while (this.#tail < end && this.#tail < this.#head) {
      const at = this.#tail % size;
      const length = this.#words![at / 4 + 1]!;
      if (this.#words![at / 4] === PAD) {
        this.#tail += length;
        continue;
      }
      const chain = this.#chains[this.#words![at / 4]!];
      // Only a chain's own oldest chunk: the slot may have passed to a later session since.
      if (chain !== undefined && chain.oldest === this.#tail) this.#passed(chain, at, length);
      this.#tail += align(HEADER + length);
    }
  }

  /** The log is about to write over `chain`'s oldest chunk, at `at`: keep what the chain still needs. */
  #passed(chain: ReplayChain, at: number, length: number): void {
    const next = this.#doubles![at / 8 + 1]!;
    chain.retained -= length;
    chain.oldest = next;
    if (next === NONE) chain.newest = NONE;
    if (chain.retained > REPLAY_KEPT) {
      // Enough newer output is in the log: this and anything older goes.
      chain.overflow = undefined;
      chain.overflowLength = 0;
      chain.isCut = true;
      return;
    }
    this.#copiedOut += length;
    const payload = this.#bytes!.subarray(at + HEADER, at + HEADER + length);
    const needed = chain.overflowLength + length;
    let overflow = chain.overflow;
    if (overflow === undefined || overflow.length < needed) {
      const grown = Buffer.allocUnsafeSlow(Math.max(needed, Math.min(REPLAY_CAP, 2 * (overflow?.length ?? 128))));
      overflow?.copy(grown, 0, 0, chain.overflowLength);
      chain.overflow = overflow = grown;
    }
    chain.overflowLength += payload.copy(overflow, chain.overflowLength);
    if (chain.overflowLength + chain.retained > REPLAY_CAP)
      this.#cutOverflow(chain, chain.overflowLength + chain.retained - REPLAY_KEPT);
  }

  /** Drops the overflow's first `drop` bytes and the rest of the line they end in (or all of it). */
  #cutOverflow(chain: ReplayChain, drop: number): void {
    const overflow = chain.overflow!;
    const newline =
      drop > chain.overflowLength ? -1 : overflow.subarray(0, chain.overflowLength).indexOf(NEWLINE, drop - 1);
    if (newline === -1) {
      chain.overflow = undefined;
      chain.overflowLength = 0;
      chain.isCut = true;
      return;
    }
    overflow.copyWithin(0, newline + 1, chain.overflowLength);
    chain.overflowLength -= newline + 1;
    chain.isCut = false;
  }

  #lengthOf(position: number): number {
    return this.#words![(position % this.#size) / 4 + 1]!;
  }

  #nextOf(position: number): number {
    return this.#doubles![(position % this.#size) / 8 + 1]!;
  }
}

/** `bytes` rounded up to ALIGN (a chunk's size: far below 2^31). */
function align(bytes: number): number {
  return (bytes + ALIGN - 1) & -ALIGN;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Where the first line after `from` in `bytes[..end]` starts; `end` where no newline follows. */
function afterNewline(bytes: Buffer, from: number, end: number): number {
  const newline = bytes.subarray(0, end).indexOf(NEWLINE, Math.max(0, from));
  return newline === -1 ? end : newline + 1;
}
