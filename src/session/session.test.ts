// The transport contract from the session's side: a new transport is a Connection and a layer.
// Here an in-memory connection plays a raw terminal (as an SSH pty would): character mode with
// no telnet, terminal facts carried outside the byte stream.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { test } from 'node:test';

import fc from 'fast-check';
import { pino } from 'pino';

import { LineHandler } from '../handlers/line-handler.js';
import { TelnetHandler } from '../handlers/telnet-handler.js';
import { InProcessHub } from '../hub/hub.js';
import { READY } from '../transports/connection.js';
import type {
  CloseReason,
  Connection,
  ConnectionEnd,
  ConnectionListener,
  ControlMessage,
  TerminalFacts,
} from '../transports/connection.js';
import type { HandlerClass, ServerContext, SessionHandle } from './handle.js';
import { KeyReader } from './key-reader.js';
import type { InputToken } from './key-reader.js';
import { PlainLayer } from './plain-layer.js';
import { ResumeTokens } from './resume-tokens.js';
import { TelnetLayer } from './telnet-layer.js';
import { Session, sessionControl } from './session.js';

/** A connection whose other end is the test: bytes in by `type`, everything written kept as text. */
class MemoryConnection implements Connection {
  readonly framing = 'stream' as const;
  readonly remoteAddress = '192.0.2.7';
  readonly remotePort = 40000;
  readonly secure = true;
  readonly protocol = '';
  readonly path = '';
  readonly query = new URLSearchParams();
  readonly bytesIn = 0;
  readonly bytesOut = 0;
  isClosed = false;
  closedWith: CloseReason | undefined;
  screen = '';
  /** What was sent on the control channel, where the connection has one. */
  controls: ControlMessage[] = [];

  constructor(
    readonly hasControl = false,
    readonly resumeToken: string | undefined = undefined,
  ) {}
  #listeners: ConnectionListener[] = [];

  write(data: Uint8Array | string): Promise<void> {
    this.screen += typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    return READY;
  }

  pause(): void {}
  resume(): void {}

  close(reason: CloseReason): Promise<void> {
    this.closedWith = reason;
    this.#end({ reason: 'local' });
    return READY;
  }

  destroy(): void {
    this.#end({ reason: 'local' });
  }

  listen(listener: ConnectionListener): void {
    this.#listeners.push(listener);
  }

  type(keys: string): void {
    this.receive(Buffer.from(keys, 'utf8'));
  }

