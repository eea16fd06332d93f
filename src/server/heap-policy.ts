// How the launcher's process uses V8's heap: a young generation held small while it starts and
// capped while it serves, and a collection that gives memory back once a burst of sessions is over.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

import { SESSION_COUNT_CHANNEL } from '../hub/session-count.js';

/** Both semi-spaces of the young generation, in bytes, past which it grows no more. */
const YOUNG_GENERATION_CAP = 8 * 1024 * 1024;

const holdYoungGeneration = (): void => setFlagsFromString('--semi-space-growth-factor=1');

// A new thread's isolate (the config's worker, tsx's module hooks) puts the factor back to V8's minimum of 2.
const holdAgainOnline = (message: unknown): void => {
  (message as { worker: Worker }).worker.once('online', holdYoungGeneration);
};

/** Holds the young generation at its size, in this thread and in threads started from now on. */
export function holdYoungGenerationInEveryThread(): void {
  holdYoungGeneration();
  subscribe('worker_threads', holdAgainOnline);
}

let growing: PerformanceObserver | undefined;

const youngGenerationSize = (): number =>
  getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? YOUNG_GENERATION_CAP;

/**
 * Lets the young generation grow, V8's way, until it reaches the cap; then holds it there.
 * Called again whenever it is found shrunk (see regrowYoungGenerationAfterShrinks).
 */
export function growYoungGenerationToCap(): void {
  if (growing !== undefined) return;
  unsubscribe('worker_threads', holdAgainOnline);
  setFlagsFromString('--semi-space-growth-factor=2');
  const observer = new PerformanceObserver(() => {
    if (youngGenerationSize() < YOUNG_GENERATION_CAP) return;
    observer.disconnect();
    growing = undefined;
    holdYoungGenerationInEveryThread();
  });
  growing = observer;
  observer.observe({ entryTypes: ['gc'] });
}

/** How often the young generation's size is looked at; idle, it cannot have shrunk much sooner. */
const SHRINK_CHECK_MS = 1000;

/**
 * V8 shrinks the young generation at a full collection when little is being allocated (an idle
 * spell, or our memory reducer's collection) and, held at its size, it would never grow back:
 * a launcher that had sat idle for some seconds then served every later load with a young
 * generation of 1 MB, four times the scavenges, 5% to 35% fewer round trips. Looked at once a
 * second, a shrunk one may grow with the load again (an idle one stays small: V8 grows it only
 * when its collections find much alive). A timer, not a GC observer: that would cost a callback
 * at every scavenge, hundreds a second under load.
 */
export function regrowYoungGenerationAfterShrinks(intervalMs = SHRINK_CHECK_MS): NodeJS.Timeout {
  const timer = setInterval(() => {
    if (growing === undefined && youngGenerationSize() < YOUNG_GENERATION_CAP) growYoungGenerationToCap();
  }, intervalMs);
  timer.unref();
  return timer;
}

/** Sessions alive, at least, for a collection to be worth what it costs (see MemoryReducer). */
const MIN_SESSIONS = 1000;
/** No session started or ended for this long: the burst is over. */
const QUIET_MS = 100;
/** The spell over which the process must have been idle, longer than a pause between a client's lines. */
const IDLE_WINDOW_MS = 500;
/** Busy for less than this share of the idle window: the sessions are idle too. */
const IDLE_UTILIZATION = 0.1;
/**
 * Busy windows in a row after which the sessions are taken to be at work, not finishing the
 * burst: 1.5 s, longer than a burst's tail of welcomes and negotiation.
 */
const WORKING_WINDOWS = 3;

/** Starts measuring the event loop's utilization; the function returned gives it since then, 0 to 1. */
export type UtilizationMeter = () => () => number;

const eventLoopUtilization: UtilizationMeter = () => {
  const start = performance.eventLoopUtilization();
  return () => performance.eventLoopUtilization(start).utilization;
};

export interface MemoryReducerOptions {
  /** A full collection that compacts the heap and gives freed pages back to the system. */
  collect: () => Promise<void>;
  quietMs?: number;
  idleWindowMs?: number;
  utilization?: UtilizationMeter;
  now?: () => number;
}

