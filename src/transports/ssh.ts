// SSH transport (RFC 4251-4254): a plain TCP listener that screens each client and hands it to
// ssh2, which is loaded when the first client arrives; the key files are checked by ssh2 at start,
// in a process of their own (ssh-key-check.ts). An idle launcher never holds ssh2.
import { fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';

import type { Logger } from 'pino';
import type { Server as SshServer } from 'ssh2';

import type { SshAuthMethod } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import type { AuthenticationAttempt } from '../session/handle.js';
import { SOCKET_OPTIONS, bindServer } from './bind.js';
import { acceptProxied, socketPeer, unread } from './client-address.js';
import type { ClientPeer, ProxyPolicy } from './client-address.js';
import { destroyUnlessClosed } from './connection.js';
import type { Admission, Connection, Listener, Refusal } from './connection.js';
import type { KeyCheck, KeyCheckAnswer } from './ssh-key-check.js';

/** Options of an SSH listener. */
export interface SshListenOptions {
  host: string;
  port: number;
  /** The private host key, as its file holds it. */
  hostKey: Buffer;
  /** How clients may log in. */
  auth: readonly SshAuthMethod[];
  /** The public key blobs that may log in with 'publickey' (the authorized_keys file). */
  authorizedKeys: readonly Buffer[];
  /** Asked about passwords, and about keys that are not in `authorizedKeys`. */
  authenticate(attempt: AuthenticationAttempt): Promise<boolean> | boolean;
  /** Serve sessions that asked for no terminal, in line mode, rather than telling them one is needed. */
  acceptsNoPty: boolean;
  /** Milliseconds a client has from connecting to opening its session: the handshake and the login. */
  handshakeTimeoutMs: number;
  /** Milliseconds between keepalive requests to the client; 0 = none. */
  keepaliveIntervalMs: number;
  /** Unread output, in bytes, past which a client that does not read is dropped. */
  maxOutputBuffer: number;
  admission: Admission;
  /** Whether connections come through proxies that name the client in a PROXY header. */
  proxy: ProxyPolicy;
  logger: Logger;
  onConnection(connection: Connection): void;
}

/** An SSH session's connection: whether the client asked for a terminal decides its layer. */
export interface SshConnection extends Connection {
  /** A pty was requested: keys arrive one by one and the server echoes and edits the line. */
  readonly hasPty: boolean;
}

/** What identifies this server to clients (RFC 4253 §4.2): no version, nothing to fingerprint. */
export const IDENT = 'chuk_protocol_server';

/** RFC 4253 §11.1 reason codes, as a refusal before the key exchange sends them. */
const DISCONNECT_HOST_NOT_ALLOWED = 1;
const DISCONNECT_BY_APPLICATION = 11;
const DISCONNECT_TOO_MANY_CONNECTIONS = 12;
const SSH_MSG_DISCONNECT = 1;

/** Host keys that ssh2 has checked in this process, by file. */
const checkedHostKeys = new Map<string, HostKey>();

/** Starts listening; rejects with ServerStartError when the address cannot be bound. */
export async function listenSsh(options: SshListenOptions): Promise<Listener> {
  const { admission, logger } = options;
  /** Sockets on their way to a session, by the address and port that ssh2 names its clients by. */
  const arrivals = new Map<string, Arrival>();
  const arrivalOf = (ip: string, port: number): Arrival | undefined => arrivals.get(`${ip}|${port}`);
  // ssh2 is loaded with the first client, and a failed load tried again with the next.
  let loginServer: Promise<SshServer> | undefined;
  const serverForLogins = (): Promise<SshServer> => {
    loginServer ??= import('./ssh-server.js')
      .then(({ serveLogins }) => serveLogins(options, arrivalOf))
      .catch((err: unknown) => {
        loginServer = undefined;
        throw err;
      });
    return loginServer;
  };
  /** Turned-away sockets belong to no session: the listener ends them, and drops them on close. */
  const refused = new Set<net.Socket>();

  const turnAway = (socket: net.Socket, address: string, refusal: Refusal): void => {
    admission.refused(address, refusal);
    if (refusal.reason === 'denied' || refusal.reason === 'proxy') {
      socket.destroy();
      return;
    }
    refused.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => refused.delete(socket));
    // Said in SSH's own words before any key exchange: OpenSSH prints a DISCONNECT's description.
    socket.end(Buffer.concat([Buffer.from(`SSH-2.0-${IDENT}\r\n`), disconnectPacket(refusal)]));
    // Reading the client's hello lets it read ours, rather than meet a reset.
    socket.resume();
    destroyUnlessClosed(socket);
  };

  /**
   * The one place a raw socket becomes an SSH client: a PROXY header, if any, is read before it.
   * `isScreened`: its address was screened already, which must not count twice against a rate.
   */
  const accept = (socket: net.Socket, peer: ClientPeer, isScreened: boolean): void => {
    const refusal = (isScreened ? undefined : admission.screen(peer.address)) ?? admission.check(peer.address);
    if (refusal !== undefined) {
      turnAway(socket, peer.address, refusal);
      return;
    }
    const key = socketKey(socket);
    const timer = setTimeout(() => {
      logger.debug({ address: peer.address }, 'SSH handshake and login not done in time');
      socket.destroy();
    }, options.handshakeTimeoutMs);
    const leave = (): void => {
      clearTimeout(timer);
      arrivals.delete(key);
      socket.off('data', corkForRead);
    };
    arrivals.set(key, { socket, peer, started: leave });
    socket.once('close', leave);
    // Until ssh2 takes the socket over with listeners of its own, a reset must not go unheard.
    const dropOnError = (): void => void socket.destroy();
    socket.on('error', dropOnError);
    serverForLogins().then(
      (sshServer) => {
        socket.off('error', dropOnError);
        if (socket.destroyed) return;
        // ssh2 resumes the socket once its WebAssembly is ready, which the first client waits for:
        // resuming it here would let the client's first bytes go by unread.
        sshServer.injectSocket(socket);
        // Paused by ssh2 now, the socket stays paused with a listener added; this one runs before ssh2's.
        socket.prependListener('data', corkForRead);
      },
      (err: unknown) => {
        logger.error({ err, address: peer.address }, 'ssh2 failed to load or start: the SSH client is disconnected');
        socket.destroy();
      },
    );
  };

  const server = net.createServer(SOCKET_OPTIONS, (socket) => {
    if (!options.proxy.protocol) {
      accept(socket, socketPeer(socket), false);
      return;
    }
    void acceptProxied(socket, options, turnAway, async (peer, rest) => {
      unread(socket, rest);
      accept(socket, peer, true);
    });
  });
  const port = await bindServer(server, options.host, options.port);
  return {
    address: { host: options.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of refused) socket.destroy();
        for (const arrival of arrivals.values()) arrival.socket.destroy();
      }),
  };
}

