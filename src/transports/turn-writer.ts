// A byte stream's writes batched per event-loop turn: text joined into one string and written
// once the turn's work is done, and one drain promise shared by every waiting writer.
import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';

import { READY } from './connection.js';
import { holdForTurn } from './turn.js';
import type { TurnBatch } from './turn.js';

/** Output held beyond this many characters or bytes goes to the stream at once. */
const HELD_LIMIT = 64 * 1024;
/**
 * A turn that wrote bytes as well as text (a prompt and its telnet mark, the negotiation and a
 * welcome) sends them gathered in one buffer up to this many bytes, text as UTF-8: one plain
 * write, where larger pieces go together (a Writable's writev). Node's pool serves buffers below 4 KiB.
 */
const GATHER_LIMIT = 4095;

/** Where a TurnWriter sends what a turn held: a Writable (StreamSink), or a socket's handle. */
export interface TurnSink {
  /** False once the sink takes no more output. */
  readonly writable: boolean;
  /** Whether output from earlier writes waits past what the sink holds without a drain. */
  readonly writableNeedDrain: boolean;
  /** Bytes written that the kernel has not taken yet: a client that stops reading makes them pile up. */
  readonly pendingBytes: number;
  /** Sends `data` (text as UTF-8); false where the sink now wants a drain. */
  send(data: Uint8Array | string): boolean;
  /** Sends the pieces, in order, together where the sink can; false where it now wants a drain. */
  sendAll(pieces: ReadonlyArray<Uint8Array | string>): boolean;
  /** Resolves once the sink has drained, or closed: a drain that will never come. */
  drained(): Promise<void>;
}

/** A Writable as a TurnSink. */
export class StreamSink implements TurnSink {
  readonly #stream: Writable;
  /** What ends the wait for a drain that will never come: the stream's socket closing. */
  readonly #closer: EventEmitter;

  constructor(stream: Writable, closer: EventEmitter = stream) {
    this.#stream = stream;
    this.#closer = closer;
  }

  get writable(): boolean {
    return this.#stream.writable;
  }

  get writableNeedDrain(): boolean {
    return this.#stream.writableNeedDrain;
  }

  get pendingBytes(): number {
    return this.#stream.writableLength;
  }

  send(data: Uint8Array | string): boolean {
    return this.#stream.write(data);
  }

  sendAll(pieces: ReadonlyArray<Uint8Array | string>): boolean {
    // Corked, the pieces leave in one writev.
    const stream = this.#stream;
    stream.cork();
    for (const piece of pieces) stream.write(piece);
    stream.uncork();
    return !stream.writableNeedDrain;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#stream.off('drain', done);
        this.#closer.off('close', done);
        resolve();
      };
      this.#stream.on('drain', done);
      this.#closer.on('close', done);
    });
  }
}

export class TurnWriter implements TurnBatch {
  readonly #sink: TurnSink;
  #isInTurn = false;
  /** Text written in this turn since the last bytes, not yet handed to the stream. */
  #text = '';
  /**
   * What this turn wrote before `#text`, in order, where it wrote bytes too; undefined while it
   * wrote text only, the usual case, which then leaves as one string and needs no cork.
   */
  #pieces: Array<Uint8Array | string> | undefined;
  #piecesLength = 0;
  /** One promise for every writer waiting on the same drain: no listener per write. */
  #drained: Promise<void> | undefined;
  /**
   * Whether the stream wants a drain, as it said at the turn's first write or at the last flush:
   * only a write to it or a drain (in a later turn) changes that, and a turn writes many pieces.
   */
  #needsDrain = false;

  constructor(sink: TurnSink) {
    this.#sink = sink;
  }

  /**
   * Whether this turn has written: its first write judged the output left from earlier turns, and
   * what it found holds for the rest of the turn.
   */
  get isInTurn(): boolean {
    return this.#isInTurn;
  }

  /** Marks the turn's first write (see isInTurn). */
  startTurn(): void {
    if (this.#isInTurn) return;
    this.#isInTurn = true;
    this.#needsDrain = this.#sink.writableNeedDrain;
    holdForTurn(this);
  }

  /** Holds `data` for the end of the turn (startTurn was called in it); resolves once the stream is ready for more. */
  write(data: Uint8Array | string): Promise<void> {
    if (typeof data === 'string') {
      this.#text += data;
    } else {
      const pieces = (this.#pieces ??= []);
      if (this.#text !== '') {
        this.#piecesLength += this.#text.length;
        pieces.push(this.#takeText());
      }
      pieces.push(data);
      this.#piecesLength += data.length;
    }
    if (this.#piecesLength + this.#text.length >= HELD_LIMIT) this.flush();
    return this.#needsDrain ? this.#drain() : READY;
  }

  endTurn(): void {
    this.#isInTurn = false;
    this.flush();
  }

  /** Hands what this turn wrote to the stream now (before it ends, say). */
  flush(): void {
    const pieces = this.#pieces;
    // Nothing held (a turn whose output already left at the end of its read): the stream, cold
    // by now among hundreds of sockets, is not touched.
    if (pieces === undefined && this.#text === '') return;
    const text = this.#takeText();
    this.#pieces = undefined;
    this.#piecesLength = 0;
    const sink = this.#sink;
    if (!sink.writable) return;
    if (pieces === undefined) {
      if (text !== '') this.#needsDrain = !sink.send(text);
      return;
    }
    if (text !== '') pieces.push(text);
    if (pieces.length === 1) {
      this.#needsDrain = !sink.send(pieces[0]!);
      return;
    }
    const gathered = gather(pieces);
    this.#needsDrain = gathered === undefined ? !sink.sendAll(pieces) : !sink.send(gathered);
  }

  #drain(): Promise<void> {
    this.#drained ??= this.#sink.drained().then(() => {
      this.#drained = undefined;
      // Drained (or closed), the stream wants no other drain until a write fills it again: a
      // write later in this turn waiting for one would wait for good.
      this.#needsDrain = false;
    });
    return this.#drained;
  }

  #takeText(): string {
    const text = this.#text;
    this.#text = '';
    return text;
  }
}

/** `pieces` in one buffer, text as UTF-8; undefined where that takes GATHER_LIMIT bytes or more. */
function gather(pieces: ReadonlyArray<Uint8Array | string>): Buffer | undefined {
  let size = 0;
  for (const piece of pieces) {
    // A string's UTF-8 is at least as long as the string: a long one is not measured.
    if (typeof piece !== 'string') size += piece.length;
    else size += piece.length >= GATHER_LIMIT ? GATHER_LIMIT : Buffer.byteLength(piece);
    if (size >= GATHER_LIMIT) return undefined;
  }
  const gathered = Buffer.allocUnsafe(size);
  let at = 0;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      at += gathered.write(piece, at);
    } else {
      gathered.set(piece, at);
      at += piece.length;
    }
  }
  return gathered;
}
