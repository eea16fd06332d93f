// The late-join screen of one session: its recent output, and a headless xterm while someone watches.
import { createRequire } from 'node:module';

import type { SerializeAddon } from '@xterm/addon-serialize';
import type xterm from '@xterm/headless';

interface TerminalModules {
  Terminal: typeof xterm.Terminal;
  SerializeAddon: typeof SerializeAddon;
}

/** What only a watched session has: its terminal, and how far the terminal's parser has got. */
interface View {
  terminal: xterm.Terminal;
  serializer: SerializeAddon;
  /** Characters written to the terminal and not parsed yet. */
  behind: number;
  /** Output was skipped while the terminal lagged: it is rebuilt from the replay once it caught up. */
  hasSkipped: boolean;
  /** The chunk number the terminal's screen reflects once its parser is done. */
  parsedSeq: number;
  waiters: Array<{ seq: number; resolve: (snapshot: ScreenSnapshot | undefined) => void }>;
}

let terminalModules: TerminalModules | undefined;

/**
 * The headless terminal, required on first use: a monitor nobody watches through does not pay
 * for it. Both packages are CommonJS, so this is synchronous and a watch starts in one go.
 */
function loadTerminalModules(): TerminalModules {
  const require = createRequire(import.meta.url);
  terminalModules ??= {
    Terminal: (require('@xterm/headless') as typeof xterm).Terminal,
    SerializeAddon: (require('@xterm/addon-serialize') as { SerializeAddon: typeof SerializeAddon }).SerializeAddon,
  };
  return terminalModules;
}

/** A session's screen as a viewer who joins late is first shown it. */
export interface ScreenSnapshot {
  /** The screen (and a little scrollback) as ANSI text, as @xterm/addon-serialize writes it. */
  text: string;
  cols: number;
  rows: number;
  /** How many output chunks the snapshot reflects: chunks numbered above it come after it. */
  seq: number;
}

/** Bytes of recent output (UTF-8) kept per session for late joiners. */
export const REPLAY_CAP = 64 * 1024;

/** What a trim keeps at most: three quarters of the cap, so that trimming is rare. */
const REPLAY_KEPT = Math.floor((REPLAY_CAP * 3) / 4);

/**
 * A session's first output (its welcome, and what follows up to this many characters) is kept as
 * a string: an idle session costs no buffer of its own. Once the session has a buffer, each
 * write is copied at once. Gathering writes into a string for one copy per few hundred
 * characters was tried: under load the string outlived the young generation's collections (at
 * 500 clients a turn comes every 14 ms), which then took twice as long.
 */
const PENDING_LIMIT = 512;

/** The first buffer a replay gets; it doubles up to REPLAY_CAP. */
const FIRST_CAPACITY = 2048;

const NEWLINE = 0x0a;

/** Lines kept above the screen of a watched session's terminal (about 2 KiB each at 80 columns). */
const SCROLLBACK = 50;

/**
 * Largest piece handed to the terminal at once: its parser keeps a buffer as large as the largest
 * write it ever had (up to 512 KiB), so output is fed in pieces; an escape sequence or a surrogate
 * pair cut between two pieces is parsed like a whole one.
 */
const PIECE = 4096;

/** Output handed to the terminal and not parsed yet, past which it is skipped and caught up later. */
const MAX_BEHIND = 256 * 1024;

/** An 80x24 terminal when the client never said. */
const DEFAULT_SIZE = { cols: 80, rows: 24 };

/** RIS, full reset: the replay that catches a terminal up starts from a blank screen. */
const RESET = '\x1bc';

/**
 * One session's recent output, bounded and cut only after a newline so that a replay never starts
 * inside an escape sequence, and, only while someone watches, a headless terminal fed from it.
 * The output is copied into a buffer outside the heap as it is written: kept as strings, every
 * piece of a busy session's output would outlive the young generation, and copying it there and
 * then into old space cost more than the session's own work.
 */
export class SessionScreen {
  /** The output, while the session has written at most PENDING_LIMIT characters and has no buffer. */
  #pending = '';
  /** The output once it outgrew `#pending`, as UTF-8: the first `#length` bytes. */
  #bytes: Buffer | undefined;
  #length = 0;
  /** Output chunks written so far; the number of the latest. */
  #seq = 0;
  #cols: number;
  #rows: number;
  #view: View | undefined;

