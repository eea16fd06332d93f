// Test support: an in-memory Connection that keeps every write as bytes, its input pushed by the test.
import { READY } from '../../src/transports/connection.js';
import type { CloseReason, Connection, ConnectionListener } from '../../src/transports/connection.js';

/** A connection whose other end is the test: every write kept as bytes, input pushed by `receive`. */
export class ByteConnection implements Connection {
  readonly framing = 'stream' as const;
  readonly remoteAddress = '192.0.2.8';
  readonly remotePort = 40001;
  readonly secure = false;
  readonly protocol = '';
  readonly path = '';
  readonly query = new URLSearchParams();
  readonly resumeToken = undefined;
  readonly bytesIn = 0;
  readonly bytesOut = 0;
  isClosed = false;
  isDestroyed = false;
  written: Buffer[] = [];
  #listener: ConnectionListener | undefined;

  write(data: Uint8Array | string): Promise<void> {
    this.written.push(Buffer.from(data));
    return READY;
  }

  pause(): void {}
  resume(): void {}

  close(_reason: CloseReason): Promise<void> {
    this.#end();
    return READY;
  }

  destroy(): void {
    this.isDestroyed = true;
    this.#end();
  }

  listen(listener: ConnectionListener): void {
    this.#listener = listener;
  }

  control(): boolean {
    return false;
  }

  receive(bytes: Uint8Array): void {
    this.#listener?.data(this, bytes);
  }

  /** The client half-closes: it sends nothing more. */
  endInput(): void {
    this.#listener?.inputEnded(this);
  }

  #end(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.#listener?.closed(this, { reason: 'local' });
  }
}
