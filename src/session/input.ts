// A session's input discipline: keys in order to the handler, completed lines to a waiting
// readLine or to processLine, and the socket paused while either queue is backed up.
import { ReadLineTimeoutError, SessionClosedError } from '../errors.js';
import type { Connection } from '../transports/connection.js';
import { lineTokens } from './key-reader.js';
import type { InputToken } from './key-reader.js';

/** Keys or lines queued beyond these pause reading from the socket until the handler catches up. */
const TOKENS_HIGH_WATER = 1024;
const LINES_HIGH_WATER = 64;
/**
 * Bytes read into keys at a time, and only while fewer keys than this wait: a flood is held as
 * the bytes it came in (what the socket had read already), not as thousands of key objects.
 */
const DECODE_SLICE = 4096;
const TOKENS_LOW_WATER = 256;
/**
 * Keys (or lines) one session hands its handler in one turn of the event loop; then it lets
 * every other session and socket have theirs. A flood from one client never holds up the rest:
 * a handler that answers at once would otherwise run through a whole backlog in one turn.
 */
const INPUT_BUDGET = 64;

/** What the input discipline calls out to; every call may be handler code. */
export interface InputTargets {
  /** Reads bytes from the connection into keys and text (the protocol layer); `isLast`: no more are waiting. */
  decode(bytes: Uint8Array, isLast: boolean): InputToken[];
  /**
   * Reads bytes that are whole lines and nothing else straight into lines, where that is just
   * what decoding and editing them would give; undefined, with nothing read, otherwise.
   */
  readLines(bytes: Uint8Array): string[] | undefined;
  /**
   * Shows a line read whole as typing it and Enter would (the echo), true; false, with nothing
   * shown, where it must be typed key by key.
   */
  typeLine(line: string, isOneOfMany: boolean): boolean;
  /** The lines of a read given to typeLine with isOneOfMany have been typed, as far as they could be. */
  linesTyped(): void;
  /** Hands one key or text run to the handler; false (or a rejection) ends the session. */
  receive(token: InputToken): boolean | Promise<boolean>;
  /** Hands a completed line that no readLine waits for to the handler; false (or a rejection) ends the session. */
  processLine(line: string): boolean | Promise<boolean>;
  /** A handler call threw synchronously; resolves to whether to go on (it never does). */
  caught(err: unknown): false;
  /** Ends the session after the handler asked to. */
  end(): Promise<void>;
  /** The client's input has ended (endOfInput) and all of it has been handled: the session is over. */
  inputDone(): void;
}

/** Options of one wait for a line. */
export interface LineWait {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** Resumes the lines where processLine returned a promise: made once per session, not per line. */
interface LineResumption {
  /** What is left of this turn's budget when the promise settles. */
  budget: number;
  settled(keepOpen: unknown): void;
  failed(err: unknown): void;
}

/**
 * The queues of a session that has queued nothing, shared: most sessions never queue a read or a
 * line, and an empty list of their own would cost each 32 bytes. Frozen, so that a push into the
 * shared one fails loudly; each queue is made at its first push.
 */
const NOTHING_QUEUED: never[] = Object.freeze([]) as never[];

/** Orders one session's input between the socket and the handler. */
export class SessionInput {
  /** Set once the session is closing: queued input is dropped. */
  isClosed = false;
  #connection: Connection;
  readonly #targets: InputTargets;
  /** Bytes received and not yet read into keys, oldest first. */
  #bytes: Uint8Array[] = NOTHING_QUEUED;
  #tokens: InputToken[] = NOTHING_QUEUED;
  #tokenHead = 0;
  #isPumping = false;
  #isPaused = false;
  #lines: string[] = NOTHING_QUEUED;
  /** A line has been queued since the queue last gave back its backing store. */
  #hasQueuedLines = false;
  /** processLine is running (or held back while onConnect runs): new lines queue behind it. */
  #isProcessingLines = false;
  #lineWaiter: { resolve(line: string): void; reject(err: unknown): void } | undefined;
  /** A key just answered a readLine: the handler goes on (to hide the next answer, say) before more keys. */
  #hasAnswered = false;
  /** processLine is running for a line. */
  #isRunningLine = false;
  /** Waiting for every line submitted so far to be handled; made by the first to wait, as few ever do. */
  #handledWaiters: Array<() => void> | undefined;
  #lineResumption: LineResumption | undefined;
  /** The client sends no more: once what it sent is handled, the session ends. */
  #isInputEnded = false;

