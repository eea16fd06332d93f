// The lines a user can recall with Up and Down: every session's in one ring of UTF-8 bytes
// outside the JavaScript heap, written at its head.
import { ChunkRing } from '../chunk-ring.js';

/**
 * An entry's header: its owner's slot, the length of its lines in bytes, how many lines it holds,
 * where the last starts; where the owner's previous entry is, and its first line's number.
 */
const HEADER = 32;
/** Ends each line but the last of an entry: a byte UTF-8 never uses, so any text a line holds is kept whole. */
const SEPARATOR = 0xff;
const SEPARATOR_CHAR = '\xff';
/** Entries start on multiples of this: a header holds doubles. */
const ALIGN = 8;
/** No entry: an owner with none in the ring, or the first of an owner's entries. */
const NONE = -1;

/**
 * What the ring keeps of each slot, side by side in one array: how many lines its owner stored,
 * where the head was when it took the slot, how many lines it keeps, and its newest line's print.
 */
const SLOT_FIELDS = 4;
const STORED = 0;
const OPENED = 1;
const KEEPS = 2;
const NEWEST_PRINT = 3;
/** A print no line has: a slot with no line yet. */
const NO_PRINT = -1;

/** The ring's first size: the last few seconds of lines of a few hundred busy users. */
export const HISTORY_RING_SIZE = 256 * 1024;
/** What the ring grows to at most, where its users keep more lines than it holds (or type very long ones). */
export const MAX_HISTORY_RING_SIZE = 16 * 1024 * 1024;

/**
 * Every session's history lines in one buffer, written front to back and wrapping around. A
 * session's history kept in a buffer of its own put each line on a page of its own: at 500 busy
 * telnet users, storing a line read the history's object, its buffer's and the end of its store
 * from memory, the most of any function of ours. Here a line lands after the last one written, by
 * any session, in memory the processor has at hand; each entry (a line, or the lines of one read)
 * links back to its owner's one before, so that nothing older is written again. What the ring
 * needs of each owner, to tell a line that repeats the newest and an entry that is still kept, it
 * keeps in one small array by slot: neither needs the owner's object or its older lines.
 *
 * When the ring comes round to an entry its owner still keeps (one of its newest lines: a quiet
 * user among busy ones), the owner copies the lines out to a list of its own; older ones are
 * dropped. Where a lap copies out more than a quarter of the ring, the ring is too small for its
 * users: it doubles, up to its maximum.
 */
export class HistoryRing {
  readonly #ring: ChunkRing;
  #owners: Array<LineHistory | undefined> = [];
  #slots = new Float64Array(SLOT_FIELDS * 64);
  #freeSlots: number[] = [];
  /** The entry stage() wrote and commit() has not: where in the buffer, and its length in bytes. */
  #stagedAt = 0;
  #stagedLength = 0;

