// Plain TCP connections served on their libuv handles, with no net.Socket each. A net.Socket is a
// Duplex stream: its construction, its write path and its end (two stream states, event emitter,
// nextTicks for 'end', 'finish' and 'close') cost about 25 µs of CPU per connection, against
// under 15 for the same connect, welcome and close on the handle. Sessions need none of the
// stream's machinery: TurnWriter already batches their output, and reads go through one shared
// buffer. This relies on Node's internal stream bindings (as Node's own net module uses them);
// where they are not as expected, listeners keep net.Socket (TcpConnection).
import net from 'node:net';
import { getSystemErrorName } from 'node:util';

import { ByteStreamEnding, CLOSE_LINGER_MS, READY } from './connection.js';
import type { ClientPeer } from './client-address.js';
import type { ByteStream, CloseReason, ConnectionEnd, ConnectionListener } from './connection.js';
import { SHARED_READ_BUFFER } from './shared-read.js';
import { TurnWriter } from './turn-writer.js';
import type { TurnSink } from './turn-writer.js';

/** The part of a libuv TCP handle's wrapper used here (node/src/stream_base.cc, tcp_wrap.cc). */
interface TcpHandle {
  /**
   * Called with the handle as `this` after each read: the count, or an error, is in the binding's
   * state; the bytes are in the user buffer, or in `buffer` where there is none.
   */
  onread: (this: TcpHandle, buffer?: ArrayBuffer) => void;
  readStart(): number;
  readStop(): number;
  /** Reads go into `buffer` from its start, rather than into a new ArrayBuffer each. */
  useUserBuffer(buffer: Uint8Array): void;
  writeUtf8String(request: WriteRequest, text: string): number;
  writeBuffer(request: WriteRequest, bytes: Uint8Array): number;
  shutdown(request: ShutdownRequest): number;
  /**
   * Closes the socket at once (libuv closes the descriptor in uv_close). No callback is passed:
   * one makes Node set a property on the handle and call back into JS a loop turn later, some
   * 2 µs a connection for news the connection has already.
   */
  close(): void;
  getpeername(out: { address?: string; port?: number }): number;
  setNoDelay(isOn: boolean): number;
  /** Bytes libuv holds that the kernel has not taken yet. */
  readonly writeQueueSize: number;
  [CONNECTION]?: HandleConnection;
}

/** A write the kernel did not take at once: libuv finishes it and calls `oncomplete`. */
interface WriteRequest {
  oncomplete: (this: WriteRequest, status: number) => void;
  handle: TcpHandle;
  /** Kept alive until the write is done: the bytes libuv is still sending from. */
  bytes?: Uint8Array;
}

interface ShutdownRequest {
  oncomplete: (this: ShutdownRequest, status: number) => void;
  handle: TcpHandle;
}

interface StreamBinding {
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  /** Where the last call left its results: read count or error, bytes written, whether a write went async. */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  /** Where in the ArrayBuffer a read into one of Node's own buffers starts. */
  kArrayBufferOffset: number;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}

const CONNECTION = Symbol('connection');

/** Past this many bytes waiting in libuv, writers wait for a drain: a net.Socket's default mark. */
const HIGH_WATER_MARK = 16 * 1024;

/** Failed accepts are reported at most once in this long. */
const FAILURE_REPORT_MS = 1000;

const binding = loadBinding();
const state = binding?.streamBaseState;
/** libuv's end of stream, the same number on every platform. */
const UV_EOF = -4095;

/** A write request no write has needed yet: one the kernel takes at once is never wrapped, so it serves the next. */
let spareWrite: WriteRequest | undefined;

/**
 * Takes over `server`'s accepted sockets, which must be listening: `accept` gets each one's
 * handle instead of the net.Socket Node would build, and `onFailures` hears of accepts that
 * failed (at most once a second, with how many since it last heard). False, with nothing
 * changed, where this Node's internals are not as expected.
 */
