// SSH over ssh2 (RFC 4251-4254): each accepted socket's login, then its session channel as a
// Connection. Loaded by the listener when its first client arrives.
import type net from 'node:net';

import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type {
  AuthContext,
  Connection as SshClient,
  PublicKeyAuthContext,
  ServerChannel,
  Session as SshSession,
} from 'ssh2';

import type { AuthenticationAttempt } from '../session/handle.js';
import type { ClientPeer } from './client-address.js';
import { ConnectionEnding, READY, destroyUnlessClosed } from './connection.js';
import type { CloseReason, ConnectionListener, TerminalFacts } from './connection.js';
import { fingerprintOf, signingHostKey } from './ssh-keys.js';
import { IDENT } from './ssh.js';
import type { Arrival, SshConnection, SshListenOptions } from './ssh.js';
import { StreamSink, TurnWriter } from './turn-writer.js';

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
/** The end of the client's input reads as a terminal's end of input: Ctrl-D. */
const END_OF_INPUT = Uint8Array.of(0x04);
const NO_BYTES = Buffer.alloc(0);

const NEEDS_TERMINAL =
  'This server needs an interactive terminal: connect without a command, and without -T (ssh -t forces one).';
const LOGIN_PROMPT = 'Password: ';

/**
 * The ssh2 server that the listener hands its sockets to (`injectSocket`): it finds each
 * client's arrival by the address and port that ssh2 names it by, and serves its login.
 */