  constructor(size: { cols: number | undefined; rows: number | undefined }) {
    this.#cols = size.cols ?? DEFAULT_SIZE.cols;
    this.#rows = size.rows ?? DEFAULT_SIZE.rows;
  }

  /** Whether a terminal is kept (someone watches). */
  get isAttached(): boolean {
    return this.#view !== undefined;
  }

  /** The output kept for a viewer who joins late, as the terminal is fed it. */
  get replay(): string {
    return this.#bytes === undefined ? this.#pending : this.#bytes.toString('utf8', 0, this.#length);
  }

  /** Records output the session's terminal was sent; returns its chunk number. */
  write(text: string): number {
    this.#seq++;
    this.#append(text);
    if (this.#view !== undefined) this.#feed(this.#view, text);
    return this.#seq;
  }

  /** The client's window changed size; unknown dimensions keep their value. */
  resize(size: { cols: number | undefined; rows: number | undefined }): void {
    const cols = size.cols ?? this.#cols;
    const rows = size.rows ?? this.#rows;
    if (cols === this.#cols && rows === this.#rows) return;
    this.#cols = cols;
    this.#rows = rows;
    const terminal = this.#view?.terminal;
    // Through the write queue: output sent before the resize is laid out at the old size.
    terminal?.write('', () => terminal.resize(cols, rows));
  }

  /** Starts a terminal and replays the kept output into it; a no-op when one is running. */
  attach(): void {
    if (this.#view !== undefined) return;
    const { Terminal, SerializeAddon } = loadTerminalModules();
    const terminal = new Terminal({
      cols: this.#cols,
      rows: this.#rows,
      scrollback: SCROLLBACK,
      allowProposedApi: true,
    });
    const serializer = new SerializeAddon();
    // The addon is typed against @xterm/xterm's Terminal; the headless one has the same buffer API.
    terminal.loadAddon(serializer as unknown as xterm.ITerminalAddon);
    this.#view = { terminal, serializer, behind: 0, hasSkipped: false, parsedSeq: 0, waiters: [] };
    this.#feed(this.#view, this.replay);
  }

  /** Drops the terminal; snapshots still waiting get undefined. */
  detach(): void {
    const view = this.#view;
    if (view === undefined) return;
    this.#view = undefined;
    view.terminal.dispose();
    for (const waiter of view.waiters.splice(0)) waiter.resolve(undefined);
  }

  /**
   * The screen once the terminal has parsed every chunk written so far (attach first). Resolves
   * undefined when the terminal is detached meanwhile.
   */
  snapshot(): Promise<ScreenSnapshot | undefined> {
    const view = this.#view;
    if (view === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      view.waiters.push({ seq: this.#seq, resolve });
      // Wakes the waiter in the same turn as the parser reaches this point, before anything later.
      view.terminal.write('', () => this.#settle(view));
    });
  }

  /** Clears the kept output and the terminal. */
  dispose(): void {
    this.detach();
    this.#pending = '';
    this.#bytes = undefined;
    this.#length = 0;
  }

  /** Keeps `text`: in `#pending` while the output is short (far below the cap), else in the bytes. */
  #append(text: string): void {
    if (this.#bytes === undefined) {
      const pending = this.#pending;
      if (pending.length + text.length <= PENDING_LIMIT) {
        // It may be all an idle session ever keeps (its welcome): one flat string, not a chain.
        this.#pending = flattened(pending + text);
        return;
      }
      this.#pending = '';
      if (pending !== '') this.#copy(pending);
    }
    this.#copy(text);
  }

  /** Copies `text` into the bytes, cutting them where they pass the cap. */
  #copy(text: string): void {
    const bytes = (this.#bytes ??= Buffer.allocUnsafeSlow(FIRST_CAPACITY));
    // Room for the worst case (three bytes a UTF-16 unit): one copy, which also tells the length.
    if (bytes.length - this.#length >= text.length * 3) {
      this.#length += bytes.write(text, this.#length);
      return;
    }
    const size = Buffer.byteLength(text);
    const total = this.#length + size;
    if (total <= REPLAY_CAP) {
      this.#reserve(total).write(text, this.#length);
      this.#length = total;
    } else {
      this.#trimFor(text, size);
    }
  }

  /** The buffer, grown (doubling, up to REPLAY_CAP) to hold at least `size` bytes. */
  #reserve(size: number): Buffer {
    const bytes = this.#bytes!;
    if (size <= bytes.length) return bytes;
    let capacity = bytes.length * 2;
    while (capacity < size) capacity *= 2;
    const grown = Buffer.allocUnsafeSlow(Math.min(capacity, REPLAY_CAP));
    bytes.copy(grown, 0, 0, this.#length);
    this.#bytes = grown;
    return grown;
  }

  /**
   * Appends `text`, of `size` bytes, where the replay would pass its cap: keeps at most REPLAY_KEPT
   * bytes, starting right after a newline, so every line kept is whole. With no newline there at
   * all, nothing is kept.
   */
  #trimFor(text: string, size: number): void {
    const bytes = this.#bytes!;
    const from = this.#length + size - REPLAY_KEPT - 1;
    const newline = from < this.#length ? bytes.subarray(0, this.#length).indexOf(NEWLINE, from) : -1;
    if (newline !== -1) {
      bytes.copyWithin(0, newline + 1, this.#length);
      this.#length -= newline + 1;
      this.#length += this.#reserve(this.#length + size).write(text, this.#length);
      return;
    }
    // The cut falls in the new text (a long one, or a long line): found among its bytes.
    const encoded = Buffer.from(text);
    const cut = encoded.indexOf(NEWLINE, Math.max(0, from - this.#length));
    const kept = cut === -1 ? encoded.subarray(0, 0) : encoded.subarray(cut + 1);
    this.#length = 0;
    this.#reserve(kept.length);
    this.#length = kept.copy(this.#bytes!, 0);
  }

  #feed(view: View, text: string): void {
    if (view.behind > MAX_BEHIND || view.hasSkipped) {
      // The parser lags (a flood): skip, and rebuild from the replay once it has caught up.
      view.hasSkipped = true;
      return;
    }
    const seq = this.#seq;
    view.behind += text.length;
    writeInPieces(view.terminal, text, () => {
      view.behind -= text.length;
      view.parsedSeq = seq;
      if (view.hasSkipped && view.behind === 0 && this.#view === view) this.#catchUp(view);
      this.#settle(view);
    });
  }

  /** The terminal parsed everything it was given while later output was skipped: start it over. */
  #catchUp(view: View): void {
    view.hasSkipped = false;
    const seq = this.#seq;
    const replay = RESET + this.replay;
    view.behind += replay.length;
    writeInPieces(view.terminal, replay, () => {
      view.behind -= replay.length;
      view.parsedSeq = seq;
      this.#settle(view);
    });
  }

  /** Serves the snapshots the terminal has now parsed far enough for. */
  #settle(view: View): void {
    if (this.#view !== view || view.waiters.length === 0) return;
    const ready = view.waiters.filter((waiter) => waiter.seq <= view.parsedSeq);
    if (ready.length === 0) return;
    view.waiters = view.waiters.filter((waiter) => waiter.seq > view.parsedSeq);
    const snapshot: ScreenSnapshot = {
      text: view.serializer.serialize(),
      cols: view.terminal.cols,
      rows: view.terminal.rows,
      seq: view.parsedSeq,
    };
    for (const waiter of ready) waiter.resolve(snapshot);
  }
}

/**
 * `text` as one string rather than the chain of concatenations a turn's writes make: the sample's
 * welcome is about 440 bytes as a chain and 180 flat. V8 flattens a chain when a character of it
 * is read, and the collector then drops the chain's links.
 */
function flattened(text: string): string {
  text.charCodeAt(0);
  return text;
}

/** Writes `text` in pieces of at most PIECE characters; `done` runs once the last is parsed. */
function writeInPieces(terminal: xterm.Terminal, text: string, done: () => void): void {
  let start = 0;
  for (; text.length - start > PIECE; start += PIECE) terminal.write(text.slice(start, start + PIECE));
  terminal.write(text.slice(start), done);
}
