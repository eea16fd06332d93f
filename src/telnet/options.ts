// Telnet option negotiation by the Q method, loop-free for both sides of every option (RFC 1143, RFC 854).

import { DO, DONT, WILL, WONT } from './constants.js';
import { negotiate } from './encoder.js';

/** 'local': options we perform (we send WILL/WONT); 'remote': options the peer performs (we send DO/DONT). */
export type Side = 'local' | 'remote';

/** Decides which options the peer may switch on when it asks first. */
export interface OptionPolicy {
  /** Whether to answer DO <option> with WILL. */
  acceptLocal(option: number): boolean;
  /** Whether to answer WILL <option> with DO. */
  acceptRemote(option: number): boolean;
}

/** Tuning of an OptionNegotiator. */
export interface OptionNegotiatorOptions {
  /**
   * How often per option and side the peer may switch an option on by asking (0-255,
   * default 32); later requests are refused. Bounds the traffic a broken peer can cause.
   */
  maxPeerEnables?: number;
}

/** One option of one side that became enabled or disabled. */
export interface OptionChange {
  side: Side;
  option: number;
  enabled: boolean;
}

/** What a negotiation step asks the caller to do. */
export interface NegotiationResult {
  /** Encoded frames to send to the peer, in order. */
  reply: Buffer[];
  /** Options whose enabled state changed in this step. */
  changes: OptionChange[];
  /** Set when the peer refused an option we asked to enable, so the caller can fall back. */
  refused?: { side: Side; option: number };
}

// RFC 1143 section 7 states; an option counts as enabled only in YES.
const Q = { no: 0, yes: 1, wantNo: 2, wantYes: 3 } as const;
type QState = (typeof Q)[keyof typeof Q];
const DEFAULT_MAX_PEER_ENABLES = 32;

// Every telnet session keeps these tables, so each option of each side is one 16-bit cell: the
// state in bits 0-1; the queue bit, set for OPPOSITE (the reverse of the pending request is
// wanted next) and clear for EMPTY; from bit 8, the enables the peer asked for and we granted.
// Only cells that are not 0 are kept, each with its key (side base + option) above bit 16.
const STATE_BITS = 0b11;
const OPPOSITE_BIT = 0b100;
const GRANTS_SHIFT = 8;
const KEY_SHIFT = 16;
const CELL_BITS = 0xffff;

interface SideTable {
  readonly side: Side;
  /** This side's cells are keyed from `base`. */
  readonly base: number;
  /** The verb we send to enable (DO or WILL). */
  readonly on: number;
  /** The verb we send to disable (DONT or WONT). */
  readonly off: number;
}

const LOCAL: SideTable = { side: 'local', base: 0, on: WILL, off: WONT };
const REMOTE: SideTable = { side: 'remote', base: 256, on: DO, off: DONT };

/**
 * Tracks both sides of all 256 options with the RFC 1143 Q method: each request gets one
 * answer, acknowledgements are never answered, and unaccepted options are refused.
 */
export class OptionNegotiator {
  readonly #policy: OptionPolicy;
  readonly #maxPeerEnables: number;
  /**
   * The cells not 0, a handful per session, searched in order: a table of all 512 would cost each
   * session a kilobyte for the few options a client ever touches.
   */
  #cells: number[] = [];
  #version = 0;

  constructor(policy: OptionPolicy, options: OptionNegotiatorOptions = {}) {
    this.#policy = policy;
    const max = options.maxPeerEnables ?? DEFAULT_MAX_PEER_ENABLES;
    this.#maxPeerEnables = Number.isFinite(max)
      ? Math.min(255, Math.max(0, Math.floor(max)))
      : DEFAULT_MAX_PEER_ENABLES;
  }

