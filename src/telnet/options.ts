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
// Queue bit: EMPTY, or OPPOSITE when the reverse of the pending request is wanted next.
const Queue = { empty: 0, opposite: 1 } as const;
const DEFAULT_MAX_PEER_ENABLES = 32;

interface SideTable {
  readonly side: Side;
  readonly state: Uint8Array;
  readonly queue: Uint8Array;
  /** Enables the peer asked for and we granted, counted up to the limit. */
  readonly granted: Uint8Array;
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
  readonly #local: SideTable = table('local', WILL, WONT);
  readonly #remote: SideTable = table('remote', DO, DONT);

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
    switch (t.state[option]) {
      case Q.no:
        t.state[option] = Q.wantYes;
        result.reply.push(negotiate(t.on, option));
        break;
      case Q.wantNo:
        // Queued: sending DO/WILL before the peer answers our DONT/WONT would be read as its ack.
        t.queue[option] = Queue.opposite;
        break;
      case Q.wantYes:
        t.queue[option] = Queue.empty;
        break;
    }
    return result;
  }

  /** Asks to disable an option on one side; it counts as disabled from now on. */
  disable(side: Side, option: number): NegotiationResult {
    const result: NegotiationResult = { reply: [], changes: [] };
    checkOption(option);
    const t = this.#table(side);
    switch (t.state[option]) {
      case Q.yes:
        t.state[option] = Q.wantNo;
        result.reply.push(negotiate(t.off, option));
        result.changes.push({ side: t.side, option, enabled: false });
        break;
      case Q.wantNo:
        t.queue[option] = Queue.empty;
        break;
      case Q.wantYes:
        t.queue[option] = Queue.opposite;
        break;
    }
    return result;
  }

  /** Whether the option is on for that side (agreed by both ends). */
  isEnabled(side: Side, option: number): boolean {
    return isOption(option) && this.#table(side).state[option] === Q.yes;
  }

  /** Whether we sent a request for the option on that side and await its answer. */
  isPending(side: Side, option: number): boolean {
    if (!isOption(option)) return false;
    const state = this.#table(side).state[option];
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
    if (t.granted[option]! >= this.#maxPeerEnables) return false;
    return t.side === 'local' ? this.#policy.acceptLocal(option) : this.#policy.acceptRemote(option);
  }

  /** WILL for the remote side, DO for the local side. */
  #receiveOn(t: SideTable, option: number, result: NegotiationResult): void {
    switch (t.state[option]) {
      case Q.no:
        if (this.#accepts(t, option)) {
          t.granted[option]!++;
          t.state[option] = Q.yes;
          result.reply.push(negotiate(t.on, option));
          result.changes.push({ side: t.side, option, enabled: true });
        } else {
          result.reply.push(negotiate(t.off, option));
        }
        break;
      case Q.wantNo:
        // The peer answered our DONT/WONT with WILL/DO, an RFC 1143 error; no reply, or we loop.
        if (t.queue[option] === Queue.opposite) {
          t.state[option] = Q.yes;
          t.queue[option] = Queue.empty;
          result.changes.push({ side: t.side, option, enabled: true });
        } else {
          t.state[option] = Q.no;
        }
        break;
      case Q.wantYes:
        if (t.queue[option] === Queue.opposite) {
          t.state[option] = Q.wantNo;
          t.queue[option] = Queue.empty;
          result.reply.push(negotiate(t.off, option));
        } else {
          t.state[option] = Q.yes;
          result.changes.push({ side: t.side, option, enabled: true });
        }
        break;
      // YES: an acknowledgement or a repeat; answering it is how loops start.
    }
  }

  /** WONT for the remote side, DONT for the local side. */
  #receiveOff(t: SideTable, option: number, result: NegotiationResult): void {
    switch (t.state[option]) {
      case Q.yes:
        // A peer may always switch an option off; RFC 854 requires us to agree.
        t.state[option] = Q.no;
        result.reply.push(negotiate(t.off, option));
        result.changes.push({ side: t.side, option, enabled: false });
        break;
      case Q.wantNo:
        if (t.queue[option] === Queue.opposite) {
          t.state[option] = Q.wantYes;
          t.queue[option] = Queue.empty;
          result.reply.push(negotiate(t.on, option));
        } else {
          t.state[option] = Q.no;
        }
        break;
      case Q.wantYes:
        t.state[option] = Q.no;
        if (t.queue[option] === Queue.opposite) t.queue[option] = Queue.empty;
        else result.refused = { side: t.side, option };
        break;
      // NO: already off, nothing to answer.
    }
  }
}

function table(side: Side, on: number, off: number): SideTable {
  return { side, state: new Uint8Array(256), queue: new Uint8Array(256), granted: new Uint8Array(256), on, off };
}

function isOption(option: number): boolean {
  return Number.isInteger(option) && option >= 0 && option <= 255;
}

function checkOption(option: number): void {
  if (!isOption(option)) throw new RangeError(`Telnet option must be an integer 0-255, got ${option}`);
}
