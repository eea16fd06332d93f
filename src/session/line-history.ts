// The lines a user can recall with Up and Down, kept as UTF-8 outside the JavaScript heap.

/** Ends each line in the store: a byte UTF-8 never uses, so any text a line holds is kept whole. */
const SEPARATOR = 0xff;

/** The store's first size; it doubles as lines come, and is compacted as old ones go. */
const FIRST_CAPACITY = 256;
/** Up to this many characters a JavaScript loop writes ASCII faster than a native call. */
const SHORT_LINE = 64;

/**
 * The newest `size` lines, numbered from the first ever added: a line keeps its number while
 * newer ones come, so a user browsing stays on it. Kept as strings, every line typed outlived the
 * young generation and was copied twice by the garbage collector: on a busy server that cost more
 * than the editing itself. The store holds up to twice `size` lines and drops the older half at
 * once: finding where the oldest line ends, a line at a time, cost a tenth of a pipelined telnet
 * line.
 */
export class LineHistory {
  readonly #size: number;
  #bytes: Buffer | undefined;
  /** Where the oldest line stored starts, and where the store's used part ends. */
  #start = 0;
  #end = 0;
  /** The number of the oldest line stored (older than `first` once more than `size` are), and how many are. */
  #storedFirst = 0;
  #stored = 0;
  /** Where line number `#storedFirst + size` starts, once stored: the store's start when the older half goes. */
  #halfway = 0;
  /** The newest line, to pass over a repeat without reading the store. */
  #newest: string | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  /** The number of the oldest line kept. */
  get first(): number {
    return Math.max(this.#storedFirst, this.end - this.#size);
  }

  /** The number the next line will get: one past the newest. */
  get end(): number {
    return this.#storedFirst + this.#stored;
  }

  /** Adds `line` unless it repeats the newest, dropping the oldest beyond `size`. */
  add(line: string): void {
    if (line === this.#newest || this.#size === 0) return;
    this.#newest = line;
    const bytes = this.#room(line.length * 3 + 1);
    if (this.#stored === this.#size) this.#halfway = this.#end;
    this.#end = writeUtf8(bytes, line, this.#end);
    bytes[this.#end++] = SEPARATOR;
    if (++this.#stored < 2 * this.#size) return;
    this.#start = this.#halfway;
    this.#storedFirst += this.#size;
    this.#stored -= this.#size;
  }

  /** Line number `index`, or undefined where it is not kept. */
  at(index: number): string | undefined {
    const bytes = this.#bytes;
    if (bytes === undefined || index < this.first || index >= this.end) return undefined;
    let from = this.#start;
    for (let skip = index - this.#storedFirst; skip > 0; skip--) from = bytes.indexOf(SEPARATOR, from) + 1;
    return bytes.toString('utf8', from, bytes.indexOf(SEPARATOR, from));
  }

  /** The store, with at least `size` bytes free after its used part: compacted, or grown. */
  #room(size: number): Buffer {
    const bytes = this.#bytes;
    const used = this.#end - this.#start;
    if (bytes !== undefined && bytes.length - this.#end >= size) return bytes;
    if (bytes !== undefined && bytes.length - used >= size && this.#start * 2 >= used) {
      // The lines dropped take at least half as much as those kept: each byte added moves at most two.
      bytes.copyWithin(0, this.#start, this.#end);
    } else {
      let capacity = bytes?.length ?? FIRST_CAPACITY;
      while (capacity - used < size) capacity *= 2;
      const grown = Buffer.allocUnsafeSlow(capacity);
      bytes?.copy(grown, 0, this.#start, this.#end);
      this.#bytes = grown;
    }
    // Moved to the front with the rest (a halfway not yet stored is set before it is read).
    this.#halfway -= this.#start;
    this.#start = 0;
    this.#end = used;
    return this.#bytes!;
  }
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