  receive(bytes: Uint8Array): void {
    for (const listener of this.#listeners) listener.data(this, bytes);
  }

  control(message: ControlMessage): boolean {
    if (this.hasControl) this.controls.push(message);
    return this.hasControl;
  }

  /** The client half-closes: it sends nothing more, and still reads. */
  endInput(): void {
    for (const listener of this.#listeners) listener.inputEnded(this);
  }

  /** The network drops the connection: no goodbye either way. */
  drop(): void {
    this.#end({ reason: 'reset' });
  }

  tellTerminal(facts: TerminalFacts): void {
    for (const listener of this.#listeners) listener.terminal(this, facts);
  }

  #end(end: ConnectionEnd): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const listener of this.#listeners) listener.closed(this, end);
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Resume on, and a client that edits its own line (a browser page) with a control channel, unless given another. */
interface ResumeSetup {
  grace: number;
  tokens: ResumeTokens<Session>;
  connection?: MemoryConnection;
}

function startRawTerminalSession(handlerClass: HandlerClass): { connection: MemoryConnection; session: Session } {
  return startSession(handlerClass, new MemoryConnection(), true, undefined);
}

function startResumableSession(
  handlerClass: HandlerClass,
  setup: ResumeSetup,
): { connection: MemoryConnection; session: Session } {
  return startSession(handlerClass, setup.connection ?? new MemoryConnection(true), false, setup);
}

function startSession(
  handlerClass: HandlerClass,
  connection: MemoryConnection,
  isRawTerminal: boolean,
  resume: ResumeSetup | undefined,
  protocol: 'plain' | 'telnet' = 'plain',
): { connection: MemoryConnection; session: Session } {
  const app = new InProcessHub();
  const sessions = new Set<SessionHandle>();
  const server: ServerContext = {
    name: 'raw',
    // The page a resumable session serves here: a websocket client, which can present a token.
    transport: resume === undefined ? 'tcp' : 'websocket',
    welcomeMessage: 'Welcome, raw terminal!',
    sessions,
    sendGlobalMessage: async (text) => void (await app.broadcast(text)),
  };
  const session = new Session(connection, {
    createLayer: (layerConnection, events, logger) =>
      protocol === 'telnet'
        ? new TelnetLayer(layerConnection, { preferredMode: 'line', keepaliveInterval: 0, events, logger })
        : new PlainLayer({ messageFraming: false, serverEchoes: isRawTerminal }),
    handlerClass,
    server,
    app,
    logger: pino({ level: 'silent' }),
    limits: { idleTimeout: 0, maxSessionTime: 0, maxLineLength: 100, resumeGrace: resume?.grace ?? 0 },
    resumeTokens: resume?.tokens,
  });
  sessions.add(session);
  void sessionControl.start(session);
  return { connection, session };
}

class Terminal extends TelnetHandler {
  sizes: string[] = [];

  override async onWindowSize(cols: number, rows: number): Promise<void> {
    this.sizes.push(`${cols}x${rows}`);
    await this.sendLine(`size ${cols}x${rows}`);
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'info') for (const line of this.describeTerminal()) await this.sendLine(line);
    else await this.sendLine(`Echo: ${command}`);
  }
}

test('a raw terminal gets character mode: the server echoes, edits and answers', async () => {
  const { connection, session } = startRawTerminalSession(Terminal);
  await tick();
  assert.equal(session.mode, 'character');
  assert.equal(session.serverEchoes, true);
  assert.equal(connection.screen, 'Welcome, raw terminal!\r\n> ');
  // Typing is echoed key by key; Backspace erases on screen; Enter (a pty sends CR) submits.
  connection.type('hellp');
  connection.type('\x7f');
  connection.type('o\r');
  await tick();
  assert.equal(connection.screen, 'Welcome, raw terminal!\r\n> hellp\b \bo\r\nEcho: hello\r\n> ');
});

test('terminal facts from outside the byte stream reach terminal, onWindowSize and the editor', async () => {
  const { connection, session } = startRawTerminalSession(Terminal);
  await tick();
  connection.tellTerminal({ type: 'xterm-256color', cols: 100, rows: 30, environment: { LANG: 'en_GB.UTF-8' } });
  await tick();
  assert.equal(session.terminal.type, 'xterm-256color');
  assert.deepEqual([session.terminal.cols, session.terminal.rows], [100, 30]);
  assert.equal(session.terminal.environment.LANG, 'en_GB.UTF-8');
  assert.ok(connection.screen.includes('size 100x30'));
  connection.type('info\r');
  await tick();
  assert.match(
    connection.screen,
    /Mode: character mode\r\nTerminal type: xterm-256color\r\nWindow size: 100x30\r\nServer echo: yes/,
  );
});

test("what one session's transport tells of its terminal is that session's alone", async () => {
  const told = startRawTerminalSession(Terminal);
  const untold = startRawTerminalSession(Terminal);
  await tick();
  told.connection.tellTerminal({ type: 'vt100', cols: 132, rows: 43, environment: { TZ: 'UTC' } });
  told.connection.tellTerminal({ cols: 90, rows: 40 });
  await tick();
  assert.deepEqual(
    [told.session.terminal.type, told.session.terminal.cols, told.session.terminal.rows],
    ['vt100', 90, 40],
  );
  assert.deepEqual(told.session.terminal.environment, { TZ: 'UTC' });
  assert.deepEqual(
    [untold.session.terminal.type, untold.session.terminal.cols, untold.session.terminal.rows],
    [undefined, undefined, undefined],
  );
  assert.deepEqual(untold.session.terminal.environment, {});
  untold.connection.type('info\r');
  await tick();
  assert.match(untold.connection.screen, /Terminal type: unknown/);
});

test('a hidden answer on a raw terminal is not echoed; the line handler gets the same editor', async () => {
  class Login extends LineHandler {
    override async onConnect(): Promise<void> {
      const password = await this.readLine('Password: ', { echo: false });
      await this.sendLine(`Got ${password.length} characters`);
      await this.showPrompt();
    }

    override async onCommandSubmitted(command: string): Promise<void> {
      await this.sendLine(`Echo: ${command}`);
    }
  }
  const { connection } = startRawTerminalSession(Login);
  await tick();
  connection.type('secret\r');
  await tick();
  assert.equal(connection.screen, 'Password: \r\nGot 6 characters\r\n> ');
  connection.type('ab\x1b[Dc\r');
  await tick();
  assert.ok(connection.screen.endsWith('> ab\x1b[1Dcb\x1b[1D\r\nEcho: acb\r\n> '), JSON.stringify(connection.screen));
});

test('closing says why to the transport', async () => {
  const { connection, session } = startRawTerminalSession(Terminal);
  await tick();
  await session.close('Bye.');
  assert.equal(connection.closedWith, 'handler-ended');
  assert.ok(connection.screen.endsWith('Bye.\r\n'));
});

/** Resolves when `session` has ended; fails the test when it has not within a second. */
async function ended(session: Session): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('the session did not end')), 1000);
  });
  await Promise.race([session.closed, late]).finally(() => clearTimeout(timer));
}