  /** `size` and `maxSize`: bytes, multiples of 8, at least 4 KiB; the ring grows from one to the other. */
  constructor(size = HISTORY_RING_SIZE, maxSize = Math.max(size, MAX_HISTORY_RING_SIZE)) {
    const pass = (at: number, position: number): number => this.#pass(at, position);
    this.#ring = new ChunkRing({
      name: 'history ring',
      size,
      maxSize,
      minSize: 4096,
      header: HEADER,
      align: ALIGN,
      pass,
    });
  }

  /** Bytes the ring takes (once its first line came): its size now. */
  get size(): number {
    return this.#ring.size;
  }

  /** A slot for the entries of `owner`, which keeps its newest `keeps` lines; every entry from now on may be its. */
  open(owner: LineHistory, keeps: number): number {
    const slot = this.#freeSlots.pop() ?? this.#owners.length;
    this.#owners[slot] = owner;
    if (this.#slots.length < (slot + 1) * SLOT_FIELDS) {
      const slots = new Float64Array(this.#slots.length * 2);
      slots.set(this.#slots);
      this.#slots = slots;
    }
    const at = slot * SLOT_FIELDS;
    this.#slots[at + STORED] = 0;
    this.#slots[at + OPENED] = this.#ring.head;
    this.#slots[at + KEEPS] = keeps;
    this.#slots[at + NEWEST_PRINT] = NO_PRINT;
    return slot;
  }

  /** Frees `slot`: its entries are left to be written over. */
  close(slot: number, owner: LineHistory): void {
    if (this.#owners[slot] !== owner) return;
    this.#owners[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  /** The print (see #printOf) of the newest line written for `slot`. */
  newestPrint(slot: number): number {
    return this.#slots[slot * SLOT_FIELDS + NEWEST_PRINT]!;
  }

  /**
   * Writes `line` at the head, as an entry not yet committed (the next write replaces it);
   * returns its print. Written first, the line is compared by its bytes, in memory at hand: a
   * hash of the string costs a loop over its characters, and reading the newest line back to
   * compare with costs a read from memory at 500 busy users.
   */
  stage(line: string): number {
    const at = this.#reserve(HEADER + line.length * 3);
    this.#stagedAt = at;
    this.#stagedLength = this.#ring.bytes.write(line, at + HEADER);
    return this.#printOf(at + HEADER, this.#stagedLength);
  }

  /** Whether the staged line is the last line of the entry at `position` (still in the ring). */
  stagedRepeats(position: number): boolean {
    const at = this.#ring.offsetOf(position);
    const words = this.#ring.words;
    const start = at + HEADER + words[at / 4 + 3]!;
    const end = at + HEADER + words[at / 4 + 1]!;
    const staged = this.#stagedAt + HEADER;
    const bytes = this.#ring.bytes;
    return (
      end - start === this.#stagedLength && bytes.compare(bytes, start, end, staged, staged + this.#stagedLength) === 0
    );
  }

  /**
   * Makes the staged line line number `number` of `slot`'s owner, whose newest entry before it is
   * at `previous`; `print` is what stage() returned. Returns where the entry is.
   */
  commit(slot: number, previous: number, number: number, print: number): number {
    return this.#seal(this.#stagedAt, slot, this.#stagedLength, 1, 0, previous, number, print);
  }

  /**
   * Writes `lines`, printable ASCII, as one entry, in one native write, for `slot` as commit()
   * would. Each line written by itself, cut from the text of a read of many, was copied a
   * character at a time through the cut (a fifth of a pipelined telnet line).
   */
  writeAscii(slot: number, previous: number, number: number, lines: readonly string[]): number {
    const text = lines.join(SEPARATOR_CHAR);
    const lastStart = text.length - lines[lines.length - 1]!.length;
    const at = this.#reserve(HEADER + text.length);
    this.#ring.bytes.write(text, at + HEADER, text.length, 'latin1');
    const print = this.#printOf(at + HEADER + lastStart, text.length - lastStart);
    return this.#seal(at, slot, text.length, lines.length, lastStart, previous, number, print);
  }

  /** Whether the entry at `position` is still in the ring. */
  has(position: number): boolean {
    return this.#ring.has(position);
  }

  /** How many lines the entry at `position` holds. */
  countAt(position: number): number {
    return this.#ring.words[this.#ring.offsetOf(position) / 4 + 2]!;
  }

  /** The number of the first line of the entry at `position`. */
  firstNumberAt(position: number): number {
    return this.#ring.doubles[this.#ring.offsetOf(position) / 8 + 3]!;
  }

  /** Where the entry before the one at `position`, of the same owner, is (it may be passed since). */
  previousOf(position: number): number {
    return this.#ring.doubles[this.#ring.offsetOf(position) / 8 + 2]!;
  }

  /** The entry at `position`'s lines from the `from`th on. */
  linesAt(position: number, from = 0): string[] {
    const at = this.#ring.offsetOf(position);
    const bytes = this.#ring.bytes;
    const end = at + HEADER + this.#ring.words[at / 4 + 1]!;
    let start = at + HEADER;
    for (let skip = from; skip > 0; skip--) start = bytes.indexOf(SEPARATOR, start) + 1;
    const lines: string[] = [];
    for (;;) {
      // Searched within the entry: the ring goes on with other entries' bytes after it.
      const separator = bytes.subarray(start, end).indexOf(SEPARATOR);
      const lineEnd = separator === -1 ? end : start + separator;
      lines.push(bytes.toString('utf8', start, lineEnd));
      if (lineEnd === end) return lines;
      start = lineEnd + 1;
    }
  }

  /** FNV-1a over `length` bytes from `start`: a line's print, whatever entry it is in. */
  #printOf(start: number, length: number): number {
    const bytes = this.#ring.bytes;
    let print = 0x811c9dc5;
    for (let i = start; i < start + length; i++) print = Math.imul(print ^ bytes[i]!, 0x01000193);
    return print >>> 0;
  }

  /** Fills in the header of the entry at `at` and its slot's record; returns its position, the head moved past it. */
  #seal(
    at: number,
    slot: number,
    length: number,
    count: number,
    lastStart: number,
    previous: number,
    number: number,
    print: number,
  ): number {
    const words = this.#ring.words;
    words[at / 4] = slot;
    words[at / 4 + 1] = length;
    words[at / 4 + 2] = count;
    words[at / 4 + 3] = lastStart;
    const doubles = this.#ring.doubles;
    doubles[at / 8 + 2] = previous;
    doubles[at / 8 + 3] = number;
    this.#slots[slot * SLOT_FIELDS + STORED] = number + count;
    this.#slots[slot * SLOT_FIELDS + NEWEST_PRINT] = print;
    return this.#ring.commit(length);
  }

  /** Room for an entry of `size` bytes at the head; returns its offset in the buffer. */
  #reserve(size: number): number {
    const ring = this.#ring;
    // A line too long for a quarter of the ring grows it (a line of the longest a server takes,
    // 1,000,000 characters, is at most 3 MB of UTF-8: a quarter of the default maximum).
    while (size * 4 > ring.size && ring.size < ring.maxSize) ring.grow(Math.min(ring.maxSize, ring.size * 2));
    if (size > ring.size)
      throw new RangeError(`a history line of ${size} bytes does not fit a ring of at most ${ring.maxSize}`);
    return ring.reserve(size);
  }

  /**
   * The ring is about to write over the entry at `at`: an entry with a line its owner still keeps
   * goes to the owner first. Only an owner's own entries (a slot passes to a later owner once
   * freed), and only one whose last line is among the owner's kept ones; neither needs the owner.
   */
  #pass(at: number, position: number): number {
    const words = this.#ring.words;
    const slot = words[at / 4]!;
    const record = slot * SLOT_FIELDS;
    const slots = this.#slots;
    const owner = this.#owners[slot];
    const isKept =
      owner !== undefined &&
      position >= slots[record + OPENED]! &&
      this.#ring.doubles[at / 8 + 3]! + words[at / 4 + 2]! > slots[record + STORED]! - slots[record + KEEPS]!;
    return isKept && owner.passed(position) ? words[at / 4 + 1]! : 0;
  }
}

