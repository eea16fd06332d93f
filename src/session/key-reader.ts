// Incremental terminal input reader: UTF-8 bytes in, text runs and named keys (ECMA-48 CSI/SS3, C0 controls) out.
import { isAscii } from 'node:buffer';

/** A key the reader recognises; 'control' is any other C0 control, 'unknown' an unmapped escape sequence. */
export type KeyName =
  | 'enter'
  | 'backspace'
  | 'delete'
  | 'tab'
  | 'escape'
  | 'interrupt'
  | 'eof'
  | 'kill-line'
  | 'kill-word'
  | 'left'
  | 'right'
  | 'up'
  | 'down'
  | 'home'
  | 'end'
  | 'page-up'
  | 'page-down'
  | 'insert'
  | 'clear-screen'
  | 'control'
  | 'unknown';

/** One unit of input: a run of printable characters, or one key with the characters that made it. */
export type InputToken = { type: 'text'; text: string } | { type: 'key'; name: KeyName; sequence: string };

/** Limits of a reader. */
export interface KeyReaderOptions {
  /** Longest escape sequence kept while waiting for its final byte; default 32. */
  maxSequenceLength?: number;
}

type State = 'ground' | 'escape' | 'csi' | 'ss3' | 'linux-function' | 'discard';

const DEFAULT_MAX_SEQUENCE_LENGTH = 32;
/** Up to this many bytes a JavaScript loop beats a native call. */
const SHORT_INPUT = 64;
const ESC = '\x1b';

const CONTROL_KEYS: ReadonlyMap<number, KeyName> = new Map([
  [0x03, 'interrupt'],
  [0x04, 'eof'],
  [0x08, 'backspace'],
  [0x09, 'tab'],
  [0x0c, 'clear-screen'],
  [0x15, 'kill-line'],
  [0x17, 'kill-word'],
  // Most terminals send DEL for the Backspace key.
  [0x7f, 'backspace'],
]);

const FINAL_KEYS: ReadonlyMap<string, KeyName> = new Map([
  ['A', 'up'],
  ['B', 'down'],
  ['C', 'right'],
  ['D', 'left'],
  ['H', 'home'],
  ['F', 'end'],
]);

// VT220 editing keypad, plus the rxvt codes (7, 8) for Home and End.
const TILDE_KEYS: ReadonlyMap<string, KeyName> = new Map([
  ['1', 'home'],
  ['2', 'insert'],
  ['3', 'delete'],
  ['4', 'end'],
  ['5', 'page-up'],
  ['6', 'page-down'],
  ['7', 'home'],
  ['8', 'end'],
]);

/**
 * Reads `bytes` that hold whole lines of printable ASCII and nothing else, each ended by LF,
 * CR LF (what a line client sends) or a CR followed by more of the read (a terminal's Enter),
 * straight into the lines' text: what a KeyReader with nothing pending would make of them, read
 * in one pass and with no tokens. Undefined for any other bytes. A layer reads with this until
 * it needs a KeyReader: a client that sends only whole lines never does.
 *
 * `isCrEndAllowed`: the read may end with a CR too, whose LF or NUL may come first in the next
 * read; only a KeyReader, which remembers that, allows it.
 */
export function readWholeLines(bytes: Uint8Array, isCrEndAllowed = false): string[] | undefined {
  const last = bytes.length - 1;
  if (last < 0) return undefined;
  const end = bytes[last];
  if ((end !== 0x0a && (end !== 0x0d || !isCrEndAllowed)) || !isLinesOfText(bytes)) return undefined;
  // Most reads hold one line: read as that line alone (no text of the whole read to cut it
  // from), in a list of exactly one (pushing into an empty one reserves 17 slots).
  const first = lineEnd(bytes, 0);
  if (first === last || (first === last - 1 && end === 0x0a && bytes[first] === 0x0d)) return [latin1(bytes, 0, first)];
  const text = latin1(bytes);
  const lines: string[] = [];
  for (let start = 0; start <= last;) {
    const stop = lineEnd(bytes, start);
    lines.push(text.slice(start, stop));
    start = stop + (bytes[stop] === 0x0d && bytes[stop + 1] === 0x0a ? 2 : 1);
  }
  return lines;
}

