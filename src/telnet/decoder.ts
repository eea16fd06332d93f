// Incremental telnet stream decoder: bytes in, data/command/negotiation/subnegotiation out (RFC 854, 855).

import { DO, DONT, IAC, SB, SE, WILL, WONT } from './constants.js';

/** One decoded unit of a telnet stream. */
export type TelnetEvent =
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'command'; command: number }
  | { type: 'negotiate'; verb: number; option: number }
  | { type: 'subnegotiation'; option: number; payload: Uint8Array }
  | { type: 'overflow'; option: number };

/**
 * Receives what a decoder finds, in stream order. Bytes handed over are views into the
 * decoded chunk, or into a copy the decoder never writes again.
 */
export interface TelnetSink {
  /** A run of data bytes (IAC IAC already made one 255), never empty. */
  onData(bytes: Uint8Array): void;
  /** IAC and a byte that is not a negotiation verb, SB or IAC. */
  onCommand(command: number): void;
  /** IAC DO, DONT, WILL or WONT and its option. */
  onNegotiate(verb: number, option: number): void;
  /** A whole subnegotiation, its payload unescaped. */
  onSubnegotiation(option: number, payload: Uint8Array): void;
  /** A subnegotiation grew past the cap; it is dropped up to its end. */
  onOverflow(option: number): void;
}

/** Limits of a decoder. */
export interface TelnetDecoderOptions {
  /** Largest subnegotiation payload kept, in bytes after unescaping; default 8192. */
  maxSubnegotiation?: number;
}

// Numbered rather than named: the decode loop switches on the state once per sequence.
const DATA = 0;
const COMMAND = 1;
const OPTION = 2;
const SB_OPTION = 3;
const SB_DATA = 4;
const SB_IAC = 5;
type State = typeof DATA | typeof COMMAND | typeof OPTION | typeof SB_OPTION | typeof SB_DATA | typeof SB_IAC;

const DEFAULT_MAX_SUBNEGOTIATION = 8192;
const INITIAL_SB_CAPACITY = 64;
/** Bytes searched for IAC in JavaScript before calling indexOf, whose call costs more than a short loop. */
const NEAR = 16;

/**
 * RFC 854 decoder that keeps its state between chunks, so a sequence cut anywhere decodes
 * as if it had arrived whole. It copies only what a chunk cannot lend: data with IAC IAC in
 * it, and a subnegotiation cut between chunks. Never throws on input.
 */
export class TelnetDecoder {
  readonly #max: number;
  #state: State = DATA;
  #verb = 0;
  #option = 0;
  /** Payload of a subnegotiation cut between chunks; only while one is open. */
  #sub: Uint8Array | undefined;
  #subLength = 0;
  #isOverflowed = false;
  /** Set by stop(): decode() returns after the sequence being delivered. */
  #isStopped = false;
  /** Unescaped data of the chunk being decoded, allocated at its first IAC IAC; indexed from #copyBase. */
  #copy: Uint8Array | undefined;
  #copyBase = 0;

  constructor(options: TelnetDecoderOptions = {}) {
    const max = options.maxSubnegotiation ?? DEFAULT_MAX_SUBNEGOTIATION;
    this.#max = Number.isFinite(max) ? Math.max(0, Math.floor(max)) : DEFAULT_MAX_SUBNEGOTIATION;
  }

  /** No command or subnegotiation is under way: bytes with no IAC in them are all data. */
  get isAtRest(): boolean {
    return this.#state === DATA;
  }