/** The ring of the histories made without one: one a thread. */
let sharedRing: HistoryRing | undefined;

/**
 * The newest `size` lines of one user, numbered from the first ever added: a line keeps its number
 * while newer ones come, so a user browsing stays on it. Kept in a HistoryRing: the lines the ring
 * still has, and older ones it came round to, copied out.
 */
export class LineHistory {
  readonly #size: number;
  readonly #ring: HistoryRing;
  /** This history's slot in the ring, once it wrote a line; NONE before, and once closed. */
  #slot = NONE;
  /** How many lines were ever stored: the number the next one will get. */
  #stored = 0;
  /** Where the newest entry is in the ring (it may be passed since). */
  #newest = NONE;
  /** Lines the ring came round to and this history still keeps, oldest first, and the number after the last. */
  #copied: string[] | undefined;
  #copiedEnd = 0;
  /**
   * Lines given to addTyped and not written yet, oldest first; none between reads. A list only
   * while there are (a history whose lines come a read each never looks at one, which at 500
   * busy clients would be one more read from memory a line).
   */
  #typed: string[] | undefined;
  /** The last line given to addTyped in this read, written or not; undefined before its first. */
  #readNewest: string | undefined;

  constructor(size: number, ring: HistoryRing = (sharedRing ??= new HistoryRing())) {
    this.#size = size;
    this.#ring = ring;
  }

