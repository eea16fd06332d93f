// Output held for the rest of an event-loop turn, so that a burst of small writes leaves as one.

/** What holds output for the rest of a turn. */
export interface TurnBatch {
  /** The turn's work is done: write what was held. */
  endTurn(): void;
}

/**
 * Batches that held output in this turn (the first `heldCount`), ended by one immediate, not one
 * per socket. Two lists take turns rather than a new one per turn, which its first push would
 * grow to 17 slots: an allocation per round trip where one client talks at a time.
 */
let held: Array<TurnBatch | undefined> = [];
let heldCount = 0;
let ending: Array<TurnBatch | undefined> = [];

function endTurns(): void {
  const batches = held;
  const count = heldCount;
  // Batches held while these end (an endTurn that writes more) wait in the other list for the next turn.
  held = ending;
  heldCount = 0;
  ending = batches;
  for (let i = 0; i < count; i++) {
    const batch = batches[i]!;
    batches[i] = undefined;
    batch.endTurn();
  }
}

/**
 * Ends `batch`'s turn after this turn's I/O callbacks and every promise job they started: a
 * reply written in several awaited steps (an echo, the answer, the prompt) leaves in one write.
 * nextTick would end it before the first await had resumed.
 */
export function holdForTurn(batch: TurnBatch): void {
  held[heldCount++] = batch;
  if (heldCount === 1) setImmediate(endTurns);
}
