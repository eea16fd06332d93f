// The late-join screen of one session: its recent output, and a headless xterm while someone watches.
import { createRequire } from 'node:module';

import type { SerializeAddon } from '@xterm/addon-serialize';
import type xterm from '@xterm/headless';

interface TerminalModules {
  Terminal: typeof xterm.Terminal;
  SerializeAddon: typeof SerializeAddon;
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

/** Characters of recent output kept per session for late joiners (about 64 KiB of ASCII). */
export const REPLAY_CAP = 64 * 1024;

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

/** Small chunks (echoed keys) are joined once there are this many, so that each costs no more than its text. */
const MAX_CHUNKS = 256;

/** An 80x24 terminal when the client never said. */
const DEFAULT_SIZE = { cols: 80, rows: 24 };

/** RIS, full reset: the replay that catches a terminal up starts from a blank screen. */
const RESET = '\x1bc';

/**
 * One session's recent output, bounded and cut only after a newline so that a replay never starts
 * inside an escape sequence, and, only while someone watches, a headless terminal fed from it.
 */
export class SessionScreen {
  #chunks: string[] = [];
  #length = 0;
  /** Output chunks written so far; the number of the latest. */
  #seq = 0;
  #cols: number;
  #rows: number;
  #terminal: xterm.Terminal | undefined;
  #serializer: SerializeAddon | undefined;
  /** Characters written to the terminal and not parsed yet. */
  #behind = 0;
  /** Output was skipped while the terminal lagged: it is rebuilt from the replay once it caught up. */
  #hasSkipped = false;
  /** The chunk number the terminal's screen reflects once its parser is done. */
  #parsedSeq = 0;
  #waiters: Array<{ seq: number; resolve: (snapshot: ScreenSnapshot | undefined) => void }> = [];

  constructor(size: { cols: number | undefined; rows: number | undefined }) {
    this.#cols = size.cols ?? DEFAULT_SIZE.cols;
    this.#rows = size.rows ?? DEFAULT_SIZE.rows;
  }

  /** Whether a terminal is kept (someone watches). */
  get isAttached(): boolean {
    return this.#terminal !== undefined;
  }

  /** Characters of output kept for replay. */
  get replayLength(): number {
    return this.#length;
  }

  /** Records output the session's terminal was sent; returns its chunk number. */
  write(text: string): number {
    this.#seq++;
    this.#append(text);
    if (this.#terminal !== undefined) this.#feed(text);
    return this.#seq;
  }

  /** The client's window changed size; unknown dimensions keep their value. */
  resize(size: { cols: number | undefined; rows: number | undefined }): void {
    const cols = size.cols ?? this.#cols;
    const rows = size.rows ?? this.#rows;
    if (cols === this.#cols && rows === this.#rows) return;
    this.#cols = cols;
    this.#rows = rows;
    const terminal = this.#terminal;
    // Through the write queue: output sent before the resize is laid out at the old size.
    terminal?.write('', () => terminal.resize(cols, rows));
  }

  /** Starts a terminal and replays the kept output into it; a no-op when one is running. */
  attach(): void {
    if (this.#terminal !== undefined) return;
    const { Terminal, SerializeAddon } = loadTerminalModules();
    this.#terminal = new Terminal({
      cols: this.#cols,
      rows: this.#rows,
      scrollback: SCROLLBACK,
      allowProposedApi: true,
    });
    this.#serializer = new SerializeAddon();
    // The addon is typed against @xterm/xterm's Terminal; the headless one has the same buffer API.
    this.#terminal.loadAddon(this.#serializer as unknown as xterm.ITerminalAddon);
    this.#hasSkipped = false;
    this.#behind = 0;
    this.#feed(this.#replay());
  }

  /** Drops the terminal; snapshots still waiting get undefined. */
  detach(): void {
    const terminal = this.#terminal;
    if (terminal === undefined) return;
    this.#terminal = undefined;
    this.#serializer = undefined;
    terminal.dispose();
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(undefined);
  }

  /**
   * The screen once the terminal has parsed every chunk written so far (attach first). Resolves
   * undefined when the terminal is detached meanwhile.
   */
  snapshot(): Promise<ScreenSnapshot | undefined> {
    const terminal = this.#terminal;
    if (terminal === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#waiters.push({ seq: this.#seq, resolve });
      // Wakes the waiter in the same turn as the parser reaches this point, before anything later.
      terminal.write('', () => this.#settle(terminal));
    });
  }

  /** Clears the kept output and the terminal. */
  dispose(): void {
    this.detach();
    this.#chunks = [];
    this.#length = 0;
  }

  #append(text: string): void {
    this.#chunks.push(text);
    this.#length += text.length;
    if (this.#length > REPLAY_CAP) this.#trim();
    else if (this.#chunks.length > MAX_CHUNKS) this.#chunks = [this.#chunks.join('')];
  }

  /**
   * Keeps at most three quarters of the cap, so that trimming is rare, starting right after a
   * newline: every line kept is whole. A tail with no newline at all is dropped as a whole.
   */
  #trim(): void {
    const replay = this.#chunks.join('');
    const start = replay.indexOf('\n', replay.length - Math.floor((REPLAY_CAP * 3) / 4) - 1);
    const kept = start === -1 ? '' : replay.slice(start + 1);
    this.#chunks = kept === '' ? [] : [kept];
    this.#length = kept.length;
  }

  #replay(): string {
    return this.#chunks.join('');
  }

  #feed(text: string): void {
    const terminal = this.#terminal!;
    if (this.#behind > MAX_BEHIND || this.#hasSkipped) {
      // The parser lags (a flood): skip, and rebuild from the replay once it has caught up.
      this.#hasSkipped = true;
      return;
    }
    const seq = this.#seq;
    this.#behind += text.length;
    writeInPieces(terminal, text, () => {
      this.#behind -= text.length;
      this.#parsedSeq = seq;
      if (this.#hasSkipped && this.#behind === 0 && this.#terminal === terminal) this.#catchUp(terminal);
      this.#settle(terminal);
    });
  }

  /** The terminal parsed everything it was given while later output was skipped: start it over. */
  #catchUp(terminal: xterm.Terminal): void {
    this.#hasSkipped = false;
    const seq = this.#seq;
    const replay = RESET + this.#replay();
    this.#behind += replay.length;
    writeInPieces(terminal, replay, () => {
      this.#behind -= replay.length;
      this.#parsedSeq = seq;
      this.#settle(terminal);
    });
  }

  /** Serves the snapshots the terminal has now parsed far enough for. */
  #settle(terminal: xterm.Terminal): void {
    if (this.#terminal !== terminal || this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((waiter) => waiter.seq <= this.#parsedSeq);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((waiter) => waiter.seq > this.#parsedSeq);
    const snapshot: ScreenSnapshot = {
      text: this.#serializer!.serialize(),
      cols: terminal.cols,
      rows: terminal.rows,
      seq: this.#parsedSeq,
    };
    for (const waiter of ready) waiter.resolve(snapshot);
  }
}

/** Writes `text` in pieces of at most PIECE characters; `done` runs once the last is parsed. */
function writeInPieces(terminal: xterm.Terminal, text: string, done: () => void): void {
  let start = 0;
  for (; text.length - start > PIECE; start += PIECE) terminal.write(text.slice(start, start + PIECE));
  terminal.write(text.slice(start), done);
}