/** Answers each line after a while, as a handler that looks something up does. */
class SlowEcho extends TelnetHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await this.sendLine(`Later: ${command}`);
  }
}

test('a client that half-closes has every line it sent answered before the session closes', async () => {
  const { connection, session } = startRawTerminalSession(SlowEcho);
  await tick();
  // `printf 'one\rtwo\r' | nc -N host port`: both lines, then the end of the input, at once.
  connection.type('one\rtwo\r');
  connection.endInput();
  await tick();
  assert.equal(connection.isClosed, false, 'the answers are still being worked out');
  await ended(session);
  assert.equal(connection.closedWith, 'client-closed');
  assert.ok(connection.screen.includes('Later: one\r\n'), JSON.stringify(connection.screen));
  assert.ok(connection.screen.includes('Later: two\r\n'), JSON.stringify(connection.screen));
});

test('after a half-close, a readLine that nothing can answer ends the session; a line left without Enter is dropped', async () => {
  const asked: string[] = [];
  class Login extends TelnetHandler {
    override async onConnect(): Promise<void> {
      await super.onConnect();
      asked.push(await this.readLine('Name? '));
      asked.push(await this.readLine('Password? '));
    }
  }
  const { connection, session } = startRawTerminalSession(Login);
  await tick();
  connection.type('ada\rsecr');
  connection.endInput();
  await ended(session);
  assert.equal(connection.closedWith, 'client-closed');
  assert.deepEqual(asked, ['ada']);
});

test('a half-close while onConnect still runs ends the session once onConnect and the lines typed ahead are done', async () => {
  class SlowStart extends SlowEcho {
    override async onConnect(): Promise<void> {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await super.onConnect();
    }
  }
  const { connection, session } = startRawTerminalSession(SlowStart);
  connection.type('early\r');
  connection.endInput();
  await tick();
  assert.equal(connection.isClosed, false);
  await ended(session);
  assert.equal(connection.closedWith, 'client-closed');
  assert.match(connection.screen, /Welcome, raw terminal!\r\n> .*Later: early\r\n/s);
});

