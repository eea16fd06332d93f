// MCCP2 and MCCP3 in the byte path: a connection whose output the telnet layer can turn into a
// zlib stream (MCCP2) and whose input turns into one where the client says so (MCCP3).
import { constants, createDeflate, createInflate } from 'node:zlib';
import type { Deflate, Inflate } from 'node:zlib';

import { DO, DONT, OPT_MCCP3 } from '../telnet/constants.js';
import { TelnetDecoder } from '../telnet/decoder.js';
import type { TelnetSink } from '../telnet/decoder.js';
import { DEFLATE_OPTIONS, INFLATE_OPTIONS } from '../telnet/mccp.js';
import { READY } from '../transports/connection.js';
import type { CloseReason, Connection, ConnectionListener, ControlMessage, Framing } from '../transports/connection.js';
import type { SessionLog } from './lazy-logger.js';

/** A connection with MCCP compression switched on and off by the telnet layer. */
export class MccpConnection implements Connection {
  readonly #inner: Connection;
  readonly #logger: SessionLog;
  #listener: ConnectionListener | undefined;
  #deflate: Deflate | undefined;
  /** A turn's writes are flushed together (Z_SYNC_FLUSH) once the turn is over. */
  #isFlushQueued = false;
  /** Output written while an ended stream's last bytes are still being made, sent after them. */
  #afterFinish: (Uint8Array | string)[] | undefined;
  #finishing: Promise<void> | undefined;
  /** Set while MCCP3 is offered and the client's stream has not started: finds where it starts. */
  #startScanner: StartScanner | undefined;
  #inflate: Inflate | undefined;
  #isPaused = false;
  #lastWrite: Promise<void> = READY;

  /** `isMccp3Offered`: the layer offers MCCP3 (WILL MCCP3), so the client may start a stream. */
  constructor(inner: Connection, logger: SessionLog, isMccp3Offered: boolean) {
    this.#inner = inner;
    this.#logger = logger;
    // The client's DO MCCP3 and its IAC SB MCCP3 IAC SE often come in one read: the split must
    // be found here, before the session queues what follows the marker as telnet.
    if (isMccp3Offered) this.#startScanner = new StartScanner();
  }

  get framing(): Framing {
    return this.#inner.framing;
  }
  get remoteAddress(): string {
    return this.#inner.remoteAddress;
  }
  get remotePort(): number {
    return this.#inner.remotePort;
  }
  get proxyAddress(): string | undefined {
    return this.#inner.proxyAddress;
  }
  get user(): string | undefined {
    return this.#inner.user;
  }
  get secure(): boolean {
    return this.#inner.secure;
  }
  get protocol(): string {
    return this.#inner.protocol;
  }
  get path(): string {
    return this.#inner.path;
  }
  get query(): URLSearchParams {
    return this.#inner.query;
  }

  get resumeToken(): string | undefined {
    return this.#inner.resumeToken;
  }
  get bytesIn(): number {
    return this.#inner.bytesIn;
  }
  get bytesOut(): number {
    return this.#inner.bytesOut;
  }
  get isClosed(): boolean {
    return this.#inner.isClosed;
  }

  /** Whether output is compressed now (MCCP2). */
  get isCompressing(): boolean {
    return this.#deflate !== undefined;
  }

  /** Whether input is being inflated now (MCCP3). */
  get isInflating(): boolean {
    return this.#inflate !== undefined;
  }

