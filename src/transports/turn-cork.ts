// Batching a socket's writes per event-loop turn, so a burst of small writes leaves as one.
import type { Writable } from 'node:stream';

/** What holds output for the rest of a turn. */
export interface TurnBatch {
  /** The turn's work is done: write what was held. */
  endTurn(): void;
}

/** Batches that held output in this turn; one immediate ends them all, not one per socket. */
let batchesThisTurn: TurnBatch[] = [];

function endTurns(): void {
  const batches = batchesThisTurn;
  batchesThisTurn = [];
  for (const batch of batches) batch.endTurn();
}

/**
 * Ends `batch`'s turn after this turn's I/O callbacks and every promise job they started: a
 * reply written in several awaited steps (an echo, the answer, the prompt) leaves in one write.
 * nextTick would end it before the first await had resumed.
 */
export function holdForTurn(batch: TurnBatch): void {
  if (batchesThisTurn.push(batch) === 1) setImmediate(endTurns);
}

/** Corks a socket on the first write of a turn and uncorks it when the turn's work is done. */
export class TurnCork implements TurnBatch {
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
    holdForTurn(this);
    return true;
  }

  endTurn(): void {
    if (!this.#isCorked) return;
    this.#isCorked = false;
    this.#beforeUncork();
    this.#socket.uncork();
  }
}