test('Tab completes the word before the cursor from the handler, as shells do', async () => {
  class Commands extends TelnetHandler {
    override completeWord(word: string, line: string): readonly string[] {
      return line.startsWith('help ') ? ['status', 'uptime'] : ['help', 'history', 'status', 'uptime'];
    }

    override async onCommandSubmitted(command: string): Promise<void> {
      await this.sendLine(`ran ${command}`);
    }
  }
  const { connection } = startRawTerminalSession(Commands);
  await tick();
  const from = (): number => connection.screen.length;
  let start = from();
  connection.type('st\t');
  await tick();
  assert.equal(connection.screen.slice(start), 'status ');
  connection.type('\r');
  await tick();
  assert.ok(connection.screen.endsWith('ran status \r\n> '));
  // Several matches that agree no further are listed, and the line comes back as it was.
  start = from();
  connection.type('h\t');
  await tick();
  assert.equal(connection.screen.slice(start), 'h\r\nhelp  history\r\n> h');
  // Where they agree further, the common part is typed; no match rings the bell.
  connection.type('e\t');
  await tick();
  assert.ok(connection.screen.endsWith('> help '), JSON.stringify(connection.screen.slice(start)));
  start = from();
  connection.type('x\t');
  await tick();
  assert.equal(connection.screen.slice(start), 'x\x07');
});

test('Ctrl-L redraws the prompt and the line at the top of a clean screen; while a command runs it only clears', async () => {
  let finish!: () => void;
  class Slow extends TelnetHandler {
    override async onCommandSubmitted(command: string): Promise<void> {
      if (command === 'slow') await new Promise<void>((resolve) => (finish = resolve));
      await this.sendLine(`done ${command}`);
    }
  }
  const { connection } = startRawTerminalSession(Slow);
  await tick();
  connection.type('ab\x0c');
  await tick();
  assert.ok(connection.screen.endsWith('> ab\x1b[H\x1b[2J> ab'), JSON.stringify(connection.screen));
  connection.type('\x7f\x7fslow\r');
  await tick();
  const start = connection.screen.length;
  connection.type('\x0c');
  await tick();
  finish();
  await tick();
  assert.equal(connection.screen.slice(start), '\x1b[H\x1b[2Jdone slow\r\n> ');
});

/** A handler that counts its hooks and keeps state across a dropped connection. */
class Counter extends LineHandler {
  /** The handler of the session started last, for tests to read its hooks' counts. */
  static latest: Counter | undefined;
  count = 0;
  resumed = 0;
  disconnected = 0;

  constructor(session: SessionHandle) {
    super(session);
    Counter.latest = this;
  }

  override async onConnect(): Promise<void> {
    const name = await this.readLine('Name: ', { echo: false });
    await this.sendLine(`Hello ${name}`);
    await this.showPrompt();
  }

  override async onCommandSubmitted(): Promise<void> {
    this.count++;
    await this.sendLine(`count ${this.count}`);
  }

  override async onResume(): Promise<void> {
    this.resumed++;
  }

  override async onDisconnect(): Promise<void> {
    this.disconnected++;
  }
}

function tokenOf(connection: MemoryConnection): string {
  const offer = connection.controls.findLast((message) => message.type === 'session');
  assert.ok(offer?.type === 'session', JSON.stringify(connection.controls));
  return offer.token;
}

test('a dropped connection keeps its session: the readLine waits, output meanwhile is replayed on resume', async () => {
  const tokens = new ResumeTokens<Session>();
  const { connection, session } = startResumableSession(Counter, { grace: 60, tokens });
  await tick();
  const first = tokenOf(connection);
  assert.match(first, /^[\w-]{22}$/, '128 bits in base64url');
  assert.deepEqual(connection.controls[0], { type: 'session', token: first, resumed: false, grace: 60 });
  connection.drop();
  await tick();
  assert.equal(session.isClosed, false);
  assert.equal(typeof session.info().detachedAt, 'number');
  await session.write('Meanwhile...\n');

  const comeback = new MemoryConnection(true, first);
  const taken = tokens.take(first);
  assert.equal(taken, session);
  sessionControl.resume(session, comeback);
  await tick();
  // Where the client draws the line, output that comes while a question waits starts on a line of its own.
  assert.equal(comeback.screen, '\r\nMeanwhile...\r\nName: ', 'missed output replayed');
  assert.equal(session.info().detachedAt, undefined);
  const second = tokenOf(comeback);
  assert.notEqual(second, first, 'a new token on every resume');
  assert.equal(tokens.has(first), false, 'the old token is used up');
  // The question asked before the drop still waits, hidden: the client is told again.
  assert.deepEqual(comeback.controls.at(-1), { type: 'input', hidden: true });
  comeback.type('secret\r');
  await tick();
  assert.ok(comeback.screen.endsWith('Hello secret\r\n> '), JSON.stringify(comeback.screen));
  assert.deepEqual(comeback.controls.at(-1), { type: 'input', hidden: false });
  comeback.type('one\r');
  comeback.type('two\r');
  await tick();
  assert.ok(comeback.screen.endsWith('count 2\r\n> '), JSON.stringify(comeback.screen));
  assert.equal(connection.screen.includes('Hello'), false);
  await session.close();
});