  /**
   * Takes on the state of `opened`, a negotiator with the same policy that has only made
   * requests: as if the same enable() calls had been made here, their frames sent. Sessions that
   * open alike copy one opening rather than negotiate it each. Only before any other negotiation.
   */
  openAs(opened: OptionNegotiator): void {
    if (this.#cells.length !== 0) throw new Error('openAs: this negotiator has negotiated already');
    this.#cells = opened.#cells.slice();
    this.#version++;
  }

  /**
   * Changes with every change of any option's state: what a caller works out from the states
   * holds for as long as this does not change.
   */
  get version(): number {
    return this.#version;
  }

  /** Applies a DO, DONT, WILL or WONT received from the peer; other verbs are ignored. */
  receive(verb: number, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    if (!isOption(option)) return result;
    if (verb === WILL) this.#receiveOn(REMOTE, option, result);
    else if (verb === WONT) this.#receiveOff(REMOTE, option, result);
    else if (verb === DO) this.#receiveOn(LOCAL, option, result);
    else if (verb === DONT) this.#receiveOff(LOCAL, option, result);
    return result;
  }

  /** Asks to enable an option on one side; nothing is sent when it is already on or asked for. */
  enable(side: Side, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    checkOption(option);
    const t = this.#table(side);
    switch (this.#stateOf(t, option)) {
      case Q.no:
        this.#setState(t, option, Q.wantYes);
        addReply(result, negotiate(t.on, option));
        break;
      case Q.wantNo:
        // Queued: sending DO/WILL before the peer answers our DONT/WONT would be read as its ack.
        this.#setOpposite(t, option, true);
        break;
      case Q.wantYes:
        this.#setOpposite(t, option, false);
        break;
    }
    return result;
  }

  /** Asks to disable an option on one side; it counts as disabled from now on. */
  disable(side: Side, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    checkOption(option);
    const t = this.#table(side);
    switch (this.#stateOf(t, option)) {
      case Q.yes:
        this.#setState(t, option, Q.wantNo);
        addReply(result, negotiate(t.off, option));
        addChange(result, { side: t.side, option, enabled: false });
        break;
      case Q.wantNo:
        this.#setOpposite(t, option, false);
        break;
      case Q.wantYes:
        this.#setOpposite(t, option, true);
        break;
    }
    return result;
  }

  /** Whether the option is on for that side (agreed by both ends). */
  isEnabled(side: Side, option: number): boolean {
    return isOption(option) && this.#stateOf(this.#table(side), option) === Q.yes;
  }

  /**
   * Which of `options` (at most 31) are on for that side: bit i for options[i]. One pass over the
   * table, where isEnabled for each would search it once an option.
   */
  enabledAmong(side: Side, options: readonly number[]): number {
    const base = this.#table(side).base;
    let enabled = 0;
    for (const entry of this.#cells) {
      if ((entry & STATE_BITS) !== Q.yes) continue;
      // The other side's keys come out below 0 or above 255, among no options.
      const index = options.indexOf((entry >>> KEY_SHIFT) - base);
      if (index !== -1) enabled |= 1 << index;
    }
    return enabled;
  }

  /** Whether we sent a request for the option on that side and await its answer. */
  isPending(side: Side, option: number): boolean {
    if (!isOption(option)) return false;
    const state = this.#stateOf(this.#table(side), option);
    return state === Q.wantNo || state === Q.wantYes;
  }

  #table(side: Side): SideTable {
    return side === 'local' ? LOCAL : REMOTE;
  }

  #cell(t: SideTable, option: number): number {
    const key = t.base + option;
    for (const entry of this.#cells) if (entry >>> KEY_SHIFT === key) return entry & CELL_BITS;
    return 0;
  }