  /**
   * Decodes one chunk into `sink`; a sequence still incomplete at its end is finished by a later
   * chunk. Returns how many bytes it read: all of them, unless the sink called stop().
   */
  decode(chunk: Uint8Array, sink: TelnetSink): number {
    const length = chunk.length;
    let i = 0;
    this.#isStopped = false;
    try {
      while (i < length && !this.#isStopped) {
        switch (this.#state) {
          case DATA:
            i = this.#data(chunk, i, i, sink);
            break;
          case COMMAND:
            i = this.#command(chunk, i, sink);
            break;
          case OPTION:
            this.#state = DATA;
            sink.onNegotiate(this.#verb, chunk[i++]!);
            break;
          case SB_OPTION:
            this.#option = chunk[i++]!;
            this.#state = SB_DATA;
            break;
          case SB_DATA:
            i = this.#subnegotiationData(chunk, i, i, sink);
            break;
          case SB_IAC:
            i = this.#subnegotiationIac(chunk, i, sink);
            break;
        }
      }
    } finally {
      this.#copy = undefined;
    }
    return i;
  }

  /**
   * Called by a sink from onSubnegotiation: decode() stops after that subnegotiation, since
   * what follows is no longer telnet as sent (MCCP3 turns the client's stream into zlib there).
   */
  stop(): void {
    this.#isStopped = true;
  }

  /** Decodes one chunk into events, for callers that want them as a list. */
  push(chunk: Uint8Array): TelnetEvent[] {
    const collector = new EventCollector();
    this.decode(chunk, collector);
    return collector.events;
  }

  /** A data run from `start`, searched for IAC from `from` (the bytes between are data already). */
  #data(chunk: Uint8Array, start: number, from: number, sink: TelnetSink): number {
    const next = findIac(chunk, from);
    if (next === -1) {
      sink.onData(start === 0 ? chunk : chunk.subarray(start));
      return chunk.length;
    }
    if (chunk[next + 1] === IAC) return this.#escapedData(chunk, start, next, sink);
    if (next > start) sink.onData(chunk.subarray(start, next));
    return this.#afterIac(chunk, next + 1, sink);
  }

