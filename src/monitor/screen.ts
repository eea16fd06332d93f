// The late-join screen of one session: its recent output, and a headless xterm while someone watches.
import { createRequire } from 'node:module';

import type { SerializeAddon } from '@xterm/addon-serialize';
import type xterm from '@xterm/headless';

import type { ReplayChain, ReplayLog } from './replay-log.js';

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
 * One session's recent output, kept in the process's replay log (bounded, and cut only after a
 * newline so that a replay never starts inside an escape sequence), and, only while someone
 * watches, a headless terminal fed from it.
 */
export class SessionScreen {
  readonly #log: ReplayLog;
  readonly #chain: ReplayChain;
  /** Output chunks written so far; the number of the latest. */
  #seq = 0;
  #cols: number;
  #rows: number;
  #view: View | undefined;

  constructor(size: { cols: number | undefined; rows: number | undefined }, log: ReplayLog) {
    this.#cols = size.cols ?? DEFAULT_SIZE.cols;
    this.#rows = size.rows ?? DEFAULT_SIZE.rows;
    this.#log = log;
    this.#chain = log.open();
  }

  /** Whether a terminal is kept (someone watches). */
  get isAttached(): boolean {
    return this.#view !== undefined;
  }

  /** The output kept for a viewer who joins late, as the terminal is fed it. */
  get replay(): string {
    return this.#log.read(this.#chain);
  }

  /** Records output the session's terminal was sent; returns its chunk number. */
  write(text: string): number {
    this.#seq++;
    this.#log.append(this.#chain, text);
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
    this.#log.close(this.#chain);
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

/** Writes `text` in pieces of at most PIECE characters; `done` runs once the last is parsed. */
function writeInPieces(terminal: xterm.Terminal, text: string, done: () => void): void {
  let start = 0;
  for (; text.length - start > PIECE; start += PIECE) terminal.write(text.slice(start, start + PIECE));
  terminal.write(text.slice(start), done);
}