test('a session whose grace period ends gets onDisconnect once, and its token resumes nothing', async () => {
  const tokens = new ResumeTokens<Session>();
  const { connection, session } = startResumableSession(Counter, { grace: 0.05, tokens });
  const handler = Counter.latest;
  await tick();
  const token = tokenOf(connection);
  connection.drop();
  await tick();
  assert.equal(handler?.disconnected, 0, 'not while the session waits');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(session.isClosed, true);
  assert.equal(handler?.disconnected, 1);
  assert.equal(handler?.resumed, 0);
  assert.equal(tokens.has(token), false);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(handler?.disconnected, 1);
});

test('resume: a session the client took back gets onResume; one ended by the handler is not waited for', async () => {
  const tokens = new ResumeTokens<Session>();
  const { connection, session } = startResumableSession(Counter, { grace: 60, tokens });
  const handler = Counter.latest;
  await tick();
  connection.drop();
  await tick();
  const comeback = new MemoryConnection(true);
  sessionControl.resume(tokens.take(tokenOf(connection))!, comeback);
  await tick();
  assert.equal(handler?.resumed, 1);
  assert.equal(handler?.disconnected, 0);
  await session.close('Bye.');
  assert.equal(handler?.disconnected, 1);
  assert.equal(tokens.has(tokenOf(comeback)), false, 'an ended session leaves no token behind');
});

test('a client without a control channel is given no token, and its session ends when the connection drops', async () => {
  const tokens = new ResumeTokens<Session>();
  const { connection, session } = startResumableSession(Counter, {
    grace: 60,
    tokens,
    connection: new MemoryConnection(),
  });
  await tick();
  connection.drop();
  await session.closed;
  assert.deepEqual(connection.controls, []);
});

test('a token the handler offers replaces the one the control channel sent, and the client is sent it too', async () => {
  const tokens = new ResumeTokens<Session>();
  const { connection, session } = startResumableSession(Counter, { grace: 60, tokens });
  await tick();
  const sent = tokenOf(connection);
  const offered = session.offerResume();
  assert.ok(offered !== undefined && offered !== sent, `offered ${offered}, sent ${sent}`);
  assert.equal(tokenOf(connection), offered);
  assert.equal(tokens.has(sent), false);
  assert.equal(tokens.has(offered), true);
  await session.close();
  assert.equal(session.offerResume(), undefined, 'nothing to come back to once it has ended');
});

/**
 * A session whose handler records each line and answers it, as the echo sample does: a line
 * client's (tcp) or a raw terminal's, where the server echoes and edits. `receive` overridden,
 * to the same effect, where `keyByKey`.
 */
function startLineRecorder(
  keyByKey: boolean,
  isRawTerminal = false,
): { connection: MemoryConnection; lines: string[] } {
  const lines: string[] = [];
  class Recorder extends TelnetHandler {
    override async onCommandSubmitted(command: string): Promise<void> {
      lines.push(command);
      await this.sendLine(`Echo: ${command}`);
    }
  }
  class KeyByKey extends Recorder {
    override receive(token: InputToken): boolean | Promise<boolean> {
      return super.receive(token);
    }
  }
  const { connection } = startSession(keyByKey ? KeyByKey : Recorder, new MemoryConnection(), isRawTerminal, undefined);
  return { connection, lines };
}

