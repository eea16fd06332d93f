// Sockets read into one buffer shared by all of them, as node:net's `onread` option does for the
// sockets it connects: a server's accepted sockets have no such option, so it is set up by hand.
import type net from 'node:net';

/**
 * Where every socket set up here reads. Reads are handled one at a time, each done with (copied
 * out where kept) before the next, so one buffer serves them all; 64 KiB is what Node reads at
 * most otherwise.
 */
export const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** Node's own keys for `onread` on a socket, found once on the first socket; null where absent. */
let keys: { buffer: symbol; callback: symbol } | null | undefined;

/** The part of a socket's native handle used here. */
interface UserBufferHandle {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * What hears a socket's reads: called with the socket as `this` once `length` bytes are in
 * `shared`, which the next read of any socket overwrites. One function for every socket, not a
 * closure each: an idle socket keeps no callback of its own.
 */
export type SharedRead = (this: net.Socket, length: number, shared: Buffer) => void;

/**
 * Makes `socket`'s reads go through the shared buffer. By default what it reads is still emitted
 * as 'data', in a copy of its own (from Node's pool of small buffers, so usually no allocation of
 * its own), for a reader that may keep what it is given (ws's frame parser). A reader that copies
 * what it keeps passes `read` and is lent the bytes in place.
 *
 * Node's default read costs, per read: a 64 KiB allocation shrunk to the bytes read, a new
 * ArrayBuffer that the garbage collector must sweep, and the Readable stream's push, 'data' and a
 * deferred read-more check. Under load (a read per line per client) that was a tenth of the
 * server's CPU. pause() and resume() stop and start the reads as before (net.Socket handles both
 * for `onread` sockets); the end of the stream and errors take the usual path, and 'data' still
 * brings what was read before the switch.
 *
 * Returns false, and changes nothing, for a TLS socket (its reads are decrypted into buffers of
 * its own), or where this Node keeps its `onread` machinery differently: the socket then reads as
 * Node reads by default, into 'data'.
 */
export function readThroughSharedBuffer(socket: net.Socket, read: SharedRead = emitCopy): boolean {
  if ((socket as net.Socket & { encrypted?: boolean }).encrypted === true) return false;
  const handle = (socket as unknown as { _handle: UserBufferHandle | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  keys ??= findKeys(socket);
  if (keys === null) return false;
  const slots = socket as unknown as Record<symbol, unknown>;
  slots[keys.buffer] = SHARED_READ_BUFFER;
  slots[keys.callback] = read;
  handle.useUserBuffer(SHARED_READ_BUFFER);
  return true;
}

function findKeys(socket: net.Socket): { buffer: symbol; callback: symbol } | null {
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((symbol) => symbol.description === 'kBuffer');
  const callback = symbols.find((symbol) => symbol.description === 'kBufferCb');
  return buffer === undefined || callback === undefined ? null : { buffer, callback };
}

function emitCopy(this: net.Socket, length: number, shared: Buffer): void {
  const bytes = Buffer.allocUnsafe(length);
  shared.copy(bytes, 0, 0, length);
  this.emit('data', bytes);
}