export function acceptHandles(
  server: net.Server,
  accept: (handle: AcceptedHandle) => void,
  onFailures: (error: Error, failures: number) => void,
): boolean {
  const listening = (server as unknown as { _handle: { onconnection?: unknown; setNoDelay?: unknown } | null })._handle;
  if (binding === undefined || listening === null || typeof listening.onconnection !== 'function') return false;
  // Linux copies TCP_NODELAY from the listening socket to each socket it accepts: set once here,
  // it saves a system call a connection. Elsewhere each accepted socket gets it.
  const isNoDelayInherited =
    process.platform === 'linux' &&
    typeof listening.setNoDelay === 'function' &&
    (listening as Pick<TcpHandle, 'setNoDelay'>).setNoDelay(true) === 0;
  let failures = 0;
  let reportedAt = -Infinity;
  listening.onconnection = (status: number, handle: TcpHandle | undefined): void => {
    if (status >= 0) {
      if (handle !== undefined) accept(new AcceptedHandle(handle, isNoDelayInherited));
      return;
    }
    // Out of descriptors, say: Node would emit it on the server, where no one listens (an uncaught
    // exception). Then every client that tries fails alike: one report a second, with the count.
    failures++;
    const now = Date.now();
    if (now - reportedAt < FAILURE_REPORT_MS) return;
    onFailures(systemError(status, 'accept'), failures);
    failures = 0;
    reportedAt = now;
  };
  return true;
}

/** A socket just accepted: who it is from, then either a connection or a net.Socket to turn it away on. */
export class AcceptedHandle {
  readonly #handle: TcpHandle;
  /** What readFirst read: the connection made later counts it as received. */
  #bytesRead = 0;

  constructor(handle: TcpHandle, isNoDelayInherited: boolean) {
    this.#handle = handle;
    // As net.Server's `noDelay` sets it: an interactive client waits for each small reply.
    if (!isNoDelayInherited) handle.setNoDelay(true);
  }

  /** The client's address and port; empty where the socket is already gone. */
  peer(): ClientPeer {
    const out: { address?: string; port?: number } = {};
    this.#handle.getpeername(out);
    return { address: out.address ?? '', port: out.port ?? 0 };
  }

  connect(maxOutputBuffer: number, peer: ClientPeer): ByteStream {
    return new HandleConnection(this.#handle, maxOutputBuffer, peer, this.#bytesRead);
  }

  /**
   * Reads what the client sends first (an HTTP request's head) before the handle becomes a
   * connection or a socket, in buffers of its own, as Node reads by default: a net.Socket made
   * later reads on from there. `onRead` gets each read, or undefined once the client has ended
   * its side or the read failed, and returns whether to read on.
   */
  readFirst(onRead: (bytes: Buffer | undefined) => boolean): void {
    const handle = this.#handle;
    const onFirstRead = (buffer?: ArrayBuffer): void => {
      const count = state![binding!.kReadBytesOrError]!;
      if (count === 0) return;
      if (count > 0) this.#bytesRead += count;
      const bytes = count > 0 ? Buffer.from(buffer!, state![binding!.kArrayBufferOffset], count) : undefined;
      // Unless `onRead` made a connection or a socket of the handle, which read on their own way.
      if (!onRead(bytes) && handle.onread === onFirstRead) handle.readStop();
    };
    handle.onread = onFirstRead;
    if (handle.readStart() !== 0) onRead(undefined);
  }

  /** Closes the socket: a client that never became a connection. */
  close(): void {
    this.#handle.readStop();
    this.#handle.close();
  }

  /** A net.Socket on the handle: for a client turned away with a message, or one Node's HTTP server is to read. */
  toSocket(): net.Socket {
    // The socket starts its own reads: libuv refuses a second start, and the socket would fail.
    this.#handle.readStop();
    return new net.Socket({
      handle: this.#handle,
      readable: true,
      writable: true,
      allowHalfOpen: true,
    } as net.SocketConstructorOpts);
  }
}

// Assigned in HandleConnection's static block, where its private members can be reached.
let onHandleRead: (this: TcpHandle) => void;
let written: (this: WriteRequest, status: number) => void;
let shutDown: (this: ShutdownRequest) => void;

class HandleConnection extends ByteStreamEnding implements ByteStream, TurnSink {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly #handle: TcpHandle;
  readonly #writer: TurnWriter;
  /** Output waiting unread beyond this many bytes means the peer stopped reading: drop it. */
  readonly #maxOutputBuffer: number;
  #bytesIn = 0;
  #bytesOut = 0;
  /** The peer has ended its side (EOF read). */
  #isInputEnded = false;
  /** close() has begun: output is flushed and our side ended, or the handle closed. */
  #isClosing = false;
  #isHandleClosed = false;
  /** Drops a client that never closes its side after ours (see destroyUnlessClosed). */
  #linger: NodeJS.Timeout | undefined;
  #drained: Promise<void> | undefined;
  #markDrained: (() => void) | undefined;

