// A session's output: text, prompts and echo to the connection, with output that arrives
// while a prompt is on screen printed above it and the prompt drawn again below.
import type { SessionEvents } from '../hub/events.js';
import { READY } from '../transports/connection.js';
import type { Connection } from '../transports/connection.js';
import { holdForTurn } from '../transports/turn.js';
import type { TurnBatch } from '../transports/turn.js';
import { toCrlf } from './layer.js';
import type { SessionLayer } from './layer.js';
import type { LineEditor } from './line-editor.js';

/**
 * Characters of output kept for a client that lost its connection, newest last; older output
 * goes first. Enough for a few screens of a chat or a game, small enough for many waiting sessions.
 */
export const REPLAY_LIMIT = 64 * 1024;
const REPLAY_CUT_NOTICE = '[Some output was lost while you were away]\n';
/**
 * Characters of a turn's output past which it is published at once, not at the turn's end: a
 * burst reaches watchers and recordings in pieces of about this size, not in one that size.
 */
export const PUBLISH_LIMIT = 4096;

/** Output kept while no connection carries it: text is newline-converted on replay, raw output is not. */
interface Kept {
  data: Uint8Array | string;
  isRaw: boolean;
}

/**
 * Writes one session's output and keeps track of what its screen shows. Output reaches the event
 * stream once per event-loop turn, everything the turn wrote in one event: a reply written in
 * several steps (the answer, the prompt) or a burst of lines costs its watchers one event.
 */
export class SessionOutput implements TurnBatch {
  /** Set once the session is closing: later writes are dropped. */
  isClosed = false;
  readonly #sessionId: string;
  #connection: Connection;
  #layer: SessionLayer;
  readonly #editor: LineEditor;
  readonly #events: SessionEvents;
  /** The prompt is the last thing on screen: the user has not pressed Enter since it was shown. */
  #isPromptShown = false;
  /** Output since the connection dropped, while the session waits to be resumed; undefined while connected. */
  #kept: Kept[] | undefined;
  #keptLength = 0;
  #isKeptCut = false;
  /** Output written in this turn and not yet published. */
  #unpublished = '';

  constructor(
    sessionId: string,
    connection: Connection,
    layer: SessionLayer,
    editor: LineEditor,
    events: SessionEvents,
  ) {
    this.#sessionId = sessionId;
    this.#connection = connection;
    this.#layer = layer;
    this.#editor = editor;
    this.#events = events;
  }

  /** The connection is gone but the session waits for its client: output is kept, up to REPLAY_LIMIT. */
  detach(): void {
    this.#kept = [];
    this.#keptLength = 0;
    this.#isKeptCut = false;
  }

  /** Carries on over `connection`, sending first what was kept while there was none. */
  attach(connection: Connection, layer: SessionLayer): Promise<void> {
    this.#connection = connection;
    this.#layer = layer;
    const kept = this.#kept ?? [];
    const isCut = this.#isKeptCut;
    this.#kept = undefined;
    if (isCut) void connection.write(layer.encodeText(REPLAY_CUT_NOTICE));
    let written = READY;
    for (const { data, isRaw } of kept) {
      written = connection.write(isRaw ? layer.encodeRaw(data) : layer.encodeText(data as string));
    }
    return written;
  }

  /**
   * Sends text. A complete line that arrives while the prompt (and maybe a half-typed line) is
   * on screen starts on its own line, and the prompt and typing are drawn again below it.
   * `isLast`: nothing follows (a goodbye), so nothing is drawn again.
   */
  write(text: string, isLast = false): Promise<void> {
    if (this.isClosed) return READY;
    let out = text;
    if (text.endsWith('\n') && this.#isOverPrompt()) {
      out = this.#above(text, isLast);
    } else {
      this.#isPromptShown = false;
    }
    return this.#send(out);
  }

