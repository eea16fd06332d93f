// The lines a user can recall with Up and Down: every session's in one ring of UTF-8 bytes
// outside the JavaScript heap, written at its head.

/**
 * An entry's header: its owner's slot, the length of its lines in bytes, how many lines it holds,
 * where the last starts, and where the owner's previous entry is.
 */
const HEADER = 24;
/** Ends each line but the last of an entry: a byte UTF-8 never uses, so any text a line holds is kept whole. */
const SEPARATOR = 0xff;
const SEPARATOR_CHAR = '\xff';
/** Entries start on multiples of this: the space left at the end of a lap always holds a header's first half. */
const ALIGN = 8;
/** A header whose slot is this marks the rest of a lap as unused; its length is how many bytes that is. */
const PAD = 0xffff_ffff;
/** No entry: an owner with none in the ring, or the first of an owner's entries. */
const NONE = -1;
/** Up to this many characters a JavaScript loop writes ASCII faster than a native call. */
const SHORT_LINE = 64;

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
 * links back to its owner's one before, so that nothing older is written again.
 *
 * When the ring comes round to an entry its owner still keeps (one of its newest `size` lines: a
 * quiet user among busy ones), the owner copies the line out to a list of its own; lines older than
 * that are dropped. Where a lap copies out more than a quarter of the ring, the ring is too small
 * for its users: it doubles, up to its maximum.
 */
export class HistoryRing {
  #size: number;
  readonly #maxSize: number;
  /** Allocated on the first line: a process whose users never type one holds none of it. */
  #bytes: Buffer | undefined;
  #words: Uint32Array | undefined;
  #doubles: Float64Array | undefined;
  /** Absolute positions (growing for ever): of the next entry, and of the oldest not yet passed. */
  #head = 0;
  #tail = 0;
  /** Bytes owners copied out in this lap. */
  #copiedOut = 0;
  #owners: Array<LineHistory | undefined> = [];
  #freeSlots: number[] = [];

  /** `size` and `maxSize`: bytes, multiples of 8, at least 4 KiB; the ring grows from one to the other. */
  constructor(size = HISTORY_RING_SIZE, maxSize = Math.max(size, MAX_HISTORY_RING_SIZE)) {
    if (size % ALIGN !== 0 || size < 4096 || maxSize < size)
      throw new RangeError(
        `a history ring's size must be a multiple of 8, at least 4 KiB and at most its maximum, not ${size} (maximum ${maxSize})`,
      );
    this.#size = size;
    this.#maxSize = maxSize;
  }

  /** Bytes the ring takes (once its first line came): its size now. */
  get size(): number {
    return this.#size;
  }

  /** Where the next entry will be: an owner opened now has every entry from here on. */
  get head(): number {
    return this.#head;
  }

  /** A slot for `owner`'s entries. */
  open(owner: LineHistory): number {
    const slot = this.#freeSlots.pop() ?? this.#owners.length;
    this.#owners[slot] = owner;
    return slot;
  }