/** Where the line from `from` ends: its CR or LF (isLinesOfText found one). */
function lineEnd(bytes: Uint8Array, from: number): number {
  let at = from;
  while (bytes[at] !== 0x0a && bytes[at] !== 0x0d) at++;
  return at;
}

/**
 * Reads `bytes` as one message that is a line by itself (a WebSocket text message), when it is
 * printable ASCII only: its text, what push, flush and an Enter would make of it on a KeyReader
 * with nothing pending. Undefined otherwise.
 */
export function readWholeMessage(bytes: Uint8Array): string | undefined {
  return printableAsciiEnd(bytes, 0) === bytes.length ? latin1(bytes) : undefined;
}

/**
 * Turns a client's input bytes (telnet commands already removed) into tokens, keeping
 * its state between pushes: a UTF-8 character, an escape sequence or a CR LF cut between
 * pushes reads as if it had arrived whole. Never throws on input.
 */
export class KeyReader {
  readonly #maxSequence: number;
  /** Made at the first non-ASCII byte: ASCII reads as it is, and most input is ASCII. */
  #utf8: TextDecoder | undefined;
  /** The last push left #utf8 possibly holding the first bytes of a character. */
  #isUtf8Open = false;
  #state: State = 'ground';
  #sequence = '';
  #isAfterCr = false;

  constructor(options: KeyReaderOptions = {}) {
    const max = options.maxSequenceLength ?? DEFAULT_MAX_SEQUENCE_LENGTH;
    this.#maxSequence = Number.isFinite(max) ? Math.max(3, Math.floor(max)) : DEFAULT_MAX_SEQUENCE_LENGTH;
  }

  /** Reads the next chunk of input; appends the tokens it completes to `tokens` and returns them. */
  push(bytes: Uint8Array, tokens: InputToken[] = []): InputToken[] {
    if (!this.#isUtf8Open && isAsciiOnly(bytes)) {
      this.#read(latin1(bytes), bytes, tokens);
      return tokens;
    }
    this.#utf8 ??= new TextDecoder('utf-8');
    this.#read(this.#utf8.decode(bytes, { stream: true }), undefined, tokens);
    // Only a push ending in a non-ASCII byte can end inside a character.
    if (bytes.length > 0) this.#isUtf8Open = bytes[bytes.length - 1]! >= 0x80;
    return tokens;
  }