  #setCell(t: SideTable, option: number, cell: number): void {
    const key = t.base + option;
    const cells = this.#cells;
    const entry = (key << KEY_SHIFT) | cell;
    this.#version++;
    for (let i = 0; i < cells.length; i++) {
      if (cells[i]! >>> KEY_SHIFT === key) {
        cells[i] = entry;
        return;
      }
    }
    // An array grown by push keeps room for 16 more; concat makes one just long enough.
    this.#cells = cells.concat(entry);
  }

  #stateOf(t: SideTable, option: number): QState {
    return (this.#cell(t, option) & STATE_BITS) as QState;
  }

  #setState(t: SideTable, option: number, state: QState): void {
    this.#setCell(t, option, (this.#cell(t, option) & ~STATE_BITS) | state);
  }

  #setOpposite(t: SideTable, option: number, isSet: boolean): void {
    const cell = this.#cell(t, option);
    this.#setCell(t, option, isSet ? cell | OPPOSITE_BIT : cell & ~OPPOSITE_BIT);
  }

  #accepts(t: SideTable, option: number, cell: number): boolean {
    // The Q method is loop-free only against peers that never acknowledge acknowledgements.
    // A stateless peer answering every DO with WILL can, with one request crossing ours,
    // pair its acks with our answers forever; every turn of such a loop needs us to grant
    // an enable, so capping grants ends it with a refusal, which nothing answers.
    if (cell >> GRANTS_SHIFT >= this.#maxPeerEnables) return false;
    return t.side === 'local' ? this.#policy.acceptLocal(option) : this.#policy.acceptRemote(option);
  }

  /** WILL for the remote side, DO for the local side. */
  #receiveOn(t: SideTable, option: number, result: NegotiationResult): void {
    // One search of the table for the cell, one write of its new value.
    const cell = this.#cell(t, option);
    const isOpposite = (cell & OPPOSITE_BIT) !== 0;
    switch ((cell & STATE_BITS) as QState) {
      case Q.no:
        if (this.#accepts(t, option, cell)) {
          this.#setCell(t, option, withState(cell + (1 << GRANTS_SHIFT), Q.yes));
          addReply(result, negotiate(t.on, option));
          addChange(result, { side: t.side, option, enabled: true });
        } else {
          addReply(result, negotiate(t.off, option));
        }
        break;
      case Q.wantNo:
        // The peer answered our DONT/WONT with WILL/DO, an RFC 1143 error; no reply, or we loop.
        if (isOpposite) {
          this.#setCell(t, option, withState(cell & ~OPPOSITE_BIT, Q.yes));
          addChange(result, { side: t.side, option, enabled: true });
        } else {
          this.#setCell(t, option, withState(cell, Q.no));
        }
        break;
      case Q.wantYes:
        if (isOpposite) {
          this.#setCell(t, option, withState(cell & ~OPPOSITE_BIT, Q.wantNo));
          addReply(result, negotiate(t.off, option));
        } else {
          this.#setCell(t, option, withState(cell, Q.yes));
          addChange(result, { side: t.side, option, enabled: true });
        }
        break;
      // YES: an acknowledgement or a repeat; answering it is how loops start.
    }
  }

  /** WONT for the remote side, DONT for the local side. */
  #receiveOff(t: SideTable, option: number, result: NegotiationResult): void {
    const cell = this.#cell(t, option);
    const isOpposite = (cell & OPPOSITE_BIT) !== 0;
    switch ((cell & STATE_BITS) as QState) {
      case Q.yes:
        // A peer may always switch an option off; RFC 854 requires us to agree.
        this.#setCell(t, option, withState(cell, Q.no));
        addReply(result, negotiate(t.off, option));
        addChange(result, { side: t.side, option, enabled: false });
        break;
      case Q.wantNo:
        if (isOpposite) {
          this.#setCell(t, option, withState(cell & ~OPPOSITE_BIT, Q.wantYes));
          addReply(result, negotiate(t.on, option));
        } else {
          this.#setCell(t, option, withState(cell, Q.no));
        }
        break;
      case Q.wantYes:
        this.#setCell(t, option, withState(cell & ~OPPOSITE_BIT, Q.no));
        if (!isOpposite) result.refused = { side: t.side, option };
        break;
      // NO: already off, nothing to answer.
    }
  }
}

// A result holds a reply or a change or two: each list is made at its first entry and just that
// long (pushed into, an empty list makes room for 17).

function addReply(result: NegotiationResult, frame: Buffer): void {
  if (result.reply.length === 0) result.reply = [frame];
  else result.reply.push(frame);
}

function addChange(result: NegotiationResult, change: OptionChange): void {
  if (result.changes.length === 0) result.changes = [change];
  else result.changes.push(change);
}

/** `cell` with its state replaced by `state`. */
function withState(cell: number, state: QState): number {
  return (cell & ~STATE_BITS) | state;
}

function isOption(option: number): boolean {
  return Number.isInteger(option) && option >= 0 && option <= 255;
}

function checkOption(option: number): void {
  if (!isOption(option)) throw new RangeError(`Telnet option must be an integer 0-255, got ${option}`);
}