  /** The number of the oldest line kept. */
  get first(): number {
    return Math.max(0, this.end - this.#size);
  }

  /** The number the next line will get: one past the newest. */
  get end(): number {
    return this.#stored + (this.#typed?.length ?? 0);
  }

  /** Adds `line` unless it repeats the newest, dropping the oldest beyond `size`. */
  add(line: string): void {
    this.storeTyped();
    if (this.#size > 0) this.#store(line);
  }

  /**
   * Adds `line`, printable ASCII, as add() would. The first line of a read is written at once;
   * the others at storeTyped(), in one write for them all.
   */
  addTyped(line: string): void {
    if (this.#size === 0) return;
    const previous = this.#readNewest;
    this.#readNewest = line;
    if (previous === undefined) this.#store(line);
    else if (line !== previous) (this.#typed ??= []).push(line);
  }

  /** Writes the lines given to addTyped since the last call; the next line typed starts a read. */
  storeTyped(): void {
    this.#readNewest = undefined;
    const typed = this.#typed;
    if (typed === undefined) return;
    this.#typed = undefined;
    this.#newest = this.#ring.writeAscii(this.#openSlot(), this.#newest, this.#stored, typed);
    this.#stored += typed.length;
  }

  /** Line number `index`, or undefined where it is not kept. */
  at(index: number): string | undefined {
    this.storeTyped();
    if (index < this.first || index >= this.#stored) return undefined;
    // Back from the newest entry to the one holding the line, while the ring still has them.
    for (let position = this.#newest; this.#ring.has(position); position = this.#ring.previousOf(position)) {
      const entryFirst = this.#ring.firstNumberAt(position);
      if (entryFirst <= index) return this.#ring.linesAt(position, index - entryFirst)[0];
    }
    const copied = this.#copied!;
    return copied[copied.length - (this.#copiedEnd - index)];
  }

  /** Gives the slot back to the ring and forgets every line, as a new history: the user is gone. */
  close(): void {
    this.#typed = undefined;
    this.#readNewest = undefined;
    this.#copied = undefined;
    this.#copiedEnd = 0;
    this.#stored = 0;
    this.#newest = NONE;
    if (this.#slot === NONE) return;
    this.#ring.close(this.#slot, this);
    this.#slot = NONE;
  }

  /**
   * For the ring: it is about to write over this history's entry at `position`, the oldest it
   * has, with lines this history keeps. Copies them out; returns whether there were any.
   */
  passed(position: number): boolean {
    const entryFirst = this.#ring.firstNumberAt(position);
    const count = this.#ring.countAt(position);
    const first = this.first;
    // Lines typed in this read and not written yet may have made more of the entry too old.
    if (entryFirst + count <= first) return false;
    const copied = (this.#copied ??= []);
    copied.push(...this.#ring.linesAt(position, Math.max(0, first - entryFirst)));
    this.#copiedEnd = entryFirst + count;
    // Lines copied before that are no longer kept go.
    const kept = this.#copiedEnd - first;
    if (copied.length > kept) copied.splice(0, copied.length - kept);
    return true;
  }

  #openSlot(): number {
    if (this.#slot === NONE) this.#slot = this.#ring.open(this, this.#size);
    return this.#slot;
  }

  /** Writes `line` unless it repeats the newest line stored. */
  #store(line: string): void {
    const slot = this.#openSlot();
    const ring = this.#ring;
    const print = ring.stage(line);
    // The newest line's print is at hand; the line itself, read back to compare, is cold memory.
    if (print === ring.newestPrint(slot)) {
      const isRepeat = ring.has(this.#newest)
        ? ring.stagedRepeats(this.#newest)
        : this.#copied?.[this.#copied.length - 1] === line;
      if (isRepeat) return;
    }
    this.#newest = ring.commit(slot, this.#newest, this.#stored, print);
    this.#stored++;
  }
}
