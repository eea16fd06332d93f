// Coarse deadlines for many sessions (idle timeouts): one timer per wheel, not a Timeout per session.

/** Something waiting in a wheel for its deadline. */
export interface WheelEntry {
  /** The slot the entry waits in; set and cleared by the wheel only. */
  wheelSlot: Set<WheelEntry> | undefined;
  /**
   * Its slot came up: acts and returns undefined when the deadline has passed, or returns its
   * deadline as it is now (a deadline that moved on, like an idle timeout after input).
   */
  due(now: number): number | undefined;
}

/**
 * Deadlines checked `resolutionMs` apart by one timer, running while any entry waits: each entry
 * is asked when its slot comes up, so an entry is never early and at most `resolutionMs` late.
 * Moving a deadline costs nothing here: the entry answers with its new one when asked.
 */
export class DeadlineWheel {
  readonly #resolutionMs: number;
  /** Entries by slot: a slot is `resolutionMs` of time, numbered from the epoch. */
  readonly #slots = new Map<number, Set<WheelEntry>>();
  #size = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Slots up to this one have been checked. */
  #checkedSlot = 0;

  constructor(resolutionMs: number) {
    this.#resolutionMs = resolutionMs;
  }

  /** Asks `entry` once `deadline` (ms since the epoch) has passed. */
  add(entry: WheelEntry, deadline: number): void {
    if (this.#timer === undefined) {
      this.#checkedSlot = Math.floor(Date.now() / this.#resolutionMs);
      this.#timer = setInterval(() => this.#check(), this.#resolutionMs);
      this.#timer.unref();
    }
    const slot = Math.max(Math.ceil(deadline / this.#resolutionMs), this.#checkedSlot + 1);
    let entries = this.#slots.get(slot);
    if (entries === undefined) {
      entries = new Set();
      this.#slots.set(slot, entries);
    }
    entries.add(entry);
    entry.wheelSlot = entries;
    this.#size++;
  }

  /** Stops waiting for `entry`'s deadline; nothing happens for an entry not in the wheel. */
  delete(entry: WheelEntry): void {
    if (entry.wheelSlot?.delete(entry) !== true) return;
    entry.wheelSlot = undefined;
    this.#size--;
    if (this.#size === 0) this.#stop();
  }

  #check(): void {
    const now = Date.now();
    const last = Math.floor(now / this.#resolutionMs);
    for (let slot = this.#checkedSlot + 1; slot <= last; slot++) {
      const entries = this.#slots.get(slot);
      if (entries === undefined) continue;
      this.#slots.delete(slot);
      this.#checkedSlot = slot;
      // An entry's due() may delete others of this slot: they are then skipped.
      for (const entry of entries) {
        entry.wheelSlot = undefined;
        this.#size--;
        const deadline = entry.due(now);
        if (deadline !== undefined) this.add(entry, deadline);
      }
    }
    this.#checkedSlot = last;
    if (this.#size === 0) this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#slots.clear();
  }
}