  constructor(connection: Connection, targets: InputTargets) {
    this.#connection = connection;
    this.#targets = targets;
  }

  /** Reads from `connection` from now on (a resumed session), paused as the old one was. */
  attach(connection: Connection): void {
    this.#connection = connection;
    if (this.#isPaused) connection.pause();
  }

  /**
   * Everything read so far has been handled, with nothing awaited: no line or key still with the
   * handler behind a promise, no readLine just answered (its caller goes on in a promise job).
   * The output that input called for has then all been written.
   */
  get isSettled(): boolean {
    return !this.#isProcessingLines && !this.#isPumping && !this.#hasAnswered && this.#bytes.length === 0;
  }

  /** Holds completed lines back (while onConnect runs) or lets them flow to processLine. */
  holdLines(isHeld: boolean): void {
    this.#isProcessingLines = isHeld;
    if (isHeld) return;
    if (this.#lines.length > 0) this.#processLines();
    else this.#endIfInputDone();
  }

  /**
   * The client sends nothing more (a half-close). Its keys and lines are handled as ever; once
   * the last is, or the handler waits for a line that cannot come, the session ends (inputDone).
   * A line left unfinished, without its Enter, is not one.
   */
  endOfInput(): void {
    if (this.#isInputEnded) return;
    this.#isInputEnded = true;
    this.#endIfInputDone();
  }

  /** Tells the session, once its input has ended, that nothing is left for the handler to do with it. */
  #endIfInputDone(): void {
    if (!this.#isInputEnded || this.isClosed) return;
    if (this.#bytes.length > 0 || this.#tokenHead < this.#tokens.length || this.#lines.length > 0) return;
    // A readLine waits for more that cannot come; else the handler must be done with every key and line.
    if (this.#lineWaiter === undefined && (this.#isProcessingLines || this.#isPumping)) return;
    this.#isInputEnded = false;
    this.#targets.inputDone();
  }

  /** Queues bytes from the connection, read into keys as the handler takes them. */
  receive(bytes: Uint8Array): void {
    if (this.isClosed) return;
    if (this.#bytes.length === 0 && bytes.length <= DECODE_SLICE && this.#canDecode()) {
      // Nothing waits ahead of this read, the common case: read at once, never queued (a push
      // into the emptied queue would reserve it 17 slots, a read at a time).
      this.#decodeSlice(bytes, true);
      this.#decoded();
      return;
    }
    if (this.#bytes === NOTHING_QUEUED) this.#bytes = [];
    // A copy: the connection may lend bytes that its next read overwrites.
    this.#bytes.push(new Uint8Array(bytes));
    this.#decode();
  }

  /** Queues keys and text that need no decoding (a lone Escape the layer let go of). */
  enqueue(tokens: InputToken[]): void {
    if (tokens.length === 0 || this.isClosed) return;
    this.#queueTokens(tokens);
    this.#updateFlow();
    if (!this.#isPumping) this.#pump();
  }

  /** Reads waiting bytes into keys, a slice at a time, while few keys and lines wait. */
  #decode(): void {
    while (this.#bytes.length > 0 && this.#canDecode()) {
      const bytes = this.#bytes[0]!;
      let slice = bytes;
      if (bytes.length > DECODE_SLICE) {
        slice = bytes.subarray(0, DECODE_SLICE);
        this.#bytes[0] = bytes.subarray(DECODE_SLICE);
      } else if (this.#bytes.length === 1) {
        // Emptied by an optimized shift(), an array keeps its backing store (17 slots) for good.
        this.#bytes.length = 0;
      } else {
        this.#bytes.shift();
      }
      this.#decodeSlice(slice, this.#bytes.length === 0);
    }
    this.#decoded();
  }

  /** Few enough keys and lines wait for more bytes to be read. */
  #canDecode(): boolean {
    return (
      !this.isClosed &&
      this.#tokens.length - this.#tokenHead < TOKENS_LOW_WATER &&
      this.#lines.length < LINES_HIGH_WATER
    );
  }

  #decodeSlice(slice: Uint8Array, isLast: boolean): void {
    // Lines read whole skip the keys, unless keys are still on their way to the handler ahead of them.
    const lines = this.#isPumping || this.#tokenHead < this.#tokens.length ? undefined : this.#targets.readLines(slice);
    if (lines !== undefined) this.#typeLines(lines);
    else this.#queueTokens(this.#targets.decode(slice, isLast));
  }

  /** After reading: pauses or resumes the connection, and hands the new keys on. */
  #decoded(): void {
    this.#updateFlow();
    if (!this.#isPumping && this.#tokenHead < this.#tokens.length) this.#pump();
  }

  /** A line the user completed: to the waiting readLine, else queued for processLine. */
  submitLine(line: string): void {
    const waiter = this.#lineWaiter;
    if (waiter) {
      this.#lineWaiter = undefined;
      this.#hasAnswered = true;
      waiter.resolve(line);
      return;
    }
    if (this.#isProcessingLines || this.#lines.length > 0 || this.isClosed) {
      if (this.#lines === NOTHING_QUEUED) this.#lines = [];
      this.#lines.push(line);
      this.#hasQueuedLines = true;
      this.#updateFlow();
      if (!this.#isProcessingLines) this.#processLines();
      return;
    }
    // Nothing queued ahead of it, the common case: processLine takes it at once, and it never
    // goes into the queue (a push into the emptied queue would reserve it 17 slots).
    this.#updateFlow();
    this.#isProcessingLines = true;
    if (this.#runLine(line, INPUT_BUDGET - 1)) this.#processLinesOn(INPUT_BUDGET - 1);
  }

  /**
   * Lines read whole, each shown and submitted in turn as typing it would; from the first that
   * cannot be taken so, or that answered a readLine (which may hide what follows), key by key.
   */
  #typeLines(lines: string[]): void {
    // Held as a pump would be: input read meanwhile (by a handler that went on reading) queues behind these lines.
    this.#isPumping = true;
    let next = 0;
    const isOneOfMany = lines.length > 1;
    while (
      next < lines.length &&
      !this.isClosed &&
      !this.#hasAnswered &&
      this.#targets.typeLine(lines[next]!, isOneOfMany)
    ) {
      this.submitLine(lines[next++]!);
    }
    if (isOneOfMany) this.#targets.linesTyped();
    if (next < lines.length) {
      this.#ownTokens();
      this.#tokens.splice(this.#tokenHead, 0, ...lines.slice(next).flatMap(lineTokens));
    }
    this.#isPumping = false;
    if (this.#tokenHead < this.#tokens.length) this.#pump();
  }

  /**
   * The next line: one typed ahead at once, else a promise that the next submitted line
   * settles. The waiter is in place when this returns, so a prompt written next cannot miss it.
   * Throws at once when the session is closed, another wait is on, or the signal has aborted.
   */
  nextLine(wait: LineWait = {}): Promise<string> {
    // Thrown, not rejected: the caller must not change the session (hide typing) for a wait that never began.
    if (this.isClosed) throw new SessionClosedError();
    if (this.#lineWaiter) throw new Error('readLine is already waiting for a line in this session');
    wait.signal?.throwIfAborted();
    const typedAhead = this.#lines.length > 0 ? this.#lines.shift() : undefined;
    this.#decode();
    if (typedAhead !== undefined) return Promise.resolve(typedAhead);
    return new Promise<string>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = (reason: unknown): void => {
        if (this.#lineWaiter !== waiter) return;
        this.#lineWaiter = undefined;
        settle();
        reject(reason);
      };
      const onAbort = (): void => giveUp(wait.signal?.reason);
      const settle = (): void => {
        clearTimeout(timer);
        wait.signal?.removeEventListener('abort', onAbort);
      };
      const waiter = {
        resolve: (line: string) => {
          settle();
          resolve(line);
        },
        reject: (err: unknown) => {
          settle();
          reject(err);
        },
      };
      this.#lineWaiter = waiter;
      wait.signal?.addEventListener('abort', onAbort, { once: true });
      if (wait.timeoutMs !== undefined) {
        const ms = wait.timeoutMs;
        timer = setTimeout(() => giveUp(new ReadLineTimeoutError(ms)), ms);
      }
      // A line that can no longer come: the session ends, once the caller's own turn is over.
      if (this.#isInputEnded) void Promise.resolve().then(() => this.#endIfInputDone());
    });
  }

  /** Resolves once every line submitted so far has been handled, by processLine or a readLine. */
  linesHandled(): Promise<void> {
    if (this.#lines.length === 0 && !this.#isRunningLine) return Promise.resolve();
    return new Promise((resolve) => (this.#handledWaiters ??= []).push(resolve));
  }

  /** Fails a waiting readLine: the session has ended. */
  close(): void {
    this.isClosed = true;
    this.#lineWaiter?.reject(new SessionClosedError());
    this.#lineWaiter = undefined;
  }

  /**
   * Hands queued keys to the handler in order. Synchronous for as long as the handler answers
   * synchronously: a promise is waited for only where the handler returned one.
   */
  #pump(): void {
    this.#isPumping = true;
    this.#pumpOn(INPUT_BUDGET);
  }

  #pumpOn(budget: number): void {
    while (this.#tokenHead < this.#tokens.length && !this.isClosed) {
      if (this.#hasAnswered) {
        this.#hasAnswered = false;
        // Keys typed ahead of a password question are hidden when it takes them, not echoed before it is asked.
        setImmediate(() => this.#pumpOn(budget));
        return;
      }
      if (budget-- === 0) {
        // Handled keys go, so that a session flooded for long holds only what waits.
        this.#tokens = this.#tokens.slice(this.#tokenHead);
        this.#tokenHead = 0;
        this.#decode();
        setImmediate(() => this.#pumpOn(INPUT_BUDGET));
        return;
      }
      const token = this.#tokens[this.#tokenHead]!;
      this.#tokenHead += 1;
      const keepOpen = this.#answer(this.#targets.receive, token, 'keys', budget);
      if (keepOpen === undefined) return;
      if (!keepOpen) {
        this.#endFor(() => this.#pumpDone());
        return;
      }
    }
    this.#pumpDone();
  }

  #tokenTaken(keepOpen: boolean, budget: number): void {
    if (keepOpen) this.#pumpOn(budget);
    else this.#endFor(() => this.#pumpDone());
  }

  #pumpDone(): void {
    if (this.#tokens.length > 0) this.#tokens.length = 0;
    this.#tokenHead = 0;
    this.#isPumping = false;
    this.#decode();
    this.#endIfInputDone();
  }

  /**
   * Hands `item` to the handler: whether to go on where it answered synchronously; where it
   * returned a promise, undefined, and the pump of `kind` resumes once it settles (a rejection
   * is a handler error, which ends the session).
   */
  #answer<T>(
    call: (this: InputTargets, item: T) => boolean | Promise<boolean>,
    item: T,
    kind: 'keys' | 'lines',
    budget: number,
  ): boolean | undefined {
    let answer: boolean | Promise<boolean>;
    try {
      answer = call.call(this.#targets, item);
    } catch (err) {
      return this.#targets.caught(err);
    }
    if (!(answer instanceof Promise)) return answer !== false;
    if (kind === 'lines') {
      const resumption = (this.#lineResumption ??= this.#resumeLines());
      resumption.budget = budget;
      answer.then(resumption.settled, resumption.failed);
      return undefined;
    }
    answer.then(
      (keepOpen) => this.#tokenTaken(keepOpen !== false, budget),
      (err: unknown) => this.#tokenTaken(this.#targets.caught(err), budget),
    );
    return undefined;
  }

  #resumeLines(): LineResumption {
    const resumption: LineResumption = {
      budget: 0,
      settled: (keepOpen) => this.#lineProcessed(keepOpen !== false, resumption.budget),
      failed: (err) => this.#lineProcessed(this.#targets.caught(err), resumption.budget),
    };
    return resumption;
  }

  /** The handler asked to end the session: `then` runs once it has ended. */
  #endFor(then: () => void): void {
    this.#targets.end().then(then, then);
  }

  /** Hands queued lines to processLine in order; synchronous as long as processLine is. */
  #processLines(): void {
    this.#isProcessingLines = true;
    this.#processLinesOn(INPUT_BUDGET);
  }

  #processLinesOn(budget: number): void {
    while (this.#lines.length > 0 && !this.isClosed) {
      if (budget-- === 0) {
        setImmediate(() => this.#processLinesOn(INPUT_BUDGET));
        return;
      }
      if (!this.#runLine(this.#lines.shift()!, budget)) return;
    }
    this.#linesDone();
  }

  /** Hands `line` to processLine: whether to go on with the next at once. */
  #runLine(line: string, budget: number): boolean {
    this.#isRunningLine = true;
    const keepOpen = this.#answer(this.#targets.processLine, line, 'lines', budget);
    return keepOpen !== undefined && this.#lineDone(keepOpen);
  }

  #lineProcessed(keepOpen: boolean, budget: number): void {
    if (this.#lineDone(keepOpen)) this.#processLinesOn(budget);
  }

  /** After processLine: whether to go on with the next line. */
  #lineDone(keepOpen: boolean): boolean {
    this.#isRunningLine = false;
    if (!keepOpen) {
      this.#endFor(() => this.#linesDone());
      return false;
    }
    this.#decode();
    return true;
  }

  #linesDone(): void {
    this.#isProcessingLines = false;
    if (this.#lines.length > 0) return;
    if (this.#hasQueuedLines) {
      // Emptied by an optimized shift(), an array keeps its backing store (17 slots) for good;
      // setting the length is a call into the runtime, made only when a line was queued.
      this.#hasQueuedLines = false;
      this.#lines.length = 0;
    }
    const waiters = this.#handledWaiters;
    this.#handledWaiters = undefined;
    if (waiters !== undefined) for (const wake of waiters) wake();
    this.#endIfInputDone();
  }

  #queueTokens(tokens: InputToken[]): void {
    if (tokens.length === 0) return;
    this.#ownTokens();
    for (const token of tokens) this.#tokens.push(token);
  }

  /** The key queue is made at its first key: a session sent only whole lines never needs one. */
  #ownTokens(): void {
    if (this.#tokens === NOTHING_QUEUED) this.#tokens = [];
  }

  /** Pauses the socket while input waits unhandled, so a flood costs bounded memory. */
  #updateFlow(): void {
    const isBacklogged =
      this.#bytes.length > 0 ||
      this.#tokens.length - this.#tokenHead > TOKENS_HIGH_WATER ||
      this.#lines.length > LINES_HIGH_WATER;
    if (isBacklogged === this.#isPaused || this.isClosed) return;
    this.#isPaused = isBacklogged;
    if (isBacklogged) this.#connection.pause();
    else this.#connection.resume();
  }
}