test('whole lines from a line client skip the key reader and the editor, and arrive as they would key by key', async () => {
  const push = KeyReader.prototype.push;
  let pushes = 0;
  KeyReader.prototype.push = function (this: KeyReader, ...args: Parameters<KeyReader['push']>) {
    pushes++;
    return push.apply(this, args);
  };
  try {
    const whole = startLineRecorder(false);
    const keyed = startLineRecorder(true);
    await tick();
    for (const { connection } of [whole, keyed]) connection.type('look\r\nsay hello\n\r\n');
    await tick();
    assert.deepEqual(whole.lines, ['look', 'say hello', '']);
    assert.deepEqual(keyed.lines, whole.lines);
    assert.equal(pushes, 1, 'only the handler that sees keys had them read');
  } finally {
    KeyReader.prototype.push = push;
  }
});

test('lines reach the handler, and the screen shows them, as they would key by key, whatever they hold, however the reads cut them, echoed or not', async () => {
  // Mostly plain text, some of it longer than max_line_length (100); now and then editing keys,
  // a tab, non-ASCII or an arrow; every line end. Reads cut mostly between lines.
  const plain = fc.constantFrom('a', 'Z', ' ', '~', 'x'.repeat(60));
  const other = fc.constantFrom('\x7f', '\t', 'é', '\x1b[A', '\x15');
  const end = fc.oneof(
    { arbitrary: fc.constantFrom('\r\n', '\n'), weight: 8 },
    { arbitrary: fc.constant('\r'), weight: 1 },
  );
  const line = fc
    .tuple(fc.array(fc.oneof({ arbitrary: plain, weight: 30 }, { arbitrary: other, weight: 1 }), { maxLength: 6 }), end)
    .map(([pieces, lineEnd]) => pieces.join('') + lineEnd);
  const cut = fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, { arbitrary: fc.nat(), weight: 1 });
  const read = fc.tuple(fc.array(line, { minLength: 1, maxLength: 8 }), cut);
  await fc.assert(
    fc.asyncProperty(
      fc.array(read, { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      fc.option(fc.integer({ min: 10, max: 120 })),
      async (reads, isRawTerminal, cols) => {
        // Each read is some lines, cut short at a random point now and then (the rest goes with the next read).
        const input = Buffer.from(reads.map(([lines]) => lines.join('')).join(''), 'utf8');
        const chunks: Buffer[] = [];
        let from = 0;
        let end = 0;
        for (const [lines, cut] of reads) {
          end += Buffer.byteLength(lines.join(''));
          const to = cut === null ? end : Math.min(end, from + (cut % (end - from + 1)));
          chunks.push(input.subarray(from, to));
          from = to;
        }
        chunks.push(input.subarray(from));
        const whole = startLineRecorder(false, isRawTerminal);
        const keyed = startLineRecorder(true, isRawTerminal);
        for (const { connection } of [whole, keyed]) if (cols !== null) connection.tellTerminal({ cols, rows: 24 });
        await tick();
        for (const chunk of chunks) {
          whole.connection.receive(chunk);
          keyed.connection.receive(chunk);
        }
        for (let i = 0; i < 4; i++) await tick();
        assert.deepEqual(whole.lines, keyed.lines);
        assert.equal(whole.connection.screen, keyed.connection.screen);
      },
    ),
    { numRuns: 300 },
  );
});

test('lines read whole, many in one read, go into the history in order, as lines typed key by key do', async () => {
  const { connection, lines } = startLineRecorder(false, true);
  await tick();
  connection.type('north\r\nlook\r\nsay hi\r\n');
  await tick();
  // Up three times brings back the oldest; then, that one now the newest, Up twice the one before it.
  connection.type('\x1b[A\x1b[A\x1b[A\r');
  await tick();
  connection.type('\x1b[A\x1b[A\r');
  for (let i = 0; i < 3; i++) await tick();
  assert.deepEqual(lines, ['north', 'look', 'say hi', 'north', 'say hi']);
});

test('a whole line read while keys from an earlier read still wait for the handler comes after them', async () => {
  const { connection, lines } = startLineRecorder(false);
  await tick();
  // More keys than a session hands its handler in one turn, then a whole line in the same turn.
  connection.type(`${'x\x7f'.repeat(40)}first\r\n`);
  connection.type('second\r\n');
  for (let i = 0; i < 4; i++) await tick();
  assert.deepEqual(lines, ['first', 'second']);
});

test('lines read whole answer a waiting readLine first; the rest go to processLine in order', async () => {
  const seen: string[] = [];
  class Asker extends LineHandler {
    override async onConnect(): Promise<void> {
      seen.push(`name: ${await this.readLine('Name? ')}`);
    }

    override processLine(line: string): Promise<boolean> {
      seen.push(line);
      return Promise.resolve(true);
    }
  }
  const { connection } = startSession(Asker, new MemoryConnection(), false, undefined);
  await tick();
  connection.type('Ada\r\nfirst\r\nsecond\r\n');
  for (let i = 0; i < 3; i++) await tick();
  assert.deepEqual(seen, ['name: Ada', 'first', 'second']);
});

test('sendLine ends every line with CR LF, a line with none of its own copied once, and prints above a prompt', async () => {
  class Lines extends LineHandler {
    static last: Lines | undefined;

    override async onConnect(): Promise<void> {
      Lines.last = this;
      await super.onConnect();
    }

    override async onCommandSubmitted(command: string): Promise<void> {
      if (command === 'lines') {
        await this.sendLine('plain');
        await this.sendLine('one\ntwo\r\nthree');
        await this.sendLine('bare\rcr');
        await this.sendLine();
      }
    }
  }
  const { connection, session } = startSession(Lines, new MemoryConnection(), false, undefined);
  await tick();
  connection.type('lines\r\n');
  await tick();
  assert.equal(connection.screen, 'Welcome, raw terminal!\r\n> plain\r\none\r\ntwo\r\nthree\r\nbare\rcr\r\n\r\n> ');
  // The prompt is up: a line from outside goes on a line of its own, and the prompt comes again below it.
  await session.notify('news\n');
  await Lines.last!.sendLine('more news');
  assert.ok(connection.screen.endsWith('> \r\nnews\r\n> \r\nmore news\r\n> '), JSON.stringify(connection.screen));
});

test('written text reaches the wire and the output event with every line end made CR LF once, whatever its line ends, watched or not', async () => {
  class Quiet extends LineHandler {
    override async onConnect(): Promise<void> {}
  }
  const piece = fc.constantFrom('a', 'é', '\r', '\n', '\r\n');
  for (const protocol of ['plain', 'telnet'] as const) {
    const watched = startSession(Quiet, new MemoryConnection(), false, undefined, protocol);
    const unwatched = startSession(Quiet, new MemoryConnection(), false, undefined, protocol);
    let published = '';
    watched.session.app.events.on('output', ({ text }) => (published += text));
    await tick();
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (pieces) => {
        const text = pieces.join('');
        const shown = text.replace(/\r?\n/g, '\r\n');
        // On the wire, telnet sends a CR of the text's own as CR NUL (RFC 854).
        const sent = protocol === 'telnet' ? shown.replace(/\r(?!\n)/g, '\r\0') : shown;
        const before = [watched.connection.screen.length, unwatched.connection.screen.length, published.length];
        await watched.session.write(text);
        await unwatched.session.write(text);
        await tick();
        assert.equal(watched.connection.screen.slice(before[0]), sent, protocol);
        assert.equal(unwatched.connection.screen.slice(before[1]), sent, protocol);
        assert.equal(published.slice(before[2]), shown, protocol);
      }),
    );
  }
});