  /**
   * Reads `bytes` that hold whole lines of printable ASCII and nothing else (readWholeLines), the
   * last of them possibly ended by a lone CR, where nothing but a CR is pending from earlier
   * reads: what push would make of them, the reader left as push would leave it. Undefined, with
   * nothing read, otherwise.
   */
  readLines(bytes: Uint8Array): string[] | undefined {
    if (this.#state !== 'ground' || this.#isUtf8Open) return undefined;
    // The LF or NUL of a CR that ended the last read belongs to that Enter, as push reads it.
    const isPairEnd = this.#isAfterCr && (bytes[0] === 0x0a || bytes[0] === 0x00);
    const lines = readWholeLines(isPairEnd ? bytes.subarray(1) : bytes, true);
    if (lines !== undefined) this.#isAfterCr = bytes[bytes.length - 1] === 0x0d;
    return lines;
  }

  /**
   * Reads `bytes` as one message that is a line by itself (a WebSocket text message), when it is
   * printable ASCII only: its text, what push, flush and an Enter would make of it. Undefined,
   * with nothing read, otherwise.
   */
  readMessage(bytes: Uint8Array): string | undefined {
    return this.#isAtRest() ? readWholeMessage(bytes) : undefined;
  }

  /**
   * Ends a pending escape sequence; the session calls it after a short quiet time, since a
   * lone ESC is the Escape key only once nothing follows it.
   */
  flush(): InputToken[] {
    const state = this.#state;
    const sequence = this.#sequence;
    this.#state = 'ground';
    this.#sequence = '';
    if (state === 'escape') return [key('escape', ESC)];
    if (state === 'csi' || state === 'ss3' || state === 'linux-function') return [key('unknown', sequence)];
    return [];
  }

  /** Reads decoded input; `ascii` is given when it is also the input's bytes, one per character. */
  #read(input: string, ascii: Uint8Array | undefined, tokens: InputToken[]): void {
    let i = 0;
    while (i < input.length) {
      if (this.#state !== 'ground') {
        i = this.#stepSequence(input, i, tokens);
        continue;
      }
      const code = input.charCodeAt(i);
      if (this.#isAfterCr) {
        this.#isAfterCr = false;
        // RFC 854: a CR is followed by LF or NUL; the pair is one Enter.
        if (code === 0x0a || code === 0x00) {
          i++;
          continue;
        }
      }
      if (isPrintable(code)) {
        const end = ascii === undefined ? printableEnd(input, i + 1) : printableAsciiEnd(ascii, i + 1);
        tokens.push({ type: 'text', text: input.slice(i, end) });
        i = end;
        continue;
      }
      this.#readControl(input[i]!, code, tokens);
      i++;
    }
  }

  #readControl(char: string, code: number, tokens: InputToken[]): void {
    if (code === 0x0d) {
      tokens.push(ENTER_CR);
      this.#isAfterCr = true;
    } else if (code === 0x0a) {
      tokens.push(ENTER_LF);
    } else if (code === 0x1b) {
      this.#state = 'escape';
      this.#sequence = ESC;
    } else if (code !== 0x00) {
      tokens.push(key(CONTROL_KEYS.get(code) ?? 'control', char));
    }
  }

  /** Advances a pending escape sequence by one character; returns the next index to read. */
  #stepSequence(input: string, i: number, tokens: InputToken[]): number {
    const code = input.charCodeAt(i);
    switch (this.#state) {
      case 'escape': {
        if (code === 0x5b /* [ */ || code === 0x4f /* O */) {
          this.#state = code === 0x5b ? 'csi' : 'ss3';
          this.#sequence += input[i];
          return i + 1;
        }
        if (code === 0x1b) {
          // ESC ESC: the first was the Escape key (or Alt with an arrow); the second starts anew.
          tokens.push(key('escape', ESC));
          return i + 1;
        }
        if (!isPrintable(code)) {
          // ESC before a control (Alt-Enter, Alt-Backspace): Escape, then the control by itself.
          this.#reset();
          tokens.push(key('escape', ESC));
          return i;
        }
        // Alt with a character; take a whole code point so a surrogate pair stays together.
        const char = String.fromCodePoint(input.codePointAt(i)!);
        this.#reset();
        tokens.push(key('unknown', ESC + char));
        return i + char.length;
      }
      case 'csi': {
        if (code >= 0x40 && code <= 0x7e) {
          const sequence = this.#sequence + input[i];
          if (sequence === `${ESC}[[`) {
            // Linux console F1-F5 are ESC [ [ A..E: one more byte belongs to the sequence.
            this.#state = 'linux-function';
            this.#sequence = sequence;
            return i + 1;
          }
          this.#reset();
          tokens.push(key(csiKey(sequence), sequence));
          return i + 1;
        }
        if (code >= 0x20 && code <= 0x3f) {
          this.#sequence += input[i];
          if (this.#sequence.length >= this.#maxSequence) {
            tokens.push(key('unknown', this.#sequence));
            this.#state = 'discard';
            this.#sequence = '';
          }
          return i + 1;
        }
        return this.#abandon(i, tokens);
      }
      case 'ss3':
      case 'linux-function': {
        if (code < 0x20 || code > 0x7e) return this.#abandon(i, tokens);
        const sequence = this.#sequence + input[i];
        const isSs3 = this.#state === 'ss3';
        this.#reset();
        tokens.push(key((isSs3 && FINAL_KEYS.get(input[i]!)) || 'unknown', sequence));
        return i + 1;
      }
      default: {
        // 'discard': the rest of an overlong CSI is skipped up to its final byte.
        if (code >= 0x20 && code <= 0x3f) return i + 1;
        this.#reset();
        return code >= 0x40 && code <= 0x7e ? i + 1 : i;
      }
    }
  }

  /** A sequence broken by a character that cannot continue it: report what came, reread the character. */
  #abandon(i: number, tokens: InputToken[]): number {
    tokens.push(key('unknown', this.#sequence));
    this.#reset();
    return i;
  }

  #reset(): void {
    this.#state = 'ground';
    this.#sequence = '';
  }

  /** Nothing is pending: the next byte starts afresh. */
  #isAtRest(): boolean {
    return this.#state === 'ground' && !this.#isAfterCr && !this.#isUtf8Open;
  }
}

