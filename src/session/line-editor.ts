// Server-side line editor for character-mode terminals: input tokens in, VT100 echo and completed lines out.

import { eastAsianWidth } from 'get-east-asian-width';
import type { InputToken, KeyName } from './key-reader.js';
import { LineHistory } from './line-history.js';

/** What one token did: the exact terminal output to send back, and a completed line or a signal. */
export interface EditResult {
  echo: string;
  line?: string;
  signal?: 'interrupt' | 'eof';
}

/** Limits of an editor. */
export interface LineEditorOptions {
  /** Longest line kept, in code points; characters beyond it are dropped. Default 4096. */
  maxLineLength?: number;
  /** Most lines remembered for Up/Down. Default 100. */
  historySize?: number;
}

/** A place on the terminal relative to the prompt's row; isAtMargin: just filled the last column. */
interface ScreenSpot {
  row: number;
  column: number;
  isAtMargin: boolean;
}

/** How typed characters are shown: as themselves, not at all, or as one '*' each. */
export type EchoMode = 'on' | 'off' | 'mask' | 'hidden';

const DEFAULT_MAX_LINE_LENGTH = 4096;
const DEFAULT_HISTORY_SIZE = 100;
const CLEAR_TO_END = '\x1b[K';
const BELL = '\x07';
const CLEAR_TO_SCREEN_END = '\x1b[J';
const CLEAR_SCREEN = '\x1b[H\x1b[2J';
/** CSI and OSC sequences: colour in a prompt takes no columns. */
const ANSI_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\))/g;
const CONTROL = /\p{Cc}/u;
const NOTHING_SHOWN: EditResult = { echo: '' };
/**
 * The draft of an editor not browsing history, and the characters of an empty line: never
 * changed (frozen), so one serves all; #insert makes a line its own list.
 */
const NO_STRINGS: readonly string[] = Object.freeze([]);
const EMPTY_LINE = NO_STRINGS as string[];

/**
 * Edits one line at a time like readline: insert anywhere, erase, move, kill, history.
 * The buffer is kept as code points; a character and the zero-width marks after it
 * (é as e + U+0301) move and erase together. Once `width` is known, a line longer than
 * the terminal is redrawn whole on each edit, since cursor moves cannot cross a wrapped row;
 * once `height` is known too, a line taller than the screen is shown as the rows around the
 * cursor, as the cursor cannot go up into rows that have scrolled off.
 */
export class LineEditor {
  /**
   * 'off' edits silently (the client echoes for itself); 'mask' shows '*' per character;
   * 'hidden' shows nothing but the new line on Enter (a password, the client's echo turned off).
   */
  echo: EchoMode = 'on';
  /** Terminal columns, once the client says (telnet NAWS); undefined = lines fit one row. */
  width: number | undefined;
  /** Terminal rows, once the client says; undefined = any line fits the screen. */
  height: number | undefined;
  #prompt = '';
  #promptColumns = 0;
  /**
   * Rows below the first row of the line still on screen where the terminal's cursor and the
   * drawn line's end are; #top is that first row's place in the whole line (0: the prompt's row).
   */
  #cursorRow = 0;
  #endRow = 0;
  #top = 0;
  /** Where the characters not drawn start: a line taller than the screen may be drawn only down to the cursor. */
  #undrawnFrom: number | undefined;
  readonly #maxLineLength: number;
  readonly #historySize: number;
  #chars: string[] = EMPTY_LINE;
  #cursor = 0;
  /** Made at the first line remembered: many sessions never enter one. */
  #history: LineHistory | undefined;
  /** The number of the history line shown while browsing with Up/Down; null when editing a new line. */
  #browsing: number | null = null;
  #draft: readonly string[] = NO_STRINGS;
  /**
   * The line while it has only been typed at its end, kept as a string until an edit needs it
   * split into code points: typing appends and echoes a run in one pass, Enter hands it over as
   * it is. Echoed, it holds printable ASCII only, one column a character; unechoed, any text.
   */
  #typed: string | undefined;
  /** Columns #typed takes; undefined when it holds unechoed text that was never measured. */
  #typedColumns: number | undefined;