test('a burst of lines whose answers are written at once costs no promise per line; an async onCommandSubmitted costs some', async () => {
  class Returning extends LineHandler {
    override onCommandSubmitted(command: string): Promise<void> {
      return this.sendLine(`Echo: ${command}`);
    }
  }
  class Awaiting extends LineHandler {
    override async onCommandSubmitted(command: string): Promise<void> {
      await this.sendLine(`Echo: ${command}`);
    }
  }
  const lines = 200;
  const burst = Array.from({ length: lines }, (_, i) => `line ${i}\r\n`).join('');
  const promisesPerBurst = async (handlerClass: HandlerClass): Promise<{ promises: number; screen: string }> => {
    const { connection } = startSession(handlerClass, new MemoryConnection(), false, undefined);
    await tick();
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    }).enable();
    const isAnswered = (): boolean => connection.screen.endsWith(`line ${lines - 1}\r\n> `);
    try {
      connection.type(burst);
      // The rest of the burst comes in later turns, a budget's worth each; waited for with one promise.
      await new Promise<void>((resolve) => {
        const poll = (): void => void (isAnswered() ? resolve() : setImmediate(poll));
        poll();
      });
    } finally {
      hook.disable();
    }
    return { promises, screen: connection.screen };
  };
  const returning = await promisesPerBurst(Returning);
  const awaiting = await promisesPerBurst(Awaiting);
  const answers = Array.from({ length: lines }, (_, i) => `Echo: line ${i}\r\n> `).join('');
  assert.equal(returning.screen, `Welcome, raw terminal!\r\n> ${answers}`);
  assert.equal(awaiting.screen, returning.screen);
  assert.ok(returning.promises < 4, `${returning.promises} promises for ${lines} lines`);
  assert.ok(awaiting.promises >= lines, `${awaiting.promises} promises for ${lines} lines`);
});

