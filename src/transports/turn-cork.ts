// Batching a socket's writes per event-loop turn, so a burst of small writes leaves as one.
import type { Writable } from 'node:stream';

/** Corks a socket on the first write of a turn and uncorks it when the turn's work is done. */
export class TurnCork {
  #socket: Writable;
  #beforeUncork: () => void;
  #isCorked = false;

  /** `beforeUncork` hands over anything the owner still holds for this turn. */
  constructor(socket: Writable, beforeUncork: () => void = () => undefined) {
    this.#socket = socket;
    this.#beforeUncork = beforeUncork;
  }

  /** Corks for the rest of this turn; returns true for the turn's first write. */
  cork(): boolean {
    if (this.#isCorked) return false;
    this.#isCorked = true;
    this.#socket.cork();
    // nextTick runs after the promise jobs of this turn: every reply to one read is in.
    process.nextTick(this.#uncork);
    return true;
  }

  #uncork = (): void => {
    this.#isCorked = false;
    this.#beforeUncork();
    this.#socket.uncork();
  };
}
