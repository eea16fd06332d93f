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

// Every telnet session keeps these tables, so each option of each side is one 16-bit cell of
// one array: the state in bits 0-1; the queue bit, set for OPPOSITE (the reverse of the pending
// request is wanted next) and clear for EMPTY; from bit 8, the enables the peer asked for and we granted.
const STATE_BITS = 0b11;
const OPPOSITE_BIT = 0b100;
const GRANTS_SHIFT = 8;

interface SideTable {
  readonly side: Side;
  /** Both sides' cells; this side's start at `base`. */
  readonly cells: Uint16Array;
  readonly base: number;
  /** The verb we send to enable (DO or WILL). */
  readonly on: number;
  /** The verb we send to disable (DONT or WONT). */
  readonly off: number;
}

/**
 * Tracks both sides of all 256 options with the RFC 1143 Q method: each request gets one
 * answer, acknowledgements are never answered, and unaccepted options are refused.
 */
export class OptionNegotiator {
  readonly #policy: OptionPolicy;
  readonly #maxPeerEnables: number;
  readonly #cells = new Uint16Array(512);
  readonly #local: SideTable = { side: 'local', cells: this.#cells, base: 0, on: WILL, off: WONT };
  readonly #remote: SideTable = { side: 'remote', cells: this.#cells, base: 256, on: DO, off: DONT };

  constructor(policy: OptionPolicy, options: OptionNegotiatorOptions = {}) {
    this.#policy = policy;
    const max = options.maxPeerEnables ?? DEFAULT_MAX_PEER_ENABLES;
    this.#maxPeerEnables = Number.isFinite(max)
      ? Math.min(255, Math.max(0, Math.floor(max)))
      : DEFAULT_MAX_PEER_ENABLES;
  }

  /** Applies a DO, DONT, WILL or WONT received from the peer; other verbs are ignored. */
  receive(verb: number, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    if (!isOption(option)) return result;
    if (verb === WILL) this.#receiveOn(this.#remote, option, result);
    else if (verb === WONT) this.#receiveOff(this.#remote, option, result);
    else if (verb === DO) this.#receiveOn(this.#local, option, result);
    else if (verb === DONT) this.#receiveOff(this.#local, option, result);
    return result;
  }

  /** Asks to enable an option on one side; nothing is sent when it is already on or asked for. */
  enable(side: Side, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    checkOption(option);
    const t = this.#table(side);
    switch (stateOf(t, option)) {
      case Q.no:
        setState(t, option, Q.wantYes);
        result.reply.push(negotiate(t.on, option));
        break;
      case Q.wantNo:
        // Queued: sending DO/WILL before the peer answers our DONT/WONT would be read as its ack.
        setOpposite(t, option, true);
        break;
      case Q.wantYes:
        setOpposite(t, option, false);
        break;
    }
    return result;
  }

  /** Asks to disable an option on one side; it counts as disabled from now on. */
  disable(side: Side, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    checkOption(option);
    const t = this.#table(side);
    switch (stateOf(t, option)) {
      case Q.yes:
        setState(t, option, Q.wantNo);
        result.reply.push(negotiate(t.off, option));
        result.changes.push({ side: t.side, option, enabled: false });
        break;
      case Q.wantNo:
        setOpposite(t, option, false);
        break;
      case Q.wantYes:
        setOpposite(t, option, true);
        break;
    }
    return result;
  }