function key(name: KeyName, sequence: string): InputToken {
  return { type: 'key', name, sequence };
}

// One token for every line's Enter: tokens are never changed once read.
const ENTER_CR = Object.freeze(key('enter', '\r'));
const ENTER_LF = Object.freeze(key('enter', '\n'));

/** The tokens a line of printable text read whole stands for: its text, then Enter. */
export function lineTokens(line: string): InputToken[] {
  return line === '' ? [ENTER_CR] : [{ type: 'text', text: line }, ENTER_CR];
}

/** Not a C0 control, DEL or C1 control: a character that stands for itself. */
function isPrintable(code: number): boolean {
  return code >= 0x20 && code !== 0x7f && (code < 0x80 || code > 0x9f);
}

/** Where the run of printable characters from `from` ends. */
function printableEnd(input: string, from: number): number {
  let end = from;
  while (end < input.length && isPrintable(input.charCodeAt(end))) end++;
  return end;
}

/** Where the run of printable ASCII bytes from `from` ends: read from the bytes, a step cheaper than the string. */
function printableAsciiEnd(bytes: Uint8Array, from: number): number {
  let end = from;
  while (end < bytes.length) {
    const byte = bytes[end]!;
    if (byte < 0x20 || byte > 0x7e) break;
    end++;
  }
  return end;
}

/** Whether every byte is printable ASCII, CR or LF. */
function isLinesOfText(bytes: Uint8Array): boolean {
  for (let i = printableAsciiEnd(bytes, 0); i < bytes.length; i = printableAsciiEnd(bytes, i + 1)) {
    const byte = bytes[i]!;
    if (byte !== 0x0a && byte !== 0x0d) return false;
  }
  return true;
}

/** Whether all bytes are ASCII; a keystroke's few are checked here, a paste's natively. */
function isAsciiOnly(bytes: Uint8Array): boolean {
  if (bytes.length > SHORT_INPUT) return isAscii(bytes);
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** ASCII bytes (`start` to `end`) as a string; a single one without allocating (V8 keeps one-character strings). */
function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  if (end - start === 0) return '';
  if (end - start === 1) return String.fromCharCode(bytes[start]!);
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return buffer.toString('latin1', start, end);
}

/** Names a complete CSI sequence by its final byte; modifier parameters (ESC [1;5C) do not change the key. */
function csiKey(sequence: string): KeyName {
  const params = sequence.slice(2, -1);
  const final = sequence[sequence.length - 1]!;
  if (!/^[0-9;]*$/.test(params)) return 'unknown';
  if (final === '~') return TILDE_KEYS.get(params.split(';')[0]!) ?? 'unknown';
  return FINAL_KEYS.get(final) ?? 'unknown';
}