  write(data: Uint8Array | string): Promise<void> {
    if (this.#afterFinish !== undefined) {
      this.#afterFinish.push(data);
      return READY;
    }
    const deflate = this.#deflate;
    if (deflate === undefined) return this.#inner.write(data);
    deflate.write(data);
    if (!this.#isFlushQueued) {
      this.#isFlushQueued = true;
      setImmediate(() => {
        this.#isFlushQueued = false;
        if (this.#deflate === deflate) deflate.flush(constants.Z_SYNC_FLUSH);
      });
    }
    return this.#lastWrite;
  }

  /** Everything written from now on goes out as one zlib stream (after IAC SB MCCP2 IAC SE). */
  startCompressing(): void {
    if (this.#deflate !== undefined || this.#afterFinish !== undefined) return;
    const deflate = createDeflate(DEFLATE_OPTIONS);
    deflate.on('data', (chunk: Buffer) => (this.#lastWrite = this.#inner.write(chunk)));
    deflate.on('error', (err) => this.#fail(err, 'MCCP2 compression failed'));
    this.#deflate = deflate;
  }

  /** Ends the zlib stream (Z_FINISH); what is written meanwhile follows it uncompressed. */
  stopCompressing(): Promise<void> {
    const deflate = this.#deflate;
    if (deflate === undefined) return this.#finishing ?? READY;
    this.#deflate = undefined;
    this.#afterFinish = [];
    this.#finishing = new Promise<void>((resolve) => {
      deflate.once('end', resolve);
      deflate.once('close', resolve);
      deflate.end();
      // 'end' comes only once the output is read: keep it flowing.
      deflate.resume();
    }).then(() => {
      const queued = this.#afterFinish ?? [];
      this.#afterFinish = undefined;
      this.#finishing = undefined;
      for (const data of queued) this.#lastWrite = this.#inner.write(data);
    });
    return this.#finishing;
  }

  pause(): void {
    this.#isPaused = true;
    this.#inner.pause();
    this.#inflate?.pause();
  }

  resume(): void {
    this.#isPaused = false;
    this.#inner.resume();
    this.#inflate?.resume();
  }

  async close(reason: CloseReason): Promise<void> {
    // The goodbye is still in the compressor: end the stream so that the client reads it whole.
    await this.stopCompressing();
    await this.#inner.close(reason);
  }

  destroy(): void {
    this.#release();
    this.#inner.destroy();
  }

  listen(listener: ConnectionListener): void {
    this.#listener = listener;
    // The listener hears of this connection, not the inner one.
    this.#inner.listen({
      data: (_inner, bytes) => this.#receive(bytes),
      closed: (_inner, end) => {
        this.#release();
        listener.closed(this, end);
      },
      terminal: (_inner, facts) => listener.terminal(this, facts),
      inputEnded: () => this.#inputEnded(),
    });
  }

  /** The client sends no more: the listener hears it after the last of its compressed input. */
  #inputEnded(): void {
    const inflate = this.#inflate;
    if (inflate === undefined) this.#listener?.inputEnded(this);
    else inflate.flush(() => this.#listener?.inputEnded(this));
  }

  control(message: ControlMessage): boolean {
    return this.#inner.control(message);
  }

  #receive(bytes: Uint8Array): void {
    // The inflater keeps what it is given until it gets to it: a copy, as the inner connection may lend its bytes.
    if (this.#inflate !== undefined) {
      this.#inflate.write(Buffer.from(bytes));
      return;
    }
    const scanner = this.#startScanner;
    if (scanner === undefined) {
      this.#listener?.data(this, bytes);
      return;
    }
    const plain = scanner.scan(bytes);
    if (!scanner.isStarted) {
      this.#listener?.data(this, bytes);
      return;
    }
    this.#startScanner = undefined;
    if (plain > 0) this.#listener?.data(this, bytes.subarray(0, plain));
    this.#startInflating().write(Buffer.from(bytes.subarray(plain)));
  }

  #startInflating(): Inflate {
    const inflate = createInflate(INFLATE_OPTIONS);
    inflate.on('data', (chunk: Buffer) => this.#listener?.data(this, chunk));
    inflate.on('error', (err) => this.#fail(err, 'MCCP3 input is not a valid zlib stream; closing the session'));
    inflate.on('end', () => {
      // The client ended its stream (Z_FINISH): what it sends next is telnet again, and it may start
      // another. Node's inflater drops what followed the end in the same read, and tells of the end
      // only once something follows it; clients end MCCP3 as they disconnect, if at all.
      if (this.#inflate !== inflate) return;
      this.#inflate = undefined;
      this.#startScanner = new StartScanner(true);
    });
    if (this.#isPaused) inflate.pause();
    this.#inflate = inflate;
    return inflate;
  }

  #fail(err: Error, message: string): void {
    this.#logger.warn({ err }, message);
    this.destroy();
  }

  #release(): void {
    this.#startScanner = undefined;
    this.#deflate?.destroy();
    this.#inflate?.destroy();
    this.#deflate = undefined;
    this.#inflate = undefined;
  }
}

/**
 * Reads the client's telnet only to find where its zlib stream starts: the end of an IAC SB
 * MCCP3 IAC SE sent after it agreed with DO MCCP3 (and not taken back with DONT).
 */
class StartScanner implements TelnetSink {
  readonly #decoder = new TelnetDecoder({ maxSubnegotiation: 0 });
  #isAgreed: boolean;
  isStarted = false;

  constructor(isAgreed = false) {
    this.#isAgreed = isAgreed;
  }

  /** How many bytes of `bytes` are telnet: all of them, or up to the end of the start marker. */
  scan(bytes: Uint8Array): number {
    return this.#decoder.decode(bytes, this);
  }

  onNegotiate(verb: number, option: number): void {
    if (option === OPT_MCCP3 && (verb === DO || verb === DONT)) this.#isAgreed = verb === DO;
  }

  onSubnegotiation(option: number): void {
    if (option !== OPT_MCCP3 || !this.#isAgreed) return;
    this.isStarted = true;
    this.#decoder.stop();
  }

  onData(): void {}
  onCommand(): void {}
  onOverflow(): void {}
}
