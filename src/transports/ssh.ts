// SSH transport (RFC 4251-4254, spoken by ssh2): a login, then one session channel as a Connection.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { dirname } from 'node:path';

import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type {
  AuthContext,
  Connection as SshClient,
  ParsedKey,
  PublicKeyAuthContext,
  ServerChannel,
  Session as SshSession,
} from 'ssh2';

import type { SshAuthMethod } from '../config/schema.js';
import { ServerStartError } from '../errors.js';
import type { AuthenticationAttempt } from '../session/handle.js';
import { bindServer } from './bind.js';
import { acceptProxied, socketPeer, unread } from './client-address.js';
import type { ClientPeer, ProxyPolicy } from './client-address.js';
import { READY } from './connection.js';
import type {
  Admission,
  CloseReason,
  Connection,
  ConnectionEnd,
  DataListener,
  Listener,
  Refusal,
  TerminalFacts,
} from './connection.js';
import { TurnWriter } from './turn-writer.js';

/** Options of an SSH listener. */
export interface SshListenOptions {
  host: string;
  port: number;
  /** The private host key, as its file holds it. */
  hostKey: Buffer;
  /** How clients may log in. */
  auth: readonly SshAuthMethod[];
  /** Keys that may log in with 'publickey' (the authorized_keys file). */
  authorizedKeys: readonly ParsedKey[];
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
const IDENT = 'chuk_protocol_server';
/** Logins that may fail from one address within LOGIN_FAILURE_WINDOW_MS before its connections are dropped. */
const MAX_LOGIN_FAILURES = 5;
const LOGIN_FAILURE_WINDOW_MS = 60_000;
/** ssh2 pings every 15 s unless given an interval: the longest a timer can wait is as good as never. */
const NO_KEEPALIVE_MS = 2 ** 31 - 1;
/** Missed keepalive answers after which the client counts as gone. */
const KEEPALIVE_COUNT_MAX = 3;
/** Environment variables (`env` requests) kept per session, and the longest name or value. */
const MAX_ENVIRONMENT = 64;
const MAX_ENVIRONMENT_TEXT = 1024;
/** How long a closing connection may wait for the client to close its side before it is dropped. */
const CLOSE_LINGER_MS = 2000;
/** The end of the client's input reads as a terminal's end of input: Ctrl-D. */
const END_OF_INPUT = Uint8Array.of(0x04);
const NO_BYTES = Buffer.alloc(0);

const NEEDS_TERMINAL =
  'This server needs an interactive terminal: connect without a command, and without -T (ssh -t forces one).';
const LOGIN_PROMPT = 'Password: ';

/** RFC 4253 §11.1 reason codes, as a refusal before the key exchange sends them. */
const DISCONNECT_HOST_NOT_ALLOWED = 1;
const DISCONNECT_BY_APPLICATION = 11;
const DISCONNECT_TOO_MANY_CONNECTIONS = 12;
const SSH_MSG_DISCONNECT = 1;

/** Starts listening; rejects with ServerStartError when the address cannot be bound. */
export async function listenSsh(options: SshListenOptions): Promise<Listener> {
  const { admission, logger } = options;
  const sshServer = new ssh2.Server({
    hostKeys: [options.hostKey],
    ident: IDENT,
    keepaliveInterval: options.keepaliveIntervalMs > 0 ? options.keepaliveIntervalMs : NO_KEEPALIVE_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
  });
  const failures = new LoginFailures();
  /** Sockets on their way to a session, by the address and port that ssh2 names its clients by. */
  const arrivals = new Map<string, Arrival>();
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
    setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
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
    arrivals.set(key, { socket, peer, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      arrivals.delete(key);
    });
    sshServer.injectSocket(socket);
    // A socket handed over paused, its PROXY header read, flows now that ssh2 listens.
    socket.resume();
  };

  sshServer.on('connection', (client: SshClient, info: { ip: string; port: number }) => {
    const arrival = arrivals.get(`${info.ip}|${info.port}`);
    if (arrival === undefined) {
      client.end();
      return;
    }
    new Login(client, arrival, options, failures, () => {
      clearTimeout(arrival.timer);
      arrivals.delete(socketKey(arrival.socket));
    });
  });