/** A host key and what `ssh-keygen -lf` says of it. */
export interface HostKey {
  /** The private key, as its file holds it. */
  text: Buffer;
  /** "SHA256:…" and the key type, e.g. "SHA256:uNiVz… (ED25519)". */
  fingerprint: string;
  /** Made just now, because there was none at the default place. */
  isNew: boolean;
}

/**
 * Reads a private host key, checked by ssh2. With `generate`, a missing file is made first: a
 * new ed25519 key in OpenSSH's format, mode 0600, with its `.pub` beside it, so the host keeps its
 * identity from then on. Throws ServerStartError saying what is wrong.
 */
export async function loadHostKey(file: string, generate: boolean): Promise<HostKey> {
  const checked = checkedHostKeys.get(file);
  // Asked again (the launcher prints the fingerprint once every server listens): the same bytes
  // need no second process. Any other outcome, an error included, is the check's to tell.
  if (checked !== undefined && (await readFile(file).catch(() => undefined))?.equals(checked.text)) {
    return { ...checked, isNew: false };
  }
  const answer = await runKeyCheck({ kind: 'host-key', file, generate });
  if (answer.kind !== 'host-key') throw new ServerStartError(keyCheckFailure(answer));
  const hostKey = { text: Buffer.from(answer.text), fingerprint: answer.fingerprint, isNew: answer.isNew };
  checkedHostKeys.set(file, hostKey);
  return hostKey;
}