  constructor(options: LineEditorOptions = {}) {
    this.#maxLineLength = count(options.maxLineLength, DEFAULT_MAX_LINE_LENGTH);
    this.#historySize = count(options.historySize, DEFAULT_HISTORY_SIZE);
  }

  /** The line as typed so far. */
  get buffer(): string {
    return this.#typed ?? this.#chars.join('');
  }

  /** Cursor position in code points from the start of the line. */
  get cursor(): number {
    this.#materialize();
    return this.#cursor;
  }

  /**
   * A whole line typed at once and then Enter, where feed would take both its quick way: their
   * echo, the editor left as feed would leave it (the line in history, ready for the next).
   * Undefined, with nothing changed, where they must be fed key by key: something half typed,
   * a line too long or wider than the screen's row, echo other than on or off. `line` is
   * printable ASCII, as KeyReader.readLines gives it. `isOneOfMany`: more lines of the same read
   * are typed after it, and storeTypedLines() is called after the last; the history gets them all
   * then, in one write.
   */
  typeLine(line: string, isOneOfMany = false): string | undefined {
    if (this.hasInput || line.length > this.#maxLineLength) return undefined;
    let echo = '';
    if (this.echo === 'on') {
      const end = this.#promptColumns + line.length;
      if (line === '' || (this.width !== undefined && end >= this.width) || !this.#isTypedOnScreen()) return undefined;
      this.#remember(line, isOneOfMany);
      echo = `${line}\r\n`;
    } else if (this.echo !== 'off') {
      return undefined;
    }
    if (this.#browsing !== null) this.clear();
    return echo;
  }

  /** Whether a line is being typed (something to redraw after output printed over it). */
  get hasInput(): boolean {
    return this.#typed !== undefined || this.#chars.length > 0;
  }

  /** The prompt the line is typed after; it is drawn again with the line when the line is redrawn. */
  get prompt(): string {
    return this.#prompt;
  }

  set prompt(prompt: string) {
    // Set again before every line with the same text: measuring it once is enough.
    if (prompt === this.#prompt) return;
    this.#prompt = prompt;
    this.#promptColumns = promptColumns(prompt);
  }

  /** Output that removes the prompt and the line from the screen, to print something in their place. */
  erase(): string {
    if (this.echo === 'off') return '';
    // Hidden typing is not on screen, but the prompt is: clear its row.
    if (this.echo === 'hidden') return `\r${CLEAR_TO_SCREEN_END}`;
    const up = cursorUp(this.#cursorRow);
    this.#forgetRows();
    return `${up}\r${CLEAR_TO_SCREEN_END}`;
  }

  /** Output that draws the prompt and the line again, the cursor where it was (after erase()). */
  redraw(): string {
    if (this.echo === 'off' || this.echo === 'hidden') return this.#prompt;
    this.#materialize();
    this.#forgetRows();
    if (this.#isWrapped()) return this.#drawWrapped();
    return this.#prompt + this.#render(this.#chars) + cursorBack(this.#columns(this.#chars.slice(this.#cursor)));
  }

  /**
   * Output for Ctrl-L, as readline's: a clean screen with the prompt and the line at its top, the
   * cursor where it was. With no prompt up (a command still running) and nothing typed ahead, the
   * screen is only cleared: the prompt comes after the command's output.
   */
  clearScreen(isPromptShown: boolean): string {
    if (this.echo === 'off') return '';
    return CLEAR_SCREEN + (isPromptShown || this.hasInput ? this.redraw() : '');
  }

  /** Applies one input token; returns the echo and, on Enter, the completed line. */
  feed(token: InputToken): EditResult {
    const quick = token.type === 'text' ? this.#append(token.text) : this.#typedKey(token.name);
    if (quick !== undefined) return quick;
    this.#materialize();
    // A full line takes no more text: nothing to measure or draw (a 10 MiB paste costs one check).
    if (token.type === 'text' && this.#chars.length >= this.#maxLineLength) return NOTHING_SHOWN;
    const wasWrapped = this.#isWrapped();
    const rowsBelowCursor = this.#endRow - this.#cursorRow;
    const undrawn = this.#undrawnFrom === undefined ? [] : this.#chars.slice(this.#undrawnFrom);
    // A line drawn to the margin already has the cursor's row below it ready (see #drawWrapped).
    const isEnter = token.type === 'key' && token.name === 'enter';
    // Drawn only where the end was shown (#undrawnFrom unset): on a screen too short for it, the
    // line's last row may be drawn and the row below not.
    const isRowBelowReady =
      isEnter && wasWrapped && this.#undrawnFrom === undefined && this.#placement().end.isAtMargin;
    const result = token.type === 'text' ? this.#shown(this.#insert(token.text)) : this.#key(token.name);
    // A dropped line (Ctrl-C) has already moved below itself, as Enter does below.
    const isDropped = token.type === 'key' && token.name === 'interrupt';
    if (this.width === undefined || result.echo === '' || isDropped || !(wasWrapped || this.#isWrapped()))
      return result;
    if (result.line !== undefined) {
      // Enter leaves the cursor below the whole line, wherever in it the cursor was; rows not
      // drawn yet (a line taller than the screen) are drawn first, so the whole line is on record.
      const below = isRowBelowReady ? '\r' : '\r\n';
      const tail = undrawn.length === 0 ? below : `\r\n${this.#render(undrawn)}\r\n`;
      result.echo = `${cursorDown(rowsBelowCursor)}${tail}`;
      this.#forgetRows();
      return result;
    }
    result.echo = `${cursorUp(this.#cursorRow)}\r${CLEAR_TO_SCREEN_END}${this.#drawWrapped()}`;
    return result;
  }

  /** The word before the cursor (back to the last space) and the whole line, for completion. */
  get completionContext(): { word: string; line: string } {
    this.#materialize();
    return { word: this.#chars.slice(this.#completionStart(), this.#cursor).join(''), line: this.buffer };
  }

  /**
   * Completes the word before the cursor from `candidates`, as shells do: one match is typed out
   * with a space after it, several are typed as far as they agree and otherwise listed below the
   * line, none rings the bell. Returns what to send to the terminal.
   */
  complete(candidates: readonly string[]): string {
    const { word } = this.completionContext;
    const matching = [...new Set(candidates)].filter((candidate) => candidate.startsWith(word));
    if (matching.length === 0) return BELL;
    const typed = (text: string): string => this.feed({ type: 'text', text }).echo;
    if (matching.length === 1) return typed(`${matching[0]!.slice(word.length)} `);
    const prefix = commonPrefix(matching);
    if (prefix.length > word.length) return typed(prefix.slice(word.length));
    // Below the whole line, then the prompt and the line again with the cursor where it was.
    const down = cursorDown(this.#endRow - this.#cursorRow);
    return `${down}\r\n${matching.join('  ')}\r\n${this.redraw()}`;
  }

  /** Drops the current line without output, e.g. after an interrupt. */
  clear(): void {
    this.#forgetRows();
    this.#typed = undefined;
    this.#typedColumns = undefined;
    this.#chars = EMPTY_LINE;
    this.#cursor = 0;
    this.#browsing = null;
    this.#draft = NO_STRINGS;
  }

  /** Remembers a line for Up/Down, unless blank or the same as the newest. */
  addHistory(line: string): void {
    this.#remember(line, false);
  }

  /** The session is over: its history's lines are let go (the process's ring keeps every session's). */
  dispose(): void {
    this.#history?.close();
    this.#history = undefined;
    this.#browsing = null;
  }

  /** Writes to the history the lines typeLine took with isOneOfMany (see LineHistory.addTyped). */
  storeTypedLines(): void {
    this.#history?.storeTyped();
  }

  #remember(line: string, isDeferred: boolean): void {
    if (line.trim() === '') return;
    const history = (this.#history ??= new LineHistory(this.#historySize));
    if (isDeferred) history.addTyped(line);
    else history.add(line);
    if (this.#browsing !== null) this.#browsing = Math.max(history.first, this.#browsing);
  }

  /**
   * Text typed at the end of the line, appended and echoed in one pass: the run itself (a '*'
   * each when masked), then a new row when it ends at the margin, as #drawWrapped leaves it. What
   * this cannot show exactly as the per-character path does is left to it (undefined): wide or
   * zero-width characters, an edit inside the line, a line taller than the screen.
   */
  #append(text: string): EditResult | undefined {
    const isDrawn = this.echo === 'on' || this.echo === 'mask';
    const isAscii = isPrintableAscii(text);
    if (text.length === 0 || (!isAscii && (isDrawn || CONTROL.test(text)))) return undefined;
    let typed = this.#typed;
    let columns = this.#typedColumns;
    if (typed === undefined) {
      if (this.#cursor !== this.#chars.length || !this.#chars.every(isPrintableAscii)) return undefined;
      typed = this.#chars.join('');
      columns = typed.length;
    }
    if (typed.length + text.length > this.#maxLineLength) return undefined;
    columns = isAscii && columns !== undefined ? columns + text.length : undefined;
    let echo = '';
    let row: number | undefined;
    if (isDrawn) {
      if (columns === undefined || !this.#isTypedOnScreen()) return undefined;
      echo = this.echo === 'on' ? text : '*'.repeat(text.length);
      const end = this.#promptColumns + columns;
      if (this.width !== undefined && end >= this.width) {
        row = Math.floor(end / this.width);
        if (this.height !== undefined && row >= this.height) return undefined;
        if (end % this.width === 0) echo += '\r\n';
      }
    }
    if (this.#typed === undefined) {
      this.#chars = EMPTY_LINE;
      this.#cursor = 0;
    }
    this.#typed = typed + text;
    this.#typedColumns = columns;
    if (row !== undefined) {
      this.#cursorRow = row;
      this.#endRow = row;
    }
    return echo === '' ? NOTHING_SHOWN : { echo };
  }

  /** Enter or Backspace on a line kept as typed; undefined for other keys and what needs the per-character path. */
  #typedKey(name: KeyName): EditResult | undefined {
    const typed = this.#typed;
    if (typed === undefined) return undefined;
    const isDrawn = this.echo === 'on' || this.echo === 'mask';
    if (isDrawn && (this.#typedColumns === undefined || !this.#isTypedOnScreen())) return undefined;
    const end = this.#promptColumns + (this.#typedColumns ?? 0);
    const isWrapped = isDrawn && this.width !== undefined && end >= this.width;
    if (name === 'enter') {
      if (this.echo === 'on') this.addHistory(typed);
      this.clear();
      // A line drawn to the margin already has the cursor's row below it ready (see #drawWrapped).
      const echo = this.echo === 'off' ? '' : isWrapped && end % this.width! === 0 ? '\r' : '\r\n';
      return { echo, line: typed };
    }
    // A wrapped line is redrawn on every edit (#drawWrapped); on one row '\b \b' erases in place.
    if (name !== 'backspace' || isWrapped || this.#typedColumns === undefined) return undefined;
    this.#typed = typed.length === 1 ? undefined : typed.slice(0, -1);
    this.#typedColumns -= 1;
    return isDrawn ? { echo: '\b \b' } : NOTHING_SHOWN;
  }

  /**
   * Whether the screen shows the line kept as typed as #append leaves it: all of it from the
   * prompt down, the cursor at its end (not so after a change of width, or typing while hidden).
   */
  #isTypedOnScreen(): boolean {
    const end = this.#promptColumns + (this.#typed === undefined ? this.#chars.length : this.#typedColumns!);
    const row = this.width !== undefined && end >= this.width ? Math.floor(end / this.width) : 0;
    return this.#top === 0 && this.#undrawnFrom === undefined && this.#cursorRow === row && this.#endRow === row;
  }

  #materialize(): void {
    if (this.#typed === undefined) return;
    this.#chars = Array.from(this.#typed);
    this.#cursor = this.#chars.length;
    this.#typed = undefined;
    this.#typedColumns = undefined;
  }

  #key(name: KeyName): EditResult {
    switch (name) {
      case 'enter':
        return this.#enter();
      case 'interrupt':
        // As shells and MUD clients do: Ctrl-C drops a half-typed line; on an empty one it interrupts.
        if (!this.hasInput) return { echo: '', signal: 'interrupt' };
        return this.#shown(this.#dropLine());
      case 'eof':
        // Like bash: Ctrl-D ends input only on an empty line, elsewhere it deletes.
        if (this.#chars.length === 0) return { echo: '', signal: 'eof' };
        return this.#shown(this.#delete());
      case 'backspace':
        return this.#shown(this.#backspace());
      case 'delete':
        return this.#shown(this.#delete());
      case 'left':
        return this.#shown(this.#moveTo(this.#clusterStartBefore(this.#cursor)));
      case 'right':
        return this.#shown(this.#moveTo(this.#clusterEndAfter(this.#cursor)));
      case 'home':
        return this.#shown(this.#moveTo(0));
      case 'end':
        return this.#shown(this.#moveTo(this.#chars.length));
      case 'up':
        return this.#shown(this.#recall(-1));
      case 'down':
        return this.#shown(this.#recall(1));
      case 'kill-line':
        return this.#shown(this.#replaceLine([]));
      case 'kill-word':
        return this.#shown(this.#erase(this.#wordStartBefore(this.#cursor), this.#cursor));
      default:
        return { echo: '' };
    }
  }

  /** Whether the prompt and the line as drawn fill the terminal's row or more (hidden typing is not drawn). */
  #isWrapped(): boolean {
    if (this.width === undefined || this.echo === 'hidden' || this.echo === 'off') return false;
    return this.#promptColumns + this.#columns(this.#chars) >= this.width;
  }

  /**
   * Draws the line from the first row of it on screen (the terminal's cursor at its start, the
   * rows below cleared) and puts the cursor in place, by rows and columns (linenoise's multi-line
   * refresh). A line ending exactly at the right margin leaves the terminal's cursor in a pending
   * wrap, so a new line is forced there. A line taller than the screen is drawn from the highest
   * row the cursor can still reach (or from its own row, when it went above) and down to its end,
   * or only as far as keeps the cursor on screen; the prompt is drawn when its row is.
   */
  #drawWrapped(): string {
    const screenRows = this.height ?? Number.POSITIVE_INFINITY;
    const { rows, at, end } = this.#placement();
    const promptRow = Math.floor(this.#promptColumns / this.width!);
    let top = Math.min(this.#top, at.row, Math.max(0, end.row - screenRows + 1));
    if (top <= promptRow) top = 0;
    const isEndShown = end.row - at.row < screenRows;
    const bottom = isEndShown ? end.row : Math.max(top + screenRows - 1, at.row);
    let first = 0;
    while (first < rows.length && rows[first]! < top) first++;
    let last = first;
    while (last < rows.length && rows[last]! <= bottom) last++;
    let out = (top === 0 ? this.#prompt : '') + this.#render(this.#chars.slice(first, last));
    if (isEndShown && end.isAtMargin) out += '\r\n';
    this.#top = Math.max(top, bottom - screenRows + 1);
    this.#undrawnFrom = isEndShown ? undefined : last;
    this.#endRow = bottom - this.#top;
    this.#cursorRow = at.row - this.#top;
    out += `${cursorUp(bottom - at.row)}\r${cursorForward(at.column)}`;
    return out;
  }

  /** The line is about to be drawn from a fresh row: nothing of it is on screen. */
  #forgetRows(): void {
    this.#cursorRow = 0;
    this.#endRow = 0;
    this.#top = 0;
    this.#undrawnFrom = undefined;
  }

  /**
   * Where the terminal puts each character after the prompt (its row; a zero-width mark on its
   * base's), and its cursor after the characters before the cursor and after them all: a wide
   * character that does not fit the last column wraps early, leaving it blank.
   */
  #placement(): { rows: number[]; at: ScreenSpot; end: ScreenSpot } {
    const width = this.width!;
    const rows: number[] = [];
    let row = Math.floor(this.#promptColumns / width);
    let column = this.#promptColumns % width;
    let isAtMargin = row > 0 && column === 0;
    let at: ScreenSpot = { row, column, isAtMargin };
    let baseRow = row;
    for (let i = 0; i < this.#chars.length; i++) {
      if (i === this.#cursor) at = { row, column, isAtMargin };
      const columns = this.#width(this.#chars[i]!);
      if (columns === 0) {
        rows.push(baseRow);
        continue;
      }
      if (column + columns > width) {
        row += 1;
        column = 0;
      }
      rows.push(row);
      baseRow = row;
      column += columns;
      isAtMargin = column >= width;
      if (isAtMargin) {
        row += 1;
        column = 0;
      }
    }
    const end = { row, column, isAtMargin };
    return { rows, at: this.#cursor === this.#chars.length ? end : at, end };
  }

  #enter(): EditResult {
    const line = this.buffer;
    if (this.echo === 'on') this.addHistory(line);
    this.clear();
    return { echo: this.echo === 'off' ? '' : '\r\n', line };
  }

  /** Abandons the line: ^C after it, and the prompt again on a fresh row below the whole line. */
  #dropLine(): string {
    const down = cursorDown(this.#endRow - this.#cursorRow);
    this.clear();
    return `${down}^C\r\n${this.#prompt}`;
  }

  #insert(text: string): string {
    const room = this.#maxLineLength - this.#chars.length;
    if (room <= 0) return '';
    // Controls never enter the line: they would act on the terminal when echoed.
    const printable = text.replace(/\p{Cc}/gu, '');
    // A code point is at most two UTF-16 units, so a huge paste is cut before it is split up.
    const inserted = Array.from(printable.slice(0, room * 2)).slice(0, room);
    if (inserted.length === 0) return '';
    const tail = this.#chars.slice(this.#cursor);
    // A mark that joins the character before the cursor is drawn with it: a terminal puts a
    // mark printed after a cursor movement on the cell it last wrote, not on the one it follows.
    const joined =
      tail.length > 0 && this.#cursor > 0 && this.#width(inserted[0]!) === 0
        ? this.#chars.slice(this.#clusterStartBefore(this.#cursor), this.#cursor)
        : [];
    if (this.#chars === EMPTY_LINE) this.#chars = [];
    this.#chars.splice(this.#cursor, 0, ...inserted);
    this.#cursor += inserted.length;
    return (
      cursorBack(this.#columns(joined)) +
      this.#render(joined) +
      this.#render(inserted) +
      this.#render(tail) +
      cursorBack(this.#columns(tail))
    );
  }

  #backspace(): string {
    if (this.#cursor === 0) return '';
    const start = this.#clusterStartBefore(this.#cursor);
    if (this.#cursor === this.#chars.length) {
      const width = this.#columns(this.#chars.slice(start));
      this.#chars.length = start;
      this.#cursor = start;
      return '\b'.repeat(width) + ' '.repeat(width) + '\b'.repeat(width);
    }
    return this.#erase(start, this.#cursor);
  }

  #delete(): string {
    if (this.#cursor === this.#chars.length) return '';
    return this.#erase(this.#cursor, this.#clusterEndAfter(this.#cursor));
  }

  /** Removes chars [start, end) with the cursor at one of the two ends; redraws the tail and blanks the freed columns. */
  #erase(start: number, end: number): string {
    if (start === end) return '';
    const removed = this.#columns(this.#chars.slice(start, end));
    const back = this.#cursor === end ? cursorBack(removed) : '';
    const tail = this.#chars.slice(end);
    this.#chars.splice(start, end - start);
    this.#cursor = start;
    return back + this.#render(tail) + ' '.repeat(removed) + cursorBack(this.#columns(tail) + removed);
  }

  #moveTo(position: number): string {
    const from = this.#cursor;
    this.#cursor = position;
    if (position < from) return cursorBack(this.#columns(this.#chars.slice(position, from)));
    return cursorForward(this.#columns(this.#chars.slice(from, position)));
  }

  /** Steps through history: -1 older, +1 newer; past the newest comes back the line being typed. */
  #recall(step: -1 | 1): string {
    // History is shown only where the user sees what they recall, never into a hidden field.
    if (this.echo !== 'on') return '';
    const history = this.#history;
    const end = history?.end ?? 0;
    const next = (this.#browsing ?? end) + step;
    if (next < (history?.first ?? 0) || next > end) return '';
    if (this.#browsing === null) this.#draft = this.#chars;
    this.#browsing = next === end ? null : next;
    return this.#replaceLine(this.#browsing === null ? this.#draft : Array.from(history!.at(next)!));
  }

  /** Shows a whole new line in place of the current one, cursor at its end. */
  #replaceLine(chars: readonly string[]): string {
    const back = cursorBack(this.#columns(this.#chars.slice(0, this.#cursor)));
    this.#chars = chars.slice(0, this.#maxLineLength);
    this.#cursor = this.#chars.length;
    return back + this.#render(this.#chars) + CLEAR_TO_END;
  }

  /** Start of the character before position, with the zero-width marks that follow it. */
  #clusterStartBefore(position: number): number {
    let start = position - 1;
    while (start > 0 && this.#width(this.#chars[start]!) === 0) start--;
    return Math.max(0, start);
  }

  /** End of the character at position, with the zero-width marks that follow it. */
  #clusterEndAfter(position: number): number {
    let end = Math.min(position + 1, this.#chars.length);
    while (end < this.#chars.length && this.#width(this.#chars[end]!) === 0) end++;
    return end;
  }

  /** Where the word being completed starts: after the last space before the cursor. */
  #completionStart(): number {
    let start = this.#cursor;
    while (start > 0 && !/\s/u.test(this.#chars[start - 1]!)) start--;
    return start;
  }

  /** Like bash's Ctrl-W: back over whitespace, then over the word before it. */
  #wordStartBefore(position: number): number {
    let start = position;
    while (start > 0 && /\s/u.test(this.#chars[start - 1]!)) start--;
    while (start > 0 && !/\s/u.test(this.#chars[start - 1]!)) start--;
    return start;
  }

  #render(chars: string[]): string {
    if (this.echo !== 'mask') return chars.join('');
    return chars.map((char) => (this.#width(char) === 0 ? '' : '*')).join('');
  }

  #columns(chars: string[]): number {
    let columns = 0;
    for (const char of chars) columns += this.#width(char);
    return columns;
  }

  #width(char: string): number {
    const width = characterWidth(char);
    return this.echo === 'mask' ? Math.min(width, 1) : width;
  }

  #shown(echo: string): EditResult {
    return { echo: this.echo === 'off' || this.echo === 'hidden' ? '' : echo };
  }
}

/** Terminal columns taken by one code point: 0 for combining and format marks, 2 for wide and fullwidth. */
function characterWidth(char: string): 0 | 1 | 2 {
  const codePoint = char.codePointAt(0)!;
  // Below the combining diacritics (U+0300) only the soft hyphen is a mark: most text is measured here.
  if (codePoint < 0x300) return codePoint === 0xad ? 0 : 1;
  if (/^[\p{Mn}\p{Me}\p{Cf}]$/u.test(char)) return 0;
  // Hangul Jamo medial vowels and final consonants combine with the syllable before them.
  if (codePoint >= 0x1160 && codePoint <= 0x11ff) return 0;
  return eastAsianWidth(codePoint);
}

/** Whether every character of `text` is printable ASCII, one column on any terminal. */
function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

/** The last prompt measured, by any editor: sessions of one application mostly show the same one. */
let measuredPrompt = '';
let measuredColumns = 0;

/** Columns of a prompt's last row, colour taken out. */
function promptColumns(prompt: string): number {
  if (prompt !== measuredPrompt) {
    measuredColumns = textColumns(prompt.slice(prompt.lastIndexOf('\n') + 1).replace(ANSI_SEQUENCE, ''));
    measuredPrompt = prompt;
  }
  return measuredColumns;
}

/** Columns a piece of plain text takes on a terminal. */
function textColumns(text: string): number {
  let columns = 0;
  for (const char of text) columns += characterWidth(char);
  return columns;
}

function cursorUp(rows: number): string {
  return rows > 0 ? `\x1b[${rows}A` : '';
}

function cursorDown(rows: number): string {
  return rows > 0 ? `\x1b[${rows}B` : '';
}

function cursorBack(columns: number): string {
  return columns > 0 ? `\x1b[${columns}D` : '';
}

function cursorForward(columns: number): string {
  return columns > 0 ? `\x1b[${columns}C` : '';
}

/** The longest start every one of `texts` shares. */
function commonPrefix(texts: readonly string[]): string {
  let prefix = texts[0] ?? '';
  for (const text of texts) {
    while (!text.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix;
}

function count(value: number | undefined, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.max(0, Math.floor(value));
}
