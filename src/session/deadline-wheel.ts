// Coarse deadlines for many sessions (idle timeouts): one timer per wheel, not a Timeout per session.

/** Something waiting in a wheel for its deadline. */
export interface WheelEntry {
  /** The slot the entry waits in, and where in it; set and cleared by the wheel only. */
  wheelSlot: WheelEntry[] | undefined;
  wheelIndex: number;
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
 *
 * A slot is a list in which each entry knows its place, not a Set: a slot of a long timeout
 * lives long, sessions come and go in it by the thousand, and a Set would hold the ones that
 * left through the young generation's collections (see ChurnMap).
 */
export class DeadlineWheel {
  readonly #resolutionMs: number;
  /** Entries by slot: a slot is `resolutionMs` of time, numbered from the epoch. */
  readonly #slots = new Map<number, WheelEntry[]>();
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
      entries = [];
      this.#slots.set(slot, entries);
    }
    entry.wheelSlot = entries;
    entry.wheelIndex = entries.length;
    entries.push(entry);
    this.#size++;
  }

  /** Stops waiting for `entry`'s deadline; nothing happens for an entry not in the wheel. */
  delete(entry: WheelEntry): void {
    const entries = entry.wheelSlot;
    if (entries === undefined) return;
    // The last entry takes the leaving one's place.
    const last = entries.pop()!;
    if (last !== entry) {
      entries[entry.wheelIndex] = last;
      last.wheelIndex = entry.wheelIndex;
    }
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
      // Taken from the end, so that an entry's due() may delete others of this slot, which are
      // then skipped: a deletion moves only the last entry, and that one is still to come.
      for (let entry = entries.pop(); entry !== undefined; entry = entries.pop()) {
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