  /** A data run with IAC IAC at `pair`: copied without the doubling, up to the next command. */
  #escapedData(chunk: Uint8Array, start: number, pair: number, sink: TelnetSink): number {
    if (this.#copy === undefined) {
      // One copy serves every escaped run of the chunk: each run is written over its own bytes' place.
      this.#copy = new Uint8Array(chunk.length - start);
      this.#copyBase = start;
    }
    const copy = this.#copy;
    const offset = start - this.#copyBase;
    copy.set(chunk.subarray(start, pair), offset);
    let out = offset + pair - start;
    let i = pair;
    while (i < chunk.length) {
      const byte = chunk[i]!;
      if (byte === IAC) {
        if (chunk[i + 1] !== IAC) break;
        i++;
      }
      copy[out++] = byte;
      i++;
    }
    sink.onData(copy.subarray(offset, out));
    return i === chunk.length ? i : this.#afterIac(chunk, i + 1, sink);
  }

  /** Goes on after an IAC that starts a command: at once, unless the chunk ends with the IAC. */
  #afterIac(chunk: Uint8Array, i: number, sink: TelnetSink): number {
    if (i < chunk.length) return this.#command(chunk, i, sink);
    this.#state = COMMAND;
    return i;
  }

  /** Handles the byte after an IAC outside SB. */
  #command(chunk: Uint8Array, i: number, sink: TelnetSink): number {
    const byte = chunk[i]!;
    this.#state = DATA;
    if (byte === IAC) return this.#data(chunk, i, i + 1, sink);
    if (byte === DO || byte === DONT || byte === WILL || byte === WONT) {
      if (i + 1 < chunk.length) {
        sink.onNegotiate(byte, chunk[i + 1]!);
        return i + 2;
      }
      this.#verb = byte;
      this.#state = OPTION;
    } else if (byte === SB) {
      this.#state = SB_OPTION;
    } else {
      // IAC SE outside SB and unknown command bytes are reported as commands for the
      // session to ignore; throwing would let a peer end the connection with one byte.
      sink.onCommand(byte);
    }
    return i + 1;
  }

  /** Subnegotiation payload from `start`, searched for IAC from `from`. */
  #subnegotiationData(chunk: Uint8Array, start: number, from: number, sink: TelnetSink): number {
    const next = findIac(chunk, from);
    const end = next === -1 ? chunk.length : next;
    const isWhole = this.#subLength === 0 && !this.#isOverflowed && start === from;
    if (isWhole && next !== -1 && next + 1 < chunk.length && chunk[next + 1] !== IAC) {
      // The usual case, the whole payload in one chunk: lent as a view, nothing buffered.
      if (end - start > this.#max) sink.onOverflow(this.#option);
      else sink.onSubnegotiation(this.#option, chunk.subarray(start, end));
      return this.#afterSubnegotiation(chunk, next + 1, sink);
    }
    if (end > start) this.#append(chunk, start, end, sink);
    if (next === -1) return chunk.length;
    this.#state = SB_IAC;
    return next + 1;
  }

  #subnegotiationIac(chunk: Uint8Array, i: number, sink: TelnetSink): number {
    if (chunk[i] === IAC) {
      this.#state = SB_DATA;
      return this.#subnegotiationData(chunk, i, i + 1, sink);
    }
    if (!this.#isOverflowed) {
      const payload = this.#sub?.subarray(0, this.#subLength) ?? new Uint8Array(0);
      sink.onSubnegotiation(this.#option, payload);
    }
    this.#sub = undefined;
    this.#subLength = 0;
    this.#isOverflowed = false;
    return this.#afterSubnegotiation(chunk, i, sink);
  }

  /** Reads the byte after the IAC that ended a subnegotiation. */
  #afterSubnegotiation(chunk: Uint8Array, i: number, sink: TelnetSink): number {
    // IAC SE is the proper end. Any other IAC command inside SB is a peer error; like
    // libtelnet we end the SB there, deliver what was collected, and then read the byte
    // as the command it names, so a lost SE cannot swallow the stream.
    if (chunk[i] !== SE) return this.#command(chunk, i, sink);
    this.#state = DATA;
    return i + 1;
  }

  #append(chunk: Uint8Array, start: number, end: number, sink: TelnetSink): void {
    if (this.#isOverflowed) return;
    const needed = this.#subLength + end - start;
    if (needed > this.#max) {
      this.#isOverflowed = true;
      this.#sub = undefined;
      sink.onOverflow(this.#option);
      return;
    }
    const sub = this.#sub;
    if (sub === undefined || needed > sub.length) {
      let capacity = Math.max((sub?.length ?? 0) * 2, INITIAL_SB_CAPACITY);
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(Math.min(capacity, this.#max));
      if (sub !== undefined) grown.set(sub.subarray(0, this.#subLength));
      this.#sub = grown;
    }
    this.#sub!.set(chunk.subarray(start, end), this.#subLength);
    this.#subLength = needed;
  }
}

/** Where the next IAC is from `from`, or -1; sequences often sit close together. */
function findIac(chunk: Uint8Array, from: number): number {
  const near = Math.min(chunk.length, from + NEAR);
  for (let i = from; i < near; i++) if (chunk[i] === IAC) return i;
  return near === chunk.length ? -1 : chunk.indexOf(IAC, near);
}

/** Collects what a decoder finds as events; subnegotiation payloads are copied for the caller to keep. */
class EventCollector implements TelnetSink {
  readonly events: TelnetEvent[] = [];

  onData(bytes: Uint8Array): void {
    this.events.push({ type: 'data', bytes });
  }

  onCommand(command: number): void {
    this.events.push({ type: 'command', command });
  }

  onNegotiate(verb: number, option: number): void {
    this.events.push({ type: 'negotiate', verb, option });
  }

  onSubnegotiation(option: number, payload: Uint8Array): void {
    this.events.push({ type: 'subnegotiation', option, payload: new Uint8Array(payload) });
  }

  onOverflow(option: number): void {
    this.events.push({ type: 'overflow', option });
  }
}
