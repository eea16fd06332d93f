// Incremental telnet stream decoder: bytes in, data/command/negotiation/subnegotiation events out (RFC 854, 855).

import { DO, DONT, IAC, SB, SE, WILL, WONT } from './constants.js';

/** One decoded unit of a telnet stream. */
export type TelnetEvent =
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'command'; command: number }
  | { type: 'negotiate'; verb: number; option: number }
  | { type: 'subnegotiation'; option: number; payload: Uint8Array }
  | { type: 'overflow'; option: number };

/** Limits of a decoder. */
export interface TelnetDecoderOptions {
  /** Largest subnegotiation payload kept, in bytes after unescaping; default 8192. */
  maxSubnegotiation?: number;
}

type State = 'data' | 'iac' | 'option' | 'sb-option' | 'sb' | 'sb-iac';

const DEFAULT_MAX_SUBNEGOTIATION = 8192;
const INITIAL_SB_CAPACITY = 64;

/**
 * RFC 854 decoder that keeps its state between chunks, so a sequence cut anywhere
 * decodes as if it had arrived whole. 'data' events are views into the pushed chunk;
 * 'subnegotiation' payloads are copies the caller owns. Never throws on input.
 */
export class TelnetDecoder {
  readonly #max: number;
  #state: State = 'data';
  #verb = 0;
  #option = 0;
  #sub: Uint8Array;
  #subLength = 0;
  #overflowed = false;

  constructor(options: TelnetDecoderOptions = {}) {
    const max = options.maxSubnegotiation ?? DEFAULT_MAX_SUBNEGOTIATION;
    this.#max = Number.isFinite(max) ? Math.max(0, Math.floor(max)) : DEFAULT_MAX_SUBNEGOTIATION;
    this.#sub = new Uint8Array(Math.min(INITIAL_SB_CAPACITY, this.#max));
  }

  /** Decodes one chunk; events for a sequence still incomplete at its end come with a later chunk. */
  push(chunk: Uint8Array): TelnetEvent[] {
    const events: TelnetEvent[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'data' || this.#state === 'sb') {
        // Plain runs are found with indexOf and passed on (or buffered) in one slice.
        const next = chunk.indexOf(IAC, i);
        const end = next === -1 ? chunk.length : next;
        if (end > i) {
          if (this.#state === 'data') events.push({ type: 'data', bytes: chunk.subarray(i, end) });
          else this.#append(chunk.subarray(i, end), events);
        }
        if (next === -1) break;
        this.#state = this.#state === 'data' ? 'iac' : 'sb-iac';
        i = next + 1;
        continue;
      }
      this.#step(chunk, i, events);
      i++;
    }
    return events;
  }

  #step(chunk: Uint8Array, i: number, events: TelnetEvent[]): void {
    const byte = chunk[i]!;
    switch (this.#state) {
      case 'iac':
        this.#command(chunk, i, events);
        return;
      case 'option':
        events.push({ type: 'negotiate', verb: this.#verb, option: byte });
        this.#state = 'data';
        return;
      case 'sb-option':
        this.#option = byte;
        this.#subLength = 0;
        this.#overflowed = false;
        this.#state = 'sb';
        return;
      case 'sb-iac':
        if (byte === IAC) {
          this.#append(chunk.subarray(i, i + 1), events);
          this.#state = 'sb';
          return;
        }
        this.#endSubnegotiation(events);
        // IAC SE is the proper end. Any other IAC command inside SB is a peer error;
        // like libtelnet we end the SB there, deliver what was collected, and then read
        // the byte as the command it names, so a lost SE cannot swallow the stream.
        if (byte !== SE) this.#command(chunk, i, events);
        else this.#state = 'data';
        return;
      default:
        return;
    }
  }

  /** Handles the byte after an IAC outside SB. */
  #command(chunk: Uint8Array, i: number, events: TelnetEvent[]): void {
    const byte = chunk[i]!;
    this.#state = 'data';
    if (byte === IAC) {
      events.push({ type: 'data', bytes: chunk.subarray(i, i + 1) });
    } else if (byte === DO || byte === DONT || byte === WILL || byte === WONT) {
      this.#verb = byte;
      this.#state = 'option';
    } else if (byte === SB) {
      this.#state = 'sb-option';
    } else {
      // IAC SE outside SB and unknown command bytes are reported as commands for the
      // session to ignore; throwing would let a peer end the connection with one byte.
      events.push({ type: 'command', command: byte });
    }
  }

  #append(bytes: Uint8Array, events: TelnetEvent[]): void {
    if (this.#overflowed) return;
    const needed = this.#subLength + bytes.length;
    if (needed > this.#max) {
      this.#overflowed = true;
      events.push({ type: 'overflow', option: this.#option });
      return;
    }
    if (needed > this.#sub.length) {
      let capacity = Math.max(this.#sub.length * 2, INITIAL_SB_CAPACITY);
      while (capacity < needed) capacity *= 2;
      const grown = new Uint8Array(Math.min(capacity, this.#max));
      grown.set(this.#sub.subarray(0, this.#subLength));
      this.#sub = grown;
    }
    this.#sub.set(bytes, this.#subLength);
    this.#subLength = needed;
  }

  #endSubnegotiation(events: TelnetEvent[]): void {
    if (!this.#overflowed) {
      events.push({
        type: 'subnegotiation',
        option: this.#option,
        payload: this.#sub.slice(0, this.#subLength),
      });
    }
    this.#subLength = 0;
    this.#overflowed = false;
  }
}
