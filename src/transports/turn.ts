// Output held for the rest of a turn (a callback and the promise jobs it started), so that a burst of small writes leaves as one.

/** What holds output for the rest of a turn. */
export interface TurnBatch {
  /** The turn's work is done: write what was held. */
  endTurn(): void;
}

/** Batches that held output in this turn; one callback ends them all, not one per socket. */
let batchesThisTurn: TurnBatch[] = [];

function endTurns(): void {
  const batches = batchesThisTurn;
  batchesThisTurn = [];
  for (const batch of batches) batch.endTurn();
}

/** Queued as a promise job: its nextTick runs once the job queue is empty, after every job before and after it. */
function endTurnsAfterPromiseJobs(): void {
  process.nextTick(endTurns);
}

/**
 * Ends `batch`'s turn once the callback that is running (a read, a timer) and every promise job
 * it started are done: a reply written in several awaited steps (an echo, the answer, the
 * prompt) leaves in one write, and leaves as soon as it is complete, not after the other
 * sockets' reads of this event-loop iteration (latency, and the reply's data still in cache).
 * A nextTick queued now would end it before the first await had resumed; one queued from a
 * promise job runs only once the job queue is empty.
 */
export function holdForTurn(batch: TurnBatch): void {
  if (batchesThisTurn.push(batch) === 1) queueMicrotask(endTurnsAfterPromiseJobs);
}