export function serveLogins(
  options: SshListenOptions,
  arrivalOf: (ip: string, port: number) => Arrival | undefined,
): ssh2.Server {
  const sshServer = new ssh2.Server({
    hostKeys: [{ key: signingHostKey(options.hostKey) }],
    ident: IDENT,
    keepaliveInterval: options.keepaliveIntervalMs > 0 ? options.keepaliveIntervalMs : NO_KEEPALIVE_MS,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
  });
  const failures = new LoginFailures();
  sshServer.on('connection', (client: SshClient, info: { ip: string; port: number }) => {
    const arrival = arrivalOf(info.ip, info.port);
    if (arrival === undefined) {
      client.end();
      return;
    }
    new Login(client, arrival, options, failures);
  });
  return sshServer;
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
  /** Made when the login first logs: a pino child with the server's redaction costs a connect some 20 µs. */
  #childLogger: Logger | undefined;
  /** Methods offered to a client whose attempt failed, in ssh2's names. */
  readonly #methods: Array<'password' | 'keyboard-interactive' | 'publickey'>;
  #user = '';
  #hasSession = false;

  constructor(client: SshClient, arrival: Arrival, options: SshListenOptions, failures: LoginFailures) {
    this.#client = client;
    this.#arrival = arrival;
    this.#options = options;
    this.#failures = failures;
    this.#methods = [
      ...(options.auth.includes('publickey') ? (['publickey'] as const) : []),
      ...(options.auth.includes('password') ? (['password', 'keyboard-interactive'] as const) : []),
    ];
    // Most connections that end without a goodbye end with an error: no logger is made for one nobody reads.
    client.on('error', (err) => {
      if (options.logger.isLevelEnabled('debug')) this.#logger.debug({ err }, 'SSH connection error');
    });
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

  get #logger(): Logger {
    this.#childLogger ??= this.#options.logger.child({ address: this.#arrival.peer.address });
    return this.#childLogger;
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
    const isListed = this.#options.authorizedKeys.some((listed) => listed.equals(blob));
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
    if (this.#options.logger.isLevelEnabled('debug'))
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
      destroyUnlessClosed(socket);
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
    this.#arrival.started();
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

/**
 * Whether the client's CLOSE for the channel has been read: ssh2 marks the channel's incoming side
 * at once, while its 'close' event waits for our side to end.
 */
function isClosedByClient(channel: ServerChannel): boolean {
  return (channel.incoming as { state?: string }).state === 'closed';
}

/** Tells a channel's user why there is no session, on stderr, and ends it with exit status 1. */
function refuseOnChannel(channel: ServerChannel, message: string): void {
  channel.stderr.write(`${message}\r\n`);
  channel.exit(1);
  channel.end();
}

/** The environment variable that carries a resume token (docs/transports.md, "Session resume"). */
export const RESUME_VARIABLE = 'RESUME';

/**
 * A channel as a TurnSink, with its socket corked around each write: ssh2 sends a packet in two
 * socket writes (the encrypted packet, then its MAC), which corked leave in one system call.
 * Each write on loopback costs the sender the whole delivery: a round trip's reply took two.
 */
class ChannelSink extends StreamSink {
  readonly #socket: net.Socket;

  constructor(channel: ServerChannel, socket: net.Socket) {
    super(channel, socket);
    this.#socket = socket;
  }

  override send(data: Uint8Array | string): boolean {
    return this.#corked(() => super.send(data));
  }

  override sendAll(pieces: ReadonlyArray<Uint8Array | string>): boolean {
    return this.#corked(() => super.sendAll(pieces));
  }

  #corked(write: () => boolean): boolean {
    this.#socket.cork();
    try {
      return write();
    } finally {
      this.#socket.uncork();
    }
  }
}

/** A session channel mapped onto the Connection contract. */
class SshSessionConnection extends ConnectionEnding implements SshConnection {
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
  #isInputEnded = false;
  #isClosing = false;

  constructor(
    client: SshClient,
    session: SshSession,
    channel: ServerChannel,
    socket: net.Socket,
    options: { peer: ClientPeer; user: string; hasPty: boolean; facts: TerminalFacts; maxOutputBuffer: number },
  ) {
    super();
    this.#channel = channel;
    this.#socket = socket;
    // A channel waits for the client's window, or for the socket to close.
    this.#writer = new TurnWriter(new ChannelSink(channel, socket));
    this.#maxOutputBuffer = options.maxOutputBuffer;
    const { [RESUME_VARIABLE]: resumeToken, ...environment } = options.facts.environment ?? {};
    this.resumeToken = resumeToken;
    this.#facts = resumeToken === undefined ? options.facts : { ...options.facts, environment };
    this.remoteAddress = options.peer.address;
    this.remotePort = options.peer.port;
    this.proxyAddress = options.peer.proxyAddress;
    this.user = options.user;
    this.hasPty = options.hasPty;
    // Every error ends the connection; a client that stopped answering keepalives would never close its side.
    client.on('error', (error: Error & { level?: string }) => {
      this.endFor(error.level === 'client-timeout' ? { reason: 'timeout' } : { reason: 'reset', error });
      socket.destroy();
    });
    channel.on('error', (error: Error) => {
      this.endFor({ reason: 'reset', error });
      socket.destroy();
    });
    // EOF from the client (the session hears it), not the end of input that closing the channel brings.
    session.once('eof', () => (this.#isInputEnded = true));
    const finish = (): void => {
      this.#isClosing = true;
      this.ended({ reason: 'peer-closed' });
    };
    channel.once('close', finish);
    socket.once('close', finish);
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
    if (this.#isClosing) return READY;
    const writer = this.#writer;
    // Checked at the turn's first write (see TcpConnection.write).
    if (!writer.isInTurn) {
      if (!this.#channel.writable) return READY;
      writer.startTurn();
      // Output still waiting from earlier turns means the client is not reading; what one turn
      // writes has had no chance to leave yet and does not count.
      if (this.#channel.writableLength + this.#socket.writableLength > this.#maxOutputBuffer) {
        this.endFor({ reason: 'slow-consumer' });
        this.#socket.destroy();
        return READY;
      }
    }
    return writer.write(data);
  }

  endTurn(): void {
    this.#writer.endTurn();
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
      this.endFor({ reason: 'local' });
      this.#writer.flush();
      const channel = this.#channel;
      if (channel.writable) {
        // The exit status goes after the output still waiting for the client's window; then EOF and close.
        channel.write(NO_BYTES, () => {
          channel.exit(reason === 'handler-ended' || reason === 'client-closed' ? 0 : 1);
          channel.end();
        });
      }
      // A client that never answers the close would hold the connection open forever.
      destroyUnlessClosed(this.#socket);
    }
    return this.untilEnded();
  }

  destroy(): void {
    this.endFor({ reason: 'local' });
    this.#socket.destroy();
  }

  override listen(listener: ConnectionListener): void {
    super.listen(listener);
    this.#channel.on('data', (bytes: Uint8Array) => listener.data(this, bytes));
    this.#channel.once('end', () => {
      // A client that closed the channel right after its EOF, as one that drops its link does,
      // can read no answer: its Ctrl-D would be typed to the handler for nothing.
      if (!this.#isInputEnded || this.#isClosing || isClosedByClient(this.#channel)) return;
      listener.data(this, END_OF_INPUT);
      // A handler that goes on past Ctrl-D is closed once it has answered what came before.
      listener.inputEnded(this);
    });
    // The pty request came before the session: its facts go to the listener at once.
    if (Object.keys(this.#facts).length > 0) listener.terminal(this, { ...this.#facts });
  }

  control(): boolean {
    return false;
  }

  /** A window-change request. */
  resized(cols: number, rows: number): void {
    this.listener?.terminal(this, { cols, rows });
  }
}