/**
 * Reads an authorized_keys file, checked by ssh2: one public key per line; blank lines and #
 * comments skipped. Resolves with each key's public blob; throws ServerStartError naming the line.
 */
export async function readAuthorizedKeys(file: string): Promise<Buffer[]> {
  const answer = await runKeyCheck({ kind: 'authorized-keys', file });
  if (answer.kind !== 'authorized-keys') throw new ServerStartError(keyCheckFailure(answer));
  return answer.blobs.map((blob) => Buffer.from(blob));
}

/** Runs a check in a process of its own, which exits once it answers. */
function runKeyCheck(check: KeyCheck): Promise<KeyCheckAnswer> {
  return new Promise((resolve, reject) => {
    const script = new URL('./ssh-key-check.js', import.meta.url);
    // Built, the check needs none of the launcher's flags (an inspector's port, --input-type);
    // run from source, it needs the launcher's TypeScript loader.
    const execArgv = import.meta.url.endsWith('.ts') ? process.execArgv : [];
    const child = fork(script, [JSON.stringify(check)], { execArgv, serialization: 'advanced' });
    let answer: KeyCheckAnswer | undefined;
    child.once('message', (message: KeyCheckAnswer) => (answer = message));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (answer !== undefined) resolve(answer);
      else reject(new ServerStartError(`the SSH key check exited without an answer (${signal ?? `code ${code}`})`));
    });
  });
}

/** A failed check's message; any other answer cannot come back for the check asked. */
function keyCheckFailure(answer: KeyCheckAnswer): string {
  return answer.kind === 'error' ? answer.message : `the SSH key check answered a ${answer.kind} check`;
}

/** A socket between its acceptance and its session. */
export interface Arrival {
  socket: net.Socket;
  peer: ClientPeer;
  /** Its session started: the handshake timeout stops, and the listener's close leaves it to the session. */
  started(): void;
}

/**
 * Holds what ssh2 writes in answer to one read of the handshake for one system call: it sends
 * each packet in two writes (an encrypted packet and its MAC), and answers a read with several
 * packets (the key exchange's reply and NEWKEYS; the login's success; the channel's confirmation).
 */
function corkForRead(this: net.Socket): void {
  this.cork();
  process.nextTick(uncork, this);
}

function uncork(socket: net.Socket): void {
  socket.uncork();
}

/** How ssh2 names a new client's socket: it hands over the client, not the socket. */
function socketKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** An unencrypted SSH_MSG_DISCONNECT packet (RFC 4253 §6, §11.1): all a refused client is sent. */
function disconnectPacket(refusal: Refusal): Buffer {
  const code =
    refusal.reason === 'shutdown'
      ? DISCONNECT_BY_APPLICATION
      : refusal.reason === 'banned'
        ? DISCONNECT_HOST_NOT_ALLOWED
        : DISCONNECT_TOO_MANY_CONNECTIONS;
  const description = Buffer.from(refusal.message, 'utf8');
  // Message byte, reason code, description and an empty language tag.
  const payloadLength = 1 + 4 + 4 + description.length + 4;
  // Length field, padding length byte, payload and padding fill whole 8-byte blocks; padding is 4 to 11 bytes.
  const padding = 4 + ((8 - ((4 + 1 + payloadLength + 4) % 8)) % 8);
  const packet = Buffer.alloc(4 + 1 + payloadLength + padding);
  packet.writeUInt32BE(1 + payloadLength + padding, 0);
  packet[4] = padding;
  packet[5] = SSH_MSG_DISCONNECT;
  packet.writeUInt32BE(code, 6);
  packet.writeUInt32BE(description.length, 10);
  description.copy(packet, 14);
  return packet;
}
