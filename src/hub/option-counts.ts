// Telnet option negotiations of one process's sessions, counted where they happen.
import { optionName } from '../telnet/constants.js';
import type { OptionOutcome } from './events.js';

/** One option, side and outcome with how often it happened. */
export interface OptionCount {
  option: string;
  side: 'local' | 'remote';
  outcome: OptionOutcome;
  count: number;
}

const SIDES = ['local', 'remote'] as const;
const OUTCOMES: readonly OptionOutcome[] = ['enabled', 'disabled', 'refused'];

/**
 * Counts by option code in one flat array: a telnet connect settles several options, and counting
 * each is an index and an increment, where an event per option would build a record and find its
 * series by name. Metrics read the counts at scrape time.
 */
export class OptionCounts {
  #counts = new Float64Array(256 * SIDES.length * OUTCOMES.length);

  count(option: number, side: 'local' | 'remote', outcome: OptionOutcome): void {
    const sideIndex = side === 'local' ? 0 : 1;
    const outcomeIndex = outcome === 'enabled' ? 0 : outcome === 'disabled' ? 1 : 2;
    this.#counts[((option & 0xff) * SIDES.length + sideIndex) * OUTCOMES.length + outcomeIndex]!++;
  }

  /** Every option, side and outcome counted at least once, by option code. */
  list(): OptionCount[] {
    const counts: OptionCount[] = [];
    this.#counts.forEach((count, index) => {
      if (count === 0) return;
      const outcome = OUTCOMES[index % OUTCOMES.length]!;
      const side = SIDES[Math.floor(index / OUTCOMES.length) % SIDES.length]!;
      const option = optionName(Math.floor(index / (OUTCOMES.length * SIDES.length)));
      counts.push({ option, side, outcome, count });
    });
    return counts;
  }
}
