// Output held for the rest of an event-loop turn, so that a burst of small writes leaves as one.

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