test('a session whose welcome and prompt are written at once starts and ends with no promise; async hooks cost some', () => {
  class Plain extends LineHandler {}
  class Awaiting extends LineHandler {
    override async onConnect(): Promise<void> {
      await this.sendWelcome();
      await this.showPrompt();
    }

    override async onDisconnect(): Promise<void> {}
  }
  // Counted over synchronous code only: the test runner makes promises of its own between turns.
  const promisesPerSession = (handlerClass: HandlerClass): { promises: number; screen: string; isEnded: boolean } => {
    let promises = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'PROMISE') promises++;
      },
    }).enable();
    try {
      const { connection, session } = startSession(handlerClass, new MemoryConnection(), false, undefined);
      const screen = connection.screen;
      connection.drop();
      return { promises, screen, isEnded: session.app.localCount === 0 };
    } finally {
      hook.disable();
    }
  };
  const plain = promisesPerSession(Plain);
  assert.deepEqual(plain, { promises: 0, screen: 'Welcome, raw terminal!\r\n> ', isEnded: true });
  const awaiting = promisesPerSession(Awaiting);
  assert.ok(awaiting.promises >= 2, `${awaiting.promises} promises`);
});

test('on a raw terminal, lines read whole are echoed and kept in history; one typed ahead of a password question is not shown', async () => {
  const seen: string[] = [];
  class Login extends TelnetHandler {
    override async onConnect(): Promise<void> {
      const name = await this.readLine('Name? ');
      const password = await this.readLine('Password: ', { echo: false });
      await this.sendLine(`Hello ${name}, ${password.length} characters`);
      await this.showPrompt();
    }

    override async onCommandSubmitted(command: string): Promise<void> {
      seen.push(command);
    }
  }
  const { connection } = startRawTerminalSession(Login);
  await tick();
  connection.type('ada\r\nsecret\r\n');
  for (let i = 0; i < 3; i++) await tick();
  assert.equal(connection.screen, 'Name? ada\r\nPassword: \r\nHello ada, 6 characters\r\n> ');
  connection.type('look\r\n');
  await tick();
  // Up brings back the line read whole, as it would one typed key by key.
  connection.type('\x1b[A\r');
  await tick();
  assert.deepEqual(seen, ['look', 'look']);
});
