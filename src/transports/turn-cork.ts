// Batching a socket's writes per event-loop turn, so a burst of small writes leaves as one.
import type { Writable } from 'node:stream';

/** Corks for this turn; one immediate uncorks every socket corked in it, not one per socket. */
let corkedThisTurn: TurnCork[] = [];

function uncorkAll(): void {
  const corked = corkedThisTurn;
  corkedThisTurn = [];
  for (const cork of corked) cork.uncork();
}

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
    // After this turn's I/O callbacks and every promise job they started: a reply written in
    // several awaited steps (an echo, the answer, the prompt) leaves in one write. nextTick
    // would uncork before the first await had resumed.
    if (corkedThisTurn.push(this) === 1) setImmediate(uncorkAll);
    return true;
  }

  /** Ends this turn's batch: what was held is written. */
  uncork(): void {
    if (!this.#isCorked) return;
    this.#isCorked = false;
    this.#beforeUncork();
    this.#socket.uncork();
  }
}