  const server = net.createServer((socket) => {
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
 * Reads a private host key. With `generate`, a missing file is made first: a new ed25519 key in
 * OpenSSH's format, mode 0600, with its `.pub` beside it, so the host keeps its identity from
 * then on. Throws ServerStartError saying what is wrong.
 */
export async function loadHostKey(file: string, generate: boolean): Promise<HostKey> {
  let text: Buffer;
  let isNew = false;
  try {
    text = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unreadable(file, err);
    if (!generate) throw new ServerStartError(`cannot read ${file}: no such file`);
    ({ text, isNew } = await generateHostKey(file));
  }
  const parsed = ssh2.utils.parseKey(text);
  // The OpenSSH format may hold several keys; ssh2 serves the first, as sshd would.
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (key === undefined || key instanceof Error || !key.isPrivateKey()) {
    const why = key instanceof Error ? key.message : 'no private key in it';
    throw new ServerStartError(`${file} is not an SSH private key this server can use: ${why}`);
  }
  return { text, fingerprint: `${fingerprintOf(key.getPublicSSH())} (${keyTypeName(key.type)})`, isNew };
}

/** Reads an authorized_keys file: one public key per line; blank lines and # comments skipped. */
export async function readAuthorizedKeys(file: string): Promise<ParsedKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  const keys: ParsedKey[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    // sshd's options (from=, command=, restrict) would be restrictions this server does not enforce.
    if (!/^(ssh-|ecdsa-|sk-)/.test(line)) {
      throw new ServerStartError(`${file}:${index + 1}: key options are not supported; remove them, or the key`);
    }
    const key = ssh2.utils.parseKey(line);
    if (key instanceof Error) throw new ServerStartError(`${file}:${index + 1}: not a public key: ${key.message}`);
    keys.push(key);
  });
  return keys;
}

/** "SHA256:" and the base64 of the key blob's SHA-256, unpadded: what `ssh-keygen -l` prints. */
function fingerprintOf(publicBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
}

/** ssh-keygen's name of a key type: ED25519, RSA, ECDSA. */
function keyTypeName(type: string): string {
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  return type.replace(/^ssh-/, '').toUpperCase();
}

async function generateHostKey(file: string): Promise<{ text: Buffer; isNew: boolean }> {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'chuk-protocol-server host key' });
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // 'wx': a second server of the same launch, starting at the same moment, keeps the first one's key.
    await writeFile(file, pair.private, { mode: 0o600, flag: 'wx' });
    await writeFile(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { text: await readFile(file), isNew: false };
    throw new ServerStartError(`cannot write a new SSH host key to ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { text: Buffer.from(pair.private), isNew: true };
}

function unreadable(file: string, err: unknown): ServerStartError {
  const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
  return new ServerStartError(`cannot read ${file}: ${reason}`, { cause: err });
}

/** A socket between its acceptance and its session. */
interface Arrival {
  socket: net.Socket;
  peer: ClientPeer;
  /** The handshake timeout, running until the session starts. */
  timer: NodeJS.Timeout;
}

/** How ssh2 names a new client's socket: it hands over the client, not the socket. */
function socketKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** Failed logins by address, counted in a window that starts at the first failure. */
class LoginFailures {
  #byAddress = new Map<string, { count: number; since: number }>();

  isOverLimit(address: string): boolean {
    return (this.#current(address)?.count ?? 0) >= MAX_LOGIN_FAILURES;
  }

  /** Counts a failure; returns whether the address is now over the limit. */
  add(address: string): boolean {
    const now = Date.now();
    for (const [known, entry] of this.#byAddress) {
      if (now - entry.since >= LOGIN_FAILURE_WINDOW_MS) this.#byAddress.delete(known);
    }
    const entry = this.#byAddress.get(address) ?? { count: 0, since: now };
    entry.count++;
    this.#byAddress.set(address, entry);
    return entry.count >= MAX_LOGIN_FAILURES;
  }

  #current(address: string): { count: number } | undefined {
    const entry = this.#byAddress.get(address);
    return entry !== undefined && Date.now() - entry.since < LOGIN_FAILURE_WINDOW_MS ? entry : undefined;
  }
}

/** One client from its handshake to its session: the login, then the session channel's requests. */
class Login {
  readonly #client: SshClient;
  readonly #arrival: Arrival;
  readonly #options: SshListenOptions;
  readonly #failures: LoginFailures;
  readonly #started: () => void;
  readonly #logger: Logger;
  /** Methods offered to a client whose attempt failed, in ssh2's names. */
  readonly #methods: Array<'password' | 'keyboard-interactive' | 'publickey'>;
  #user = '';
  #hasSession = false;

  constructor(
    client: SshClient,
    arrival: Arrival,
    options: SshListenOptions,
    failures: LoginFailures,
    started: () => void,
  ) {
    this.#client = client;
    this.#arrival = arrival;
    this.#options = options;
    this.#failures = failures;
    this.#started = started;
    this.#logger = options.logger.child({ address: arrival.peer.address });
    this.#methods = [
      ...(options.auth.includes('publickey') ? (['publickey'] as const) : []),
      ...(options.auth.includes('password') ? (['password', 'keyboard-interactive'] as const) : []),
    ];
    client.on('error', (err) => this.#logger.debug({ err }, 'SSH connection error'));
    client.on('authentication', (context) => void this.#authenticate(context));
    client.on('session', (acceptSession, rejectSession) => {
      // One session per connection: a multiplexing client opens a connection per session instead.
      if (this.#hasSession) {
        rejectSession();
        return;
      }
      this.#hasSession = true;
      this.#serveSession(acceptSession());
    });
  }

  async #authenticate(context: AuthContext): Promise<void> {
    const address = this.#arrival.peer.address;
    if (this.#failures.isOverLimit(address)) {
      this.#client.end();
      return;
    }
    const method = context.method;
    if (method === 'none' && this.#options.auth.includes('none')) {
      this.#accept(context);
      return;
    }
    const attempt = { username: context.username, remoteAddress: address };
    if (method === 'password' && this.#methods.includes(method)) {
      this.#settle(context, await this.#ask({ ...attempt, method, password: context.password }));
      return;
    }
    if (method === 'keyboard-interactive' && this.#methods.includes(method)) {
      context.prompt([{ prompt: LOGIN_PROMPT, echo: false }], (answers) => {
        // An aborted prompt (the client tried another method meanwhile) answers nothing.
        if (!Array.isArray(answers)) return;
        void this.#ask({ ...attempt, method, password: answers[0] ?? '' }).then((ok) => this.#settle(context, ok));
      });
      return;
    }
    if (method === 'publickey' && this.#methods.includes(method)) {
      await this.#checkKey(context, attempt);
      return;
    }
    context.reject(this.#methods);
  }

  /**
   * A key is let in when it is listed in ssh_authorized_keys or the handler accepts it, and only
   * with a signature that proves the client holds it. Asked without one ("would this key do?"),
   * the answer is given at no cost: clients offer every key they hold, one after another.
   */
  async #checkKey(context: PublicKeyAuthContext, attempt: { username: string; remoteAddress: string }): Promise<void> {
    const key = ssh2.utils.parseKey(context.key.data);
    if (key instanceof Error) {
      context.reject(this.#methods);
      return;
    }
    const blob = key.getPublicSSH();
    const isListed = this.#options.authorizedKeys.some((listed) => listed.getPublicSSH().equals(blob));
    const isWelcome = async (): Promise<boolean> =>
      isListed ||
      (await this.#ask({
        ...attempt,
        method: 'publickey',
        publicKey: { type: key.type, data: blob, fingerprint: fingerprintOf(blob) },
      }));
    if (context.signature === undefined || context.blob === undefined) {
      if (await isWelcome()) context.accept();
      else context.reject(this.#methods);
      return;
    }
    const isSigned = key.verify(context.blob, context.signature, context.hashAlgo);
    this.#settle(context, isSigned && (await isWelcome()));
  }

  /** The handler's answer; one that throws is a refusal, logged. */
  async #ask(attempt: AuthenticationAttempt): Promise<boolean> {
    try {
      return (await this.#options.authenticate(attempt)) === true;
    } catch (err) {
      this.#logger.error({ err, user: attempt.username }, 'authenticate threw; the login is refused');
      return false;
    }
  }

  #settle(context: AuthContext, isAllowed: boolean): void {
    if (isAllowed) {
      this.#accept(context);
      return;
    }
    const address = this.#arrival.peer.address;
    const isOverLimit = this.#failures.add(address);
    this.#logger.info({ user: context.username, method: context.method }, 'SSH login failed');
    context.reject(this.#methods);
    if (isOverLimit) {
      this.#logger.warn(
        `SSH logins from ${address} failed ${MAX_LOGIN_FAILURES} times within ${LOGIN_FAILURE_WINDOW_MS / 1000} s: dropping its connections for a while`,
      );
      this.#client.end();
    }
  }

  #accept(context: AuthContext): void {
    this.#user = context.username;
    this.#logger.debug({ user: context.username, method: context.method }, 'SSH login');
    context.accept();
  }

  /** Collects the terminal the client asks for, then starts the session on shell or exec. */
  #serveSession(session: SshSession): void {
    const facts: TerminalFacts = {};
    const environment: Record<string, string> = {};
    let hasPty = false;
    let connection: SshSessionConnection | undefined;
    session.on('pty', (accept, _reject, info) => {
      hasPty = true;
      Object.assign(facts, { type: info.term, cols: info.cols, rows: info.rows });
      accept?.();
    });
    session.on('env', (accept, reject, info) => {
      const isKept =
        Object.keys(environment).length < MAX_ENVIRONMENT &&
        info.key.length <= MAX_ENVIRONMENT_TEXT &&
        info.val.length <= MAX_ENVIRONMENT_TEXT;
      if (!isKept) {
        reject?.();
        return;
      }
      environment[info.key] = info.val;
      facts.environment = environment;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      facts.cols = info.cols;
      facts.rows = info.rows;
      connection?.resized(info.cols, info.rows);
      accept?.();
    });
    const start = (acceptChannel: () => ServerChannel, command: string | undefined): void => {
      connection = this.#start(session, acceptChannel, command, hasPty, facts);
    };
    session.on('shell', (accept) => start(accept, undefined));
    session.on('exec', (accept, _reject, info) => start(accept, info.command));
    session.on('subsystem', (_accept, reject) => reject());
  }

  #start(
    session: SshSession,
    acceptChannel: () => ServerChannel,
    command: string | undefined,
    hasPty: boolean,
    facts: TerminalFacts,
  ): SshSessionConnection | undefined {
    const { admission, acceptsNoPty } = this.#options;
    const { socket, peer } = this.#arrival;
    const channel = acceptChannel();
    // The SSH connection serves this one session: when its channel closes, the connection goes.
    channel.once('close', () => {
      this.#client.end();
      setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
    });
    // A refused client stays an arrival, so that the handshake timeout and the listener's close still end it.
    if (!hasPty && !acceptsNoPty) {
      this.#logger.info({ user: this.#user, command }, 'SSH session without a terminal refused');
      refuseOnChannel(channel, NEEDS_TERMINAL);
      return undefined;
    }
    // Checked again now that it is a session: others may have taken the places during the login.
    const refusal = admission.check(peer.address);
    if (refusal !== undefined) {
      admission.refused(peer.address, refusal);
      refuseOnChannel(channel, refusal.message);
      return undefined;
    }
    this.#started();
    // `ssh host command` reads as the command typed first.
    if (command !== undefined) channel.unshift(Buffer.from(`${command}\r`));
    const connection = new SshSessionConnection(this.#client, session, channel, socket, {
      peer,
      user: this.#user,
      hasPty,
      facts,
      maxOutputBuffer: this.#options.maxOutputBuffer,
    });
    this.#options.onConnection(connection);
    return connection;
  }
}

/** Tells a channel's user why there is no session, on stderr, and ends it with exit status 1. */
function refuseOnChannel(channel: ServerChannel, message: string): void {
  channel.stderr.write(`${message}\r\n`);
  channel.exit(1);
  channel.end();
}

/** The environment variable that carries a resume token (docs/transports.md, "Session resume"). */
export const RESUME_VARIABLE = 'RESUME';

/** A session channel mapped onto the Connection contract. */
class SshSessionConnection implements SshConnection {
  readonly framing = 'stream' as const;
  readonly secure = true;
  readonly protocol = '';
  readonly path = '';
  readonly query = new URLSearchParams();
  /** The client's `RESUME` variable (`ssh -o SetEnv=RESUME=…`), kept out of `terminal.environment`. */
  readonly resumeToken: string | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly proxyAddress: string | undefined;
  readonly user: string;
  readonly hasPty: boolean;
  readonly #channel: ServerChannel;
  readonly #socket: net.Socket;
  readonly #writer: TurnWriter;
  readonly #maxOutputBuffer: number;
  readonly #facts: TerminalFacts;
  #onTerminal: ((facts: TerminalFacts) => void) | undefined;
  #isInputEnded = false;
  #isClosing = false;
  #end: ConnectionEnd | undefined;
  #closed: Promise<ConnectionEnd>;

  constructor(
    client: SshClient,
    session: SshSession,
    channel: ServerChannel,
    socket: net.Socket,
    options: { peer: ClientPeer; user: string; hasPty: boolean; facts: TerminalFacts; maxOutputBuffer: number },
  ) {
    this.#channel = channel;
    this.#socket = socket;
    // A channel waits for the client's window, or for the socket to close.
    this.#writer = new TurnWriter(channel, socket);
    this.#maxOutputBuffer = options.maxOutputBuffer;
    const { [RESUME_VARIABLE]: resumeToken, ...environment } = options.facts.environment ?? {};
    this.resumeToken = resumeToken;
    this.#facts = resumeToken === undefined ? options.facts : { ...options.facts, environment };
    this.remoteAddress = options.peer.address;
    this.remotePort = options.peer.port;
    this.proxyAddress = options.peer.proxyAddress;
    this.user = options.user;
    this.hasPty = options.hasPty;
    socket.setNoDelay(true);
    // Every error ends the connection; a client that stopped answering keepalives would never close its side.
    client.on('error', (error: Error & { level?: string }) => {
      this.#end ??= error.level === 'client-timeout' ? { reason: 'timeout' } : { reason: 'reset', error };
      socket.destroy();
    });
    channel.on('error', (error: Error) => {
      this.#end ??= { reason: 'reset', error };
      socket.destroy();
    });
    // EOF from the client (the session hears it), not the end of input that closing the channel brings.
    session.once('eof', () => (this.#isInputEnded = true));
    this.#closed = new Promise((resolve) => {
      const finish = (): void => {
        this.#isClosing = true;
        this.#end ??= { reason: 'peer-closed' };
        resolve(this.#end);
      };
      channel.once('close', finish);
      socket.once('close', finish);
    });
  }

  get bytesIn(): number {
    return this.#socket.bytesRead;
  }

  get bytesOut(): number {
    return this.#socket.bytesWritten;
  }

  get isClosed(): boolean {
    return this.#isClosing;
  }

  write(data: Uint8Array | string): Promise<void> {
    if (this.#isClosing || !this.#channel.writable) return READY;
    // Output still waiting from earlier turns means the client is not reading; what one turn
    // writes has had no chance to leave yet and does not count.
    const unsent = this.#channel.writableLength + this.#socket.writableLength;
    if (this.#writer.startTurn() && unsent > this.#maxOutputBuffer) {
      this.#end ??= { reason: 'slow-consumer' };
      this.#socket.destroy();
      return READY;
    }
    return this.#writer.write(data);
  }

  pause(): void {
    this.#channel.pause();
  }

  resume(): void {
    this.#channel.resume();
  }

  close(reason: CloseReason): Promise<void> {
    if (!this.#isClosing) {
      this.#isClosing = true;
      this.#end ??= { reason: 'local' };
      this.#writer.flush();
      const channel = this.#channel;
      if (channel.writable) {
        // The exit status goes after the output still waiting for the client's window; then EOF and close.
        channel.write(NO_BYTES, () => {
          channel.exit(reason === 'handler-ended' ? 0 : 1);
          channel.end();
        });
      }
      // A client that never answers the close would hold the connection open forever.
      setTimeout(() => this.#socket.destroy(), CLOSE_LINGER_MS).unref();
    }
    return this.#closed.then(() => undefined);
  }

  destroy(): void {
    this.#end ??= { reason: 'local' };
    this.#socket.destroy();
  }

  onData(listener: DataListener): void {
    this.#channel.on('data', listener);
    this.#channel.once('end', () => {
      if (this.#isInputEnded && !this.#isClosing) listener(END_OF_INPUT);
    });
  }

  onClose(listener: (end: ConnectionEnd) => void): void {
    void this.#closed.then(listener);
  }

  /** The pty request came before the session: its facts go to the listener at once. */
  onTerminal(listener: (facts: TerminalFacts) => void): void {
    this.#onTerminal = listener;
    if (Object.keys(this.#facts).length > 0) listener({ ...this.#facts });
  }

  control(): boolean {
    return false;
  }

  /** A window-change request. */
  resized(cols: number, rows: number): void {
    this.#onTerminal?.({ cols, rows });
  }
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
