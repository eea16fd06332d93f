// The output kept for late viewers of every session of a process, in one log written in order.
import { ChunkRing } from '../chunk-ring.js';

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
/** Nothing there: no next chunk, or no chunk of a chain in the log. */
const NONE = -1;
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
  /** Allocated on the first write: a process whose sessions never write holds none of it. */
  readonly #ring: ChunkRing;
  #chains: Array<ReplayChain | undefined> = [];
  #freeSlots: number[] = [];

  /** `size` and `maxSize`: bytes, multiples of 16, at least 64 KiB; the log grows from one to the other. */
  constructor(size = LOG_SIZE, maxSize = Math.max(size, MAX_LOG_SIZE)) {
    const pass = (at: number, position: number): number => this.#pass(at, position);
    this.#ring = new ChunkRing({
      name: 'replay log',
      size,
      maxSize,
      minSize: 64 * 1024,
      header: HEADER,
      align: ALIGN,
      pass,
    });
  }

  /** Bytes the log takes (once its first output came): its size now. */
  get size(): number {
    return this.#ring.size;
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
    const bytes = this.#ring.bytes;
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
      const at = this.#ring.offsetOf(chunks[i]!);
      length += bytes.copy(gathered, length, at + HEADER, at + HEADER + this.#lengthOf(chunks[i]!));
    }
    let start = 0;
    if (chain.isCut || !isOverflowRead) start = afterNewline(gathered, 0, length);
    if (length - start > REPLAY_CAP) start = afterNewline(gathered, length - REPLAY_KEPT - 1, length);
    return gathered.toString('utf8', start, length);
  }

  #appendPiece(chain: ReplayChain, text: string): void {
    // Room for the worst case, three bytes a UTF-16 unit; the chunk then takes what it needs.
    const at = this.#ring.reserve(HEADER + text.length * 3);
    const length = this.#ring.bytes.write(text, at + HEADER);
    const words = this.#ring.words;
    words[at / 4] = chain.slot;
    words[at / 4 + 1] = length;
    const doubles = this.#ring.doubles;
    doubles[at / 8 + 1] = NONE;
    const position = this.#ring.commit(length);
    if (chain.newest === NONE) chain.oldest = position;
    else doubles[this.#ring.offsetOf(chain.newest) / 8 + 1] = position;
    chain.newest = position;
    chain.retained += length;
  }

  /**
   * The log is about to write over the chunk at `at`: only a chain's own oldest chunk is the
   * chain's (the slot may have passed to a later session since). Returns the bytes copied out.
   */
  #pass(at: number, position: number): number {
    const chain = this.#chains[this.#ring.words[at / 4]!];
    return chain !== undefined && chain.oldest === position
      ? this.#passed(chain, at, this.#ring.words[at / 4 + 1]!)
      : 0;
  }

  /** The log is about to write over `chain`'s oldest chunk, at `at`: keeps what the chain still needs; returns the bytes copied out. */
  #passed(chain: ReplayChain, at: number, length: number): number {
    const next = this.#ring.doubles[at / 8 + 1]!;
    chain.retained -= length;
    chain.oldest = next;
    if (next === NONE) chain.newest = NONE;
    if (chain.retained > REPLAY_KEPT) {
      // Enough newer output is in the log: this and anything older goes.
      chain.overflow = undefined;
      chain.overflowLength = 0;
      chain.isCut = true;
      return 0;
    }
    const payload = this.#ring.bytes.subarray(at + HEADER, at + HEADER + length);
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
    return length;
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
    return this.#ring.words[this.#ring.offsetOf(position) / 4 + 1]!;
  }

  #nextOf(position: number): number {
    return this.#ring.doubles[this.#ring.offsetOf(position) / 8 + 1]!;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Where the first line after `from` in `bytes[..end]` starts; `end` where no newline follows. */
function afterNewline(bytes: Buffer, from: number, end: number): number {
  const newline = bytes.subarray(0, end).indexOf(NEWLINE, Math.max(0, from));
  return newline === -1 ? end : newline + 1;
}