  /** Sends `text` and a line end, as write(text + '\n') would. */
  writeLine(text: string, isLast = false): Promise<void> {
    // A line with no line end of its own goes out with CR LF after it as it is: nothing to convert or copy.
    if (text.indexOf('\n') !== -1 || text.indexOf('\r') !== -1) return this.write(`${text}\n`, isLast);
    if (this.isClosed) return READY;
    const line = `${text}\r\n`;
    if (this.#isOverPrompt()) return this.#send(this.#above(line, isLast));
    this.#isPromptShown = false;
    return this.#send(line, true);
  }

  /** Whether the prompt is the last thing on screen: the user has not pressed Enter since it was shown. */
  get isPromptShown(): boolean {
    return this.#isPromptShown;
  }

  /** Sends a prompt, remembered so that it can be redrawn, and marks it (telnet GA/EOR). */
  writePrompt(prompt: string): Promise<void> {
    this.#editor.prompt = prompt;
    if (this.isClosed) return READY;
    // A new prompt while a line is being typed replaces the old prompt in front of it.
    const out =
      this.#isServerDrawing() && this.#editor.hasInput ? this.#editor.erase() + this.#editor.redraw() : prompt;
    this.#isPromptShown = true;
    const sent = this.#send(out);
    // The mark follows the prompt once it is taken: at once, unless the client is behind.
    return sent === READY ? this.markPrompt() : sent.then(() => this.markPrompt());
  }

  /** Sends bytes or text as they are (only protocol escaping applied). */
  writeRaw(data: Uint8Array | string): Promise<void> {
    if (this.isClosed) return READY;
    this.#isPromptShown = false;
    if (this.#events.has('output')) this.#publish(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
    if (this.#kept !== undefined) return this.#keep(data, true);
    return this.#connection.write(this.#layer.encodeRaw(data));
  }

  /** Marks the end of a prompt for clients that want it (telnet GA/EOR). */
  markPrompt(): Promise<void> {
    if (this.isClosed || this.#kept !== undefined) return READY;
    const mark = this.#layer.promptMark();
    return mark === undefined ? READY : this.#connection.write(mark);
  }

  /** Sends what the line editor draws in answer to a key; `isCrlf` as for SessionLayer.encodeText. */
  echo(text: string, isCrlf = false): void {
    if (text !== '') void this.#send(text, isCrlf);
  }

  /** The user ended the line on screen (Enter, Ctrl-C): the prompt is no longer the last thing there. */
  lineEnded(): void {
    this.#isPromptShown = false;
  }

  /**
   * A question was withdrawn (readLine gave up): whatever follows starts on a new line, and the
   * half-typed answer is dropped.
   */
  abandonPrompt(): void {
    if (!this.#isPromptShown) return;
    this.#isPromptShown = false;
    this.#editor.clear();
    void this.#send('\n');
  }

  /** `isCrlf`: the text's only line ends are CR LF already (see SessionLayer.encodeText). */
  #send(text: string, isCrlf = false): Promise<void> {
    let out = text;
    let isOutCrlf = isCrlf;
    if (this.#events.has('output')) {
      if (!isCrlf) {
        out = toCrlf(text);
        // Without a CR of its own, the text's line ends are now all CR LF: the layer need not
        // scan and copy it again (a telnet layer turns a lone CR into CR NUL, so one with a CR does).
        isOutCrlf = text.indexOf('\r') === -1;
      }
      this.#publish(out);
    }
    if (this.#kept !== undefined) return this.#keep(out, false);
    return this.#connection.write(this.#layer.encodeText(out, isOutCrlf));
  }

  /** The turn is over: its output goes to the event stream. */
  endTurn(): void {
    this.publishPending();
  }

  /** Publishes the output this turn has written so far, ahead of an event that must come after it. */
  publishPending(): void {
    const text = this.#unpublished;
    if (text === '') return;
    this.#unpublished = '';
    this.#events.publish('output', { sessionId: this.#sessionId, text });
  }

  #publish(text: string): void {
    if (text === '') return;
    if (this.#unpublished === '') holdForTurn(this);
    this.#unpublished += text;
    if (this.#unpublished.length >= PUBLISH_LIMIT) this.publishPending();
  }

  #keep(data: Uint8Array | string, isRaw: boolean): Promise<void> {
    const kept = this.#kept!;
    kept.push({ data, isRaw });
    this.#keptLength += data.length;
    while (this.#keptLength > REPLAY_LIMIT && kept.length > 1) {
      this.#keptLength -= kept.shift()!.data.length;
      this.#isKeptCut = true;
    }
    const [only] = kept;
    if (this.#keptLength > REPLAY_LIMIT && only !== undefined) {
      only.data = typeof only.data === 'string' ? only.data.slice(-REPLAY_LIMIT) : only.data.subarray(-REPLAY_LIMIT);
      this.#keptLength = only.data.length;
      this.#isKeptCut = true;
    }
    return READY;
  }

  /** `text` printed above the prompt and the line being typed, which are then drawn again. */
  #above(text: string, isLast: boolean): string {
    if (this.#isServerDrawing()) {
      if (isLast) this.#isPromptShown = false;
      return this.#editor.erase() + text + (isLast ? '' : this.#editor.redraw());
    }
    // The client draws its own line, so we cannot erase it: at least start on a new line.
    if (!isLast) return `\n${text}${this.#editor.prompt}`;
    this.#isPromptShown = false;
    return `\n${text}`;
  }

  /** Whether a line written now goes above a prompt or a half-typed line, which are then drawn again. */
  #isOverPrompt(): boolean {
    return this.#isPromptShown || (this.#isServerDrawing() && this.#editor.hasInput);
  }

  /** Whether the server draws the user's line (character mode, or a hidden or masked answer). */
  #isServerDrawing(): boolean {
    return this.#editor.echo !== 'off';
  }
}