  /** Frees `slot`: its entries are left to be written over. */
  close(slot: number, owner: LineHistory): void {
    if (this.#owners[slot] !== owner) return;
    this.#owners[slot] = undefined;
    this.#freeSlots.push(slot);
  }

  /** Writes `line` for `slot`, its owner's newest entry before it at `previous`; returns where it is. */
  write(slot: number, previous: number, line: string): number {
    const at = this.#reserve(align(HEADER + line.length * 3));
    const end = writeUtf8(this.#bytes!, line, at + HEADER);
    return this.#seal(at, slot, end - at - HEADER, 1, 0, previous);
  }

  /**
   * Writes `lines`, printable ASCII, for `slot` as one entry, in one native write; returns where
   * it is. Each line written by itself, cut from the text of a read of many, was copied a
   * character at a time through the cut (a fifth of a pipelined telnet line).
   */
  writeAscii(slot: number, previous: number, lines: readonly string[]): number {
    const text = lines.join(SEPARATOR_CHAR);
    const at = this.#reserve(align(HEADER + text.length));
    this.#bytes!.write(text, at + HEADER, text.length, 'latin1');
    return this.#seal(at, slot, text.length, lines.length, text.length - lines[lines.length - 1]!.length, previous);
  }

  /** How many lines the entry at `position` holds. */
  countAt(position: number): number {
    return this.#words![(position % this.#size) / 4 + 2]!;
  }

  /** The entry at `position`'s lines from the `from`th on (where an owner's entry still is). */
  linesAt(position: number, from = 0): string[] {
    const at = position % this.#size;
    const bytes = this.#bytes!;
    const end = at + HEADER + this.#words![at / 4 + 1]!;
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

  /** Where the entry before the one at `position`, of the same owner, is (it may be passed since). */
  previousOf(position: number): number {
    return this.#doubles![(position % this.#size) / 8 + 2]!;
  }

  /** Whether the last line of the entry at `position` is `line`, read from the ring. */
  endsWith(position: number, line: string): boolean {
    const bytes = this.#bytes!;
    const at = position % this.#size;
    const start = at + HEADER + this.#words![at / 4 + 3]!;
    const length = at + HEADER + this.#words![at / 4 + 1]! - start;
    // UTF-8 takes a byte for each UTF-16 unit of ASCII, more for anything else.
    if (line.length > length) return false;
    if (line.length < length) return !isAscii(line) && bytes.toString('utf8', start, start + length) === line;
    for (let i = 0; i < length; i++) {
      const code = line.charCodeAt(i);
      if (code >= 0x80 || code !== bytes[start + i]) return false;
    }
    return true;
  }

  /** Fills in the header of the entry at `at`; returns its position, the head moved past it. */
  #seal(at: number, slot: number, length: number, count: number, lastStart: number, previous: number): number {
    const words = this.#words!;
    words[at / 4] = slot;
    words[at / 4 + 1] = length;
    words[at / 4 + 2] = count;
    words[at / 4 + 3] = lastStart;
    this.#doubles![at / 8 + 2] = previous;
    const position = this.#head;
    this.#head += align(HEADER + length);
    return position;
  }

  /** Makes `room` bytes free at the head, in one piece; returns their offset in the buffer. */
  #reserve(room: number): number {
    if (this.#bytes === undefined) this.#allocate(this.#size);
    // A line too long for a quarter of the ring grows it (a line of the longest a server takes,
    // 1,000,000 characters, is at most 3 MB of UTF-8: a quarter of the default maximum).
    while (room * 4 > this.#size && this.#size < this.#maxSize) this.#grow(Math.min(this.#maxSize, this.#size * 2));
    if (room > this.#size)
      throw new RangeError(`a history line of ${room} bytes does not fit a ring of at most ${this.#maxSize}`);
    const size = this.#size;
    const at = this.#head % size;
    if (at + room <= size) {
      this.#passUntil(this.#head + room - size);
      return at;
    }
    // The entries would pass the end of the lap: the ring grows first if it is short for its
    // users, or the rest of the lap is left unused, marked once what was there is passed.
    const isShort = this.#copiedOut > size / 4 && size < this.#maxSize;
    this.#copiedOut = 0;
    if (isShort) {
      this.#grow(Math.min(this.#maxSize, size * 2));
      return this.#reserve(room);
    }
    const lapEnd = this.#head + size - at;
    this.#passUntil(lapEnd + room - size);
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
   * Moves the ring to a buffer of `size` bytes. Positions are absolute, so every entry (and every
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

  /** Passes the entries that start before absolute position `end` (those the head is about to write over). */
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
      const owner = this.#owners[words[at / 4]!];
      // Only an owner's own entries: a slot passes to a later owner once freed.
      if (owner !== undefined && this.#tail >= owner.opened && owner.passed(this.#tail)) this.#copiedOut += length;
      this.#tail += align(HEADER + length);
    }
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
  #opened = 0;
  /** How many lines were ever stored: the number the next one will get. */
  #stored = 0;
  /** Where the newest line is in the ring, and how many of the newest lines are there. */
  #newest = NONE;
  #inRing = 0;
  /** Lines older than those in the ring and still kept, oldest first; usually none. */
  #copied: string[] | undefined;
  /**
   * Lines given to addTyped and not written yet, oldest first; none between reads. A list only
   * while there are (a history whose lines come a read each never looks at one, which at 500
   * busy clients would be one more read from memory a line).
   */
  #typed: string[] | undefined;

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

  /** For the ring: where the ring's head was when this history took its slot (its entries are at or after it). */
  get opened(): number {
    return this.#opened;
  }

  /** Adds `line` unless it repeats the newest, dropping the oldest beyond `size`. */
  add(line: string): void {
    this.storeTyped();
    if (this.#size === 0 || this.#isNewest(line)) return;
    this.#newest = this.#ring.write(this.#openSlot(), this.#newest, line);
    this.#inRing++;
    this.#stored++;
  }

  /**
   * Adds `line`, printable ASCII, as add() would, but writes it to the ring at storeTyped(), with
   * the other lines typed in the same read: one write for them all.
   */
  addTyped(line: string): void {
    const typed = this.#typed;
    if (this.#size === 0 || (typed !== undefined ? line === typed[typed.length - 1] : this.#isNewest(line))) return;
    if (typed === undefined) this.#typed = [line];
    else typed.push(line);
  }

  /** Writes the lines given to addTyped since the last call. */
  storeTyped(): void {
    const typed = this.#typed;
    if (typed === undefined) return;
    this.#typed = undefined;
    const slot = this.#openSlot();
    this.#newest =
      typed.length === 1
        ? this.#ring.write(slot, this.#newest, typed[0]!)
        : this.#ring.writeAscii(slot, this.#newest, typed);
    this.#inRing += typed.length;
    this.#stored += typed.length;
  }

  /** Line number `index`, or undefined where it is not kept. */
  at(index: number): string | undefined {
    this.storeTyped();
    if (index < this.first || index >= this.#stored) return undefined;
    const ringFirst = this.#stored - this.#inRing;
    if (index < ringFirst) return this.#copied![this.#copied!.length - (ringFirst - index)];
    // Back from the newest entry to the one holding the line: `entryFirst` is its first line's number.
    let position = this.#newest;
    let entryFirst = this.#stored - this.#ring.countAt(position);
    while (entryFirst > index) {
      position = this.#ring.previousOf(position);
      entryFirst -= this.#ring.countAt(position);
    }
    return this.#ring.linesAt(position, index - entryFirst)[0];
  }

  /** Gives the slot back to the ring and forgets every line, as a new history: the user is gone. */
  close(): void {
    this.#typed = undefined;
    this.#copied = undefined;
    this.#stored = 0;
    this.#newest = NONE;
    this.#inRing = 0;
    if (this.#slot === NONE) return;
    this.#ring.close(this.#slot, this);
    this.#slot = NONE;
  }

  /**
   * For the ring: it is about to write over this history's oldest entry in it, at `position`.
   * Copies out the entry's lines that are still kept; returns whether there were any.
   */
  passed(position: number): boolean {
    const number = this.#stored - this.#inRing;
    const count = this.#ring.countAt(position);
    this.#inRing -= count;
    if (this.#inRing === 0) this.#newest = NONE;
    const first = this.first;
    if (number + count <= first) return false;
    const copied = (this.#copied ??= []);
    copied.push(...this.#ring.linesAt(position, Math.max(0, first - number)));
    // The copied lines run up to the ring's: any before `first` are no longer kept.
    const kept = number + count - first;
    if (copied.length > kept) copied.splice(0, copied.length - kept);
    return true;
  }

  #openSlot(): number {
    if (this.#slot === NONE) {
      this.#opened = this.#ring.head;
      this.#slot = this.#ring.open(this);
    }
    return this.#slot;
  }

  /** Whether `line` repeats the newest line stored. */
  #isNewest(line: string): boolean {
    if (this.#inRing > 0) return this.#ring.endsWith(this.#newest, line);
    return this.#copied !== undefined && this.#copied[this.#copied.length - 1] === line;
  }
}

/** `bytes` rounded up to ALIGN (an entry's size: far below 2^31). */
function align(bytes: number): number {
  return (bytes + ALIGN - 1) & -ALIGN;
}

/**
 * Writes `text` as UTF-8 into `bytes` at `at`; returns where it ends. A short ASCII line, what
 * is usually typed, is copied a character at a time: Buffer.write's native call costs more.
 */
function writeUtf8(bytes: Buffer, text: string, at: number): number {
  if (text.length > SHORT_LINE) return at + bytes.write(text, at);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return at + bytes.write(text, at);
    bytes[at + i] = code;
  }
  return at + text.length;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}