  /** Whether the option is on for that side (agreed by both ends). */
  isEnabled(side: Side, option: number): boolean {
    return isOption(option) && stateOf(this.#table(side), option) === Q.yes;
  }

  /** Whether we sent a request for the option on that side and await its answer. */
  isPending(side: Side, option: number): boolean {
    if (!isOption(option)) return false;
    const state = stateOf(this.#table(side), option);
    return state === Q.wantNo || state === Q.wantYes;
  }

  #table(side: Side): SideTable {
    return side === 'local' ? this.#local : this.#remote;
  }

  #accepts(t: SideTable, option: number): boolean {
    // The Q method is loop-free only against peers that never acknowledge acknowledgements.
    // A stateless peer answering every DO with WILL can, with one request crossing ours,
    // pair its acks with our answers forever; every turn of such a loop needs us to grant
    // an enable, so capping grants ends it with a refusal, which nothing answers.
    if (t.cells[t.base + option]! >> GRANTS_SHIFT >= this.#maxPeerEnables) return false;
    return t.side === 'local' ? this.#policy.acceptLocal(option) : this.#policy.acceptRemote(option);
  }

  /** WILL for the remote side, DO for the local side. */
  #receiveOn(t: SideTable, option: number, result: NegotiationResult): void {
    switch (stateOf(t, option)) {
      case Q.no:
        if (this.#accepts(t, option)) {
          t.cells[t.base + option] = t.cells[t.base + option]! + (1 << GRANTS_SHIFT);
          setState(t, option, Q.yes);
          result.reply.push(negotiate(t.on, option));
          result.changes.push({ side: t.side, option, enabled: true });
        } else {
          result.reply.push(negotiate(t.off, option));
        }
        break;
      case Q.wantNo:
        // The peer answered our DONT/WONT with WILL/DO, an RFC 1143 error; no reply, or we loop.
        if (isOpposite(t, option)) {
          setState(t, option, Q.yes);
          setOpposite(t, option, false);
          result.changes.push({ side: t.side, option, enabled: true });
        } else {
          setState(t, option, Q.no);
        }
        break;
      case Q.wantYes:
        if (isOpposite(t, option)) {
          setState(t, option, Q.wantNo);
          setOpposite(t, option, false);
          result.reply.push(negotiate(t.off, option));
        } else {
          setState(t, option, Q.yes);
          result.changes.push({ side: t.side, option, enabled: true });
        }
        break;
      // YES: an acknowledgement or a repeat; answering it is how loops start.
    }
  }

  /** WONT for the remote side, DONT for the local side. */
  #receiveOff(t: SideTable, option: number, result: NegotiationResult): void {
    switch (stateOf(t, option)) {
      case Q.yes:
        // A peer may always switch an option off; RFC 854 requires us to agree.
        setState(t, option, Q.no);
        result.reply.push(negotiate(t.off, option));
        result.changes.push({ side: t.side, option, enabled: false });
        break;
      case Q.wantNo:
        if (isOpposite(t, option)) {
          setState(t, option, Q.wantYes);
          setOpposite(t, option, false);
          result.reply.push(negotiate(t.on, option));
        } else {
          setState(t, option, Q.no);
        }
        break;
      case Q.wantYes:
        setState(t, option, Q.no);
        if (isOpposite(t, option)) setOpposite(t, option, false);
        else result.refused = { side: t.side, option };
        break;
      // NO: already off, nothing to answer.
    }
  }
}

function stateOf(t: SideTable, option: number): QState {
  return (t.cells[t.base + option]! & STATE_BITS) as QState;
}

function setState(t: SideTable, option: number, state: QState): void {
  t.cells[t.base + option] = (t.cells[t.base + option]! & ~STATE_BITS) | state;
}

function isOpposite(t: SideTable, option: number): boolean {
  return (t.cells[t.base + option]! & OPPOSITE_BIT) !== 0;
}

function setOpposite(t: SideTable, option: number, isSet: boolean): void {
  const cell = t.cells[t.base + option]!;
  t.cells[t.base + option] = isSet ? cell | OPPOSITE_BIT : cell & ~OPPOSITE_BIT;
}

function isOption(option: number): boolean {
  return Number.isInteger(option) && option >= 0 && option <= 255;
}

function checkOption(option: number): void {
  if (!isOption(option)) throw new RangeError(`Telnet option must be an integer 0-255, got ${option}`);
}
