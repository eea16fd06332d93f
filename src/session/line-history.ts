// The lines a user can recall with Up and Down, kept as UTF-8 outside the JavaScript heap.

/** Ends each line in the store: a byte UTF-8 never uses, so any text a line holds is kept whole. */
const SEPARATOR = 0xff;
const SEPARATOR_CHAR = '\xff';

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
  /** Where the newest line stored starts. */
  #newestStart = 0;
  /**
   * Lines given to addTyped and not written yet, oldest first; none between reads. A list only
   * while there are (a history whose lines come a read each never looks at one, which at 500
   * busy clients would be one more read from memory a line).
   */
  #typed: string[] | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  /** The number of the oldest line kept. */
  get first(): number {
    return Math.max(this.#storedFirst, this.end - this.#size);
  }

  /** The number the next line will get: one past the newest. */
  get end(): number {
    return this.#storedFirst + this.#stored + (this.#typed?.length ?? 0);
  }

  /** Adds `line` unless it repeats the newest, dropping the oldest beyond `size`. */
  add(line: string): void {
    this.storeTyped();
    if (this.#size === 0 || this.#isNewest(line)) return;
    this.#write(line);
  }

  /**
   * Adds `line`, printable ASCII, as add() would, but writes it to the store at storeTyped(), with
   * the other lines typed in the same read: one write for them all. Each line written by itself,
   * cut from the text of a read of many, was copied a character at a time through the cut (a fifth
   * of a pipelined telnet line).
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
    if (typed.length === 1) {
      this.#write(typed[0]!);
      return;
    }
    typed.push('');
    const text = typed.join(SEPARATOR_CHAR);
    const bytes = this.#room(text.length);
    let at = this.#end;
    this.#end += bytes.write(text, at, 'latin1');
    for (let i = 0; i < typed.length - 1; i++) {
      this.#count(at);
      at += typed[i]!.length + 1;
    }
  }

  /** Line number `index`, or undefined where it is not kept. */
  at(index: number): string | undefined {
    this.storeTyped();
    const bytes = this.#bytes;
    if (bytes === undefined || index < this.first || index >= this.end) return undefined;
    let from = this.#start;
    for (let skip = index - this.#storedFirst; skip > 0; skip--) from = bytes.indexOf(SEPARATOR, from) + 1;
    return bytes.toString('utf8', from, bytes.indexOf(SEPARATOR, from));
  }

  /** Writes `line` and its separator at the store's end. */
  #write(line: string): void {
    const bytes = this.#room(line.length * 3 + 1);
    const at = this.#end;
    this.#end = writeUtf8(bytes, line, at);
    bytes[this.#end++] = SEPARATOR;
    this.#count(at);
  }

  /**
   * Whether `line` repeats the newest line stored, read from the store: the newest line kept as a
   * string, cut from the text of a whole read, kept all that read's text alive with it.
   */
  #isNewest(line: string): boolean {
    if (this.#stored === 0) return false;
    const bytes = this.#bytes!;
    const start = this.#newestStart;
    const length = this.#end - 1 - start;
    // UTF-8 takes a byte for each UTF-16 unit of ASCII, more for anything else.
    if (line.length > length) return false;
    if (line.length < length) return !isAscii(line) && bytes.toString('utf8', start, start + length) === line;
    for (let i = 0; i < length; i++) {
      const code = line.charCodeAt(i);
      if (code >= 0x80 || code !== bytes[start + i]) return false;
    }
    return true;
  }

  /** Counts the line written at `at`; once twice `size` are stored, the older half goes. */
  #count(at: number): void {
    this.#newestStart = at;
    if (this.#stored === this.#size) this.#halfway = at;
    if (++this.#stored < 2 * this.#size) return;
    this.#start = this.#halfway;
    this.#storedFirst += this.#size;
    this.#stored -= this.#size;
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
    this.#newestStart -= this.#start;
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

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}
