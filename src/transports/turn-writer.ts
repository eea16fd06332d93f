// A byte stream's writes batched per event-loop turn: text joined into one string, the stream
// corked until the turn's work is done, and one drain promise shared by every waiting writer.
import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';

import { READY } from './connection.js';
import { TurnCork } from './turn-cork.js';

/** Text joined beyond this many characters goes to the stream at once (and may wait for drain). */
const TEXT_BATCH_LIMIT = 64 * 1024;

export class TurnWriter {
  readonly #stream: Writable;
  /** What ends the wait for a drain that will never come: the stream's socket closing. */
  readonly #closer: EventEmitter;
  readonly #cork: TurnCork;
  /** Text written in this turn, not yet handed to the stream. */
  #text = '';
  /** One promise for every writer waiting on the same drain: no listener per write. */
  #drained: Promise<void> | undefined;

  constructor(stream: Writable, closer: EventEmitter = stream) {
    this.#stream = stream;
    this.#closer = closer;
    this.#cork = new TurnCork(stream, () => this.flush());
  }

  /** Marks a write in this turn; true for the turn's first, when output from earlier turns can be judged. */
  startTurn(): boolean {
    return this.#cork.cork();
  }

  /** Writes `data` after any text of this turn; resolves once the stream is ready for more. */
  write(data: Uint8Array | string): Promise<void> {
    if (typeof data === 'string') {
      this.#text += data;
      if (this.#text.length < TEXT_BATCH_LIMIT) return READY;
      return this.#send(this.#takeText());
    }
    this.flush();
    return this.#send(data);
  }

  /** Hands this turn's text to the stream now (before it ends, say). */
  flush(): void {
    if (this.#text !== '' && this.#stream.writable) this.#stream.write(this.#takeText());
  }

  #send(data: Uint8Array | string): Promise<void> {
    if (this.#stream.write(data)) return READY;
    this.#drained ??= new Promise((resolve) => {
      const done = (): void => {
        this.#stream.off('drain', done);
        this.#closer.off('close', done);
        this.#drained = undefined;
        resolve();
      };
      this.#stream.on('drain', done);
      this.#closer.on('close', done);
    });
    return this.#drained;
  }

  #takeText(): string {
    const text = this.#text;
    this.#text = '';
    return text;
  }
}