/**
 * Collects once a burst of sessions is over, on a server holding many. Connecting makes garbage
 * that outlives the young generation's collections and so reaches the old generation, where V8
 * leaves it until that generation fills: after 5,000 connections, some 1.5 KB a session,
 * resident for good on a server whose sessions then sit idle. V8's own memory reducer acts only
 * after a full collection has happened, and seconds later.
 *
 * The collection is dear: it pauses the process (two compacting collections, some 50 ms for a
 * heap of 30 MB), and V8 drops its optimized code with it, which the next seconds of work compile
 * again (an SSH connect's code took 5 to 9 s). So it runs only with at least MIN_SESSIONS alive
 * (fewer hold little garbage among them), when the sessions that came and went since the last one
 * are at least a quarter of those alive, which keeps its cost per session flat however many are
 * connected, and only once the process has been idle for IDLE_WINDOW_MS: the end of a burst of
 * connects is not the end of the work, and 1,000 sessions busy with lines, none starting or
 * ending, had their code thrown away under them (a launcher's SSH connects fell from 1.1x of raw
 * ssh2 to 0.82x to 0.97x after its other transports served 500 clients each). Nor is a lull in
 * their work its end, so sessions found at work for WORKING_WINDOWS windows in a row are left
 * alone until a session starts or ends. Collected in such a lull (1,000 sessions a load generator
 * left waiting while it drove another server), a launcher's SSH connects ran at 0.87x to 0.94x of
 * raw ssh2 20 s later and 0.97x to 1.06x 40 s later, where they ran at 1.2x. Idle sessions after
 * a burst still pay that for their memory.
 */
export class MemoryReducer {
  readonly #collect: () => Promise<void>;
  readonly #quietMs: number;
  readonly #now: () => number;
  readonly #idleWindowMs: number;
  readonly #utilization: UtilizationMeter;
  #churn = 0;
  #sessions = 0;
  #lastChange = 0;
  /** Idle windows the sessions kept busy since the last session started or ended. */
  #busyWindows = 0;
  /** A timer is out to look for quiet. */
  #isWaiting = false;
  #isCollecting = false;

  constructor(options: MemoryReducerOptions) {
    this.#collect = options.collect;
    this.#quietMs = options.quietMs ?? QUIET_MS;
    this.#now = options.now ?? Date.now;
    this.#idleWindowMs = options.idleWindowMs ?? IDLE_WINDOW_MS;
    this.#utilization = options.utilization ?? eventLoopUtilization;
  }

  /** A session started or ended; `sessions` are the ones alive now. */
  sessionCountChanged(sessions: number): void {
    this.#churn++;
    this.#sessions = sessions;
    this.#lastChange = this.#now();
    this.#busyWindows = 0;
    // One timer for the whole burst: each change only moves the moment it looks for quiet.
    if (!this.#isWaiting) this.#wait(this.#quietMs);
  }

  #wait(ms: number): void {
    this.#isWaiting = true;
    setTimeout(() => this.#check(), ms).unref();
  }

  #check(): void {
    this.#isWaiting = false;
    const quiet = this.#now() - this.#lastChange;
    if (quiet < this.#quietMs) {
      this.#wait(this.#quietMs - quiet);
      return;
    }
    if (!this.#isDue()) return;
    // Then the whole process must stay idle for a window; busy, it is measured again while due
    // (see WORKING_WINDOWS).
    this.#isWaiting = true;
    const utilization = this.#utilization();
    setTimeout(() => {
      this.#isWaiting = false;
      const isQuiet = this.#now() - this.#lastChange >= this.#quietMs;
      const isBusy = utilization() >= IDLE_UTILIZATION;
      // Left alone at work: the next session to start or end looks again.
      if (isQuiet && isBusy && ++this.#busyWindows >= WORKING_WINDOWS) return;
      if (!isQuiet || isBusy || !this.#isDue()) {
        this.#check();
        return;
      }
      this.#churn = 0;
      this.#isCollecting = true;
      void this.#collect()
        .catch(() => undefined)
        .finally(() => (this.#isCollecting = false));
    }, this.#idleWindowMs).unref();
  }

  /**
   * Too little churn, or too few sessions, is not worth a collection: the churn adds up, and the
   * next burst's end looks again.
   */
  #isDue(): boolean {
    return !this.#isCollecting && this.#sessions >= MIN_SESSIONS && this.#churn >= this.#sessions / 4;
  }
}

/**
 * The collection DevTools' "collect garbage" runs: full, compacting, and shrinking the young
 * generation to its least, through an inspector session inside this process.
 */
export async function collectAllGarbage(): Promise<void> {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  try {
    await new Promise<void>((resolve, reject) =>
      session.post('HeapProfiler.collectGarbage', (err) => (err === null ? resolve() : reject(err))),
    );
  } finally {
    // Disconnecting inside post's callback never returns (Node 20): the promise's job is later.
    session.disconnect();
  }
}

/**
 * Runs a MemoryReducer on the sessions every hub of this process reports. Its collection shrinks
 * the young generation to its least, which regrowYoungGenerationAfterShrinks lets grow again.
 */
export function reduceMemoryAfterBursts(): MemoryReducer {
  const reducer = new MemoryReducer({ collect: collectAllGarbage });
  subscribe(SESSION_COUNT_CHANNEL, (sessions) => reducer.sessionCountChanged(sessions as number));
  return reducer;
}