  constructor(handle: TcpHandle, maxOutputBuffer: number, peer: ClientPeer, bytesRead: number) {
    super();
    this.#handle = handle;
    this.#bytesIn = bytesRead;
    handle[CONNECTION] = this;
    this.#writer = new TurnWriter(this);
    this.#maxOutputBuffer = maxOutputBuffer;
    this.remoteAddress = peer.address;
    this.remotePort = peer.port;
  }

  get secure(): boolean {
    return false;
  }

  get proxyAddress(): undefined {
    return undefined;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  get bytesOut(): number {
    return this.#bytesOut;
  }

  get isClosed(): boolean {
    return this.#isHandleClosed;
  }

  // Connection

  write(data: Uint8Array | string): Promise<void> {
    const writer = this.#writer;
    // Checked at the turn's first write (see TcpConnection.write).
    if (!writer.isInTurn) {
      if (!this.writable) return READY;
      writer.startTurn();
      if (this.#handle.writeQueueSize > this.#maxOutputBuffer) {
        this.#endFor({ reason: 'slow-consumer' });
        this.#closeHandle();
        return READY;
      }
    }
    return writer.write(data);
  }

  endTurn(): void {
    this.#writer.endTurn();
  }

  pause(): void {
    if (!this.#isHandleClosed && !this.#isInputEnded) this.#handle.readStop();
  }

  resume(): void {
    if (!this.#isHandleClosed && !this.#isInputEnded) this.#handle.readStart();
  }

  close(_reason: CloseReason): Promise<void> {
    // A byte stream has no way to say why; the session's last line says it to the user.
    if (!this.#isClosing && !this.#isHandleClosed) {
      this.#endFor({ reason: 'local' });
      this.#writer.flush();
      this.#isClosing = true;
      const handle = this.#handle;
      if (this.#isInputEnded && handle.writeQueueSize === 0) {
        // The client has ended its side, and the kernel has all the output: closing the socket
        // sends it, then the FIN.
        this.#closeHandle();
      } else if (!this.#isHandleClosed) {
        const request = new binding!.ShutdownWrap();
        request.handle = handle;
        request.oncomplete = shutDown;
        if (handle.shutdown(request) !== 0) this.#closeHandle();
        else {
          // Reads go on to the client's end, which closes the socket (see #readEnded).
          if (!this.#isInputEnded) handle.readStart();
          // A peer that never closes its side would hold the socket half-open forever.
          this.#linger = setTimeout(() => this.#closeHandle(), CLOSE_LINGER_MS).unref();
        }
      }
    }
    return this.untilEnded();
  }

  destroy(): void {
    this.#endFor({ reason: 'local' });
    this.#closeHandle();
  }

  override listen(listener: ConnectionListener): void {
    super.listen(listener);
    if (this.#isHandleClosed) return;
    const handle = this.#handle;
    handle.onread = onHandleRead;
    handle.useUserBuffer(SHARED_READ_BUFFER);
    handle.readStart();
  }

  // TurnSink

  get sink(): TurnSink {
    return this;
  }

  get writable(): boolean {
    return !this.#isClosing && !this.#isHandleClosed;
  }

  get writableNeedDrain(): boolean {
    return this.#handle.writeQueueSize >= HIGH_WATER_MARK;
  }

  get pendingBytes(): number {
    return this.#handle.writeQueueSize;
  }

  send(data: Uint8Array | string): boolean {
    if (this.#isHandleClosed) return true;
    const handle = this.#handle;
    const request = (spareWrite ??= new binding!.WriteWrap());
    const status = typeof data === 'string' ? handle.writeUtf8String(request, data) : handle.writeBuffer(request, data);
    if (status !== 0) {
      this.#endFor({ reason: 'reset', error: systemError(status, 'write') });
      this.#closeHandle();
      return true;
    }
    this.#bytesOut += state![binding!.kBytesWritten]!;
    if (state![binding!.kLastWriteWasAsync] !== 0) {
      // libuv holds the request until the kernel takes the rest: it cannot serve another write.
      spareWrite = undefined;
      request.handle = handle;
      request.oncomplete = written;
      if (typeof data !== 'string') request.bytes = data;
      return handle.writeQueueSize < HIGH_WATER_MARK;
    }
    return true;
  }

  sendAll(pieces: ReadonlyArray<Uint8Array | string>): boolean {
    return this.send(Buffer.concat(pieces.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece))));
  }

  drained(): Promise<void> {
    this.#drained ??= new Promise((resolve) => (this.#markDrained = resolve));
    return this.#drained;
  }

  // From the handle's callbacks

  #read(count: number): void {
    if (count > 0) {
      this.#bytesIn += count;
      // What a closing connection still reads is no one's: the session has ended.
      if (!this.#isClosing) this.listener!.data(this, SHARED_READ_BUFFER.subarray(0, count));
    } else if (count === UV_EOF) {
      this.#readEnded();
    } else if (count < 0) {
      this.#endFor({ reason: 'reset', error: systemError(count, 'read') });
      this.#closeHandle();
    }
  }

  #readEnded(): void {
    this.#isInputEnded = true;
    if (this.#isClosing) {
      // Our side was ended before the client's: both are done.
      if (this.#handle.writeQueueSize === 0) this.#closeHandle();
    } else {
      this.listener!.inputEnded(this);
    }
  }

  #written(status: number): void {
    if (status < 0) {
      this.#endFor({ reason: 'reset', error: systemError(status, 'write') });
      this.#closeHandle();
      return;
    }
    if (this.#handle.writeQueueSize === 0) {
      this.#releaseDrain();
      // A shutdown waits for the writes before it; the client had already ended its side.
      if (this.#isClosing && this.#isInputEnded) this.#closeHandle();
    }
  }

  #shutDown(): void {
    if (this.#isInputEnded) this.#closeHandle();
  }

  #closeHandle(): void {
    if (this.#isHandleClosed) return;
    this.#isHandleClosed = true;
    clearTimeout(this.#linger);
    this.#handle.close();
    this.#releaseDrain();
    // Listeners hear of it in a promise job (see ended), once this turn's callbacks are done.
    this.ended({ reason: 'peer-closed' });
  }

  #releaseDrain(): void {
    const markDrained = this.#markDrained;
    if (markDrained === undefined) return;
    this.#drained = undefined;
    this.#markDrained = undefined;
    markDrained();
  }

  /** Records why the connection ends: the peer, where its end of the stream came first. */
  #endFor(end: ConnectionEnd): void {
    this.endFor(this.#isInputEnded ? { reason: 'peer-closed' } : end);
  }

  static {
    // Shared by every handle, which `this` is: a closure per handle would cost memory.
    onHandleRead = function (this: TcpHandle): void {
      this[CONNECTION]!.#read(state![binding!.kReadBytesOrError]!);
    };
    written = function (this: WriteRequest, status: number): void {
      this.handle[CONNECTION]!.#written(status);
    };
    shutDown = function (this: ShutdownRequest): void {
      this.handle[CONNECTION]!.#shutDown();
    };
  }
}

function systemError(status: number, syscall: string): Error {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno: status, syscall });
}

function loadBinding(): StreamBinding | undefined {
  try {
    const found = (process as unknown as { binding(name: string): Partial<StreamBinding> }).binding('stream_wrap');
    const isComplete =
      typeof found.WriteWrap === 'function' &&
      typeof found.ShutdownWrap === 'function' &&
      found.streamBaseState instanceof Int32Array &&
      typeof found.kReadBytesOrError === 'number' &&
      typeof found.kArrayBufferOffset === 'number' &&
      typeof found.kBytesWritten === 'number' &&
      typeof found.kLastWriteWasAsync === 'number';
    return isComplete ? (found as StreamBinding) : undefined;
  } catch {
    return undefined;
  }
}
