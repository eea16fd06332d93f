// Telnet layer against scripted clients over real sockets: negotiation, terminal details, line ends, escaping.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { startServer } from '../../test/support/servers.js';
import { until } from '../../test/support/received-text.js';
import { CharacterHandler } from '../handlers/character-handler.js';
import { LineHandler } from '../handlers/line-handler.js';
import { TelnetHandler } from '../handlers/telnet-handler.js';
import type { ProtocolServer } from '../server/protocol-server.js';
import {
  AYT,
  BRK,
  CHARSET_ACCEPTED,
  CHARSET_REJECTED,
  CHARSET_REQUEST,
  DO,
  DONT,
  ENV_IS,
  ENV_SEND,
  ENV_VALUE,
  ENV_VAR,
  EOR,
  GA,
  IAC,
  IP,
  LM_MODE,
  LM_SLC,
  MODE_EDIT,
  NOP,
  OPT_BINARY,
  OPT_CHARSET,
  OPT_ECHO,
  OPT_EOR,
  OPT_LINEMODE,
  OPT_NAWS,
  OPT_NEW_ENVIRON,
  OPT_SGA,
  OPT_TTYPE,
  SB,
  SE,
  SLC_ACK,
  SLC_BRK,
  SLC_DEFAULT,
  SLC_EC,
  SLC_IP,
  SLC_NOSUPPORT,
  SLC_VARIABLE,
  TTYPE_IS,
  TTYPE_SEND,
  WILL,
  WONT,
} from '../telnet/constants.js';
import { TelnetDecoder } from '../telnet/decoder.js';
import { subnegotiation } from '../telnet/encoder.js';
import { seededRandom } from '../../test/support/seeded-random.js';
import type { SessionHandle } from './handle.js';

/** Handler instances by session id, so that tests can look at what a handler saw. */
const handlersBySession = new Map<string, unknown>();

// Handlers under test.

/** Character mode (like the echo sample): echoes lines, records sizes and lines, prints raw output on request. */
class CharacterEcho extends TelnetHandler {
  readonly sizes: Array<[number, number]> = [];
  readonly lines: string[] = [];

  constructor(session: SessionHandle) {
    super(session);
    handlersBySession.set(session.id, this);
  }

  override async onWindowSize(cols: number, rows: number): Promise<void> {
    this.sizes.push([cols, rows]);
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    this.lines.push(command);
    if (command === 'multi') await this.sendLine('one\ntwo');
    else if (command === 'info') for (const line of this.describeTerminal()) await this.sendLine(line);
    else if (command === 'raw') await this.sendRaw(Buffer.of(0x41, IAC, 0x42));
    else if (command === 'env') await this.sendLine(`USER=${this.terminal.environment.USER ?? ''}`);
    else if (command === 'charset') await this.sendLine(`charset=${this.terminal.charset}`);
    else if (command === 'options') await this.sendLine(`options=${this.terminal.options.join(', ')}`);
    else await this.sendLine(`Echo: ${command}`);
  }
}

/** Line mode: the client edits; same commands as CharacterEcho. */
class LineEcho extends LineHandler {
  readonly lines: string[] = [];

  constructor(session: SessionHandle) {
    super(session);
    handlersBySession.set(session.id, this);
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    this.lines.push(command);
    await this.sendLine(`Echo: ${command}`);
  }
}

/** Asks for a password first thing, as login screens do. */
class PasswordFirst extends LineHandler {
  override async onConnect(): Promise<void> {
    const password = await this.readLine('Password: ', { echo: false });
    await this.sendLine(`Got ${password.length} characters`);
    await this.showPrompt();
  }
}

/** Asks for a password on the `login` command, once negotiation is long over. */
class PasswordLater extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command !== 'login') return;
    const password = await this.readLine('Password: ', { echo: false });
    await this.sendLine(`Got ${password.length} characters`);
  }
}

/** Character handler asking for a password at once, before the echo decision. */
class CharacterPasswordFirst extends CharacterHandler {
  override async onConnect(): Promise<void> {
    const password = await this.readLine('Password: ', { echo: false });
    await this.sendLine(`Got ${password.length} characters`);
    await this.showPrompt();
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(`Echo: ${command}`);
  }
}

// Servers and scripted clients.

const clients: ScriptedClient[] = [];

after(() => {
  for (const client of clients) client.socket.destroy();
});

/** The handler of the server's only session. */
function onlyHandler<T>(server: ProtocolServer): T {
  const sessions = [...server.sessions];
  assert.equal(sessions.length, 1);
  return handlersBySession.get(sessions[0]!.id) as T;
}

/**
 * How a scripted client answers negotiation: 'agree' says yes to every DO/WILL and acknowledges
 * every DONT/WONT, statelessly (so it answers acknowledgements too, the worst case for loops);
 * 'refuse' says no to everything, also statelessly; 'silent' never answers.
 */
type Policy = 'agree' | 'refuse' | 'silent';

interface ClientOptions {
  policy: Policy;
  /** Names given on successive TTYPE SENDs; the last is repeated once they run out. */
  terminalTypes?: string[];
  /** Window size sent with WILL NAWS. */
  size?: [number, number];
  /** Answers TTYPE SEND this long after it came, as a client busy starting up does. */
  terminalTypeDelayMs?: number;
}

interface Negotiation {
  verb: number;
  option: number;
}

/** A telnet client that answers by policy and records everything the server sends. */
class ScriptedClient {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  /** Every negotiation the server sent, in order. */
  readonly negotiations: Negotiation[] = [];
  /** Every subnegotiation the server sent. */
  readonly subnegotiations: Array<{ option: number; payload: Uint8Array }> = [];
  /** Every other IAC command the server sent (GA, EOR, NOP…). */
  readonly commands: number[] = [];
  #raw: Buffer[] = [];
  #data: Buffer[] = [];
  #decoder = new TelnetDecoder();
  #options: ClientOptions;
  #ttypeIndex = 0;
  #waiters = new Set<() => void>();

  private constructor(socket: net.Socket, options: ClientOptions) {
    this.socket = socket;
    this.#options = options;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number, options: ClientOptions): Promise<ScriptedClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const client = new ScriptedClient(socket, options);
      clients.push(client);
      socket.once('connect', () => resolve(client));
      socket.once('error', reject);
    });
  }

  /** Everything received, telnet commands included. */
  get raw(): Buffer {
    return Buffer.concat(this.#raw);
  }

  /** The data received, telnet commands removed. */
  get data(): Buffer {
    return Buffer.concat(this.#data);
  }

  /** The text received, telnet commands removed. */
  get text(): string {
    return this.data.toString('utf8');
  }

  send(bytes: string | Uint8Array | number[]): Promise<void> {
    const data = Array.isArray(bytes) ? Buffer.from(bytes) : bytes;
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Sends one byte per TCP segment, with a pause so that the segments arrive apart. */
  async sendByteByByte(bytes: number[]): Promise<void> {
    for (const byte of bytes) {
      await this.send([byte]);
      await sleep(3);
    }
  }

  /** Whether the server sent IAC <verb> <option>. */
  received(verb: number, option: number): boolean {
    return this.negotiations.some((n) => n.verb === verb && n.option === option);
  }

  count(verb: number, option: number): number {
    return this.negotiations.filter((n) => n.verb === verb && n.option === option).length;
  }

  /** Resolves once `isDone` holds for what arrived, else fails after `timeoutMs`. */
  async until(what: string, isDone: () => boolean, timeoutMs = 2000): Promise<void> {
    if (isDone()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!isDone()) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${what}; text so far: ${JSON.stringify(this.text)}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** Waits for `expected` in the text received after `from` characters. */
  waitForText(expected: string, from = 0, timeoutMs = 2000): Promise<void> {
    return this.until(JSON.stringify(expected), () => this.text.indexOf(expected, from) !== -1, timeoutMs);
  }

  /** Sends `line` and waits for `expected` in the text that follows. */
  async ask(line: string, expected: string): Promise<void> {
    const from = this.text.length;
    await this.send(line);
    await this.waitForText(expected, from);
  }

  #receive(chunk: Buffer): void {
    this.#raw.push(chunk);
    const replies: number[][] = [];
    for (const event of this.#decoder.push(chunk)) {
      if (event.type === 'data') this.#data.push(Buffer.from(event.bytes));
      else if (event.type === 'command') this.commands.push(event.command);
      else if (event.type === 'negotiate') {
        this.negotiations.push({ verb: event.verb, option: event.option });
        replies.push(...this.#answer(event.verb, event.option));
      } else if (event.type === 'subnegotiation') {
        this.subnegotiations.push({ option: event.option, payload: event.payload });
        if (event.option === OPT_TTYPE && event.payload[0] === TTYPE_SEND) {
          const delay = this.#options.terminalTypeDelayMs;
          if (delay === undefined) replies.push(this.#nextTerminalType());
          else setTimeout(() => void this.send(this.#nextTerminalType()).catch(() => undefined), delay);
        }
      }
    }
    if (replies.length > 0 && !this.socket.destroyed) this.socket.write(Buffer.from(replies.flat()));
    for (const waiter of [...this.#waiters]) waiter();
  }

  #answer(verb: number, option: number): number[][] {
    const { policy, size } = this.#options;
    if (policy === 'silent') return [];
    const isYes = policy === 'agree' && (verb === DO || verb === WILL);
    if (verb === DO || verb === DONT) {
      const replies = [[IAC, isYes ? WILL : WONT, option]];
      if (isYes && option === OPT_NAWS && size !== undefined) replies.push(nawsFrame(...size));
      return replies;
    }
    return [[IAC, isYes ? DO : DONT, option]];
  }

  #nextTerminalType(): number[] {
    const names = this.#options.terminalTypes ?? [];
    if (names.length === 0) return [];
    const name = names[Math.min(this.#ttypeIndex, names.length - 1)]!;
    this.#ttypeIndex += 1;
    return terminalTypeFrame(name);
  }
}

/** An option number no one has registered, for refusal tests. */
const UNASSIGNED_OPTION = 99;
const NOTHING_ANSWERED_MS = 300;

// Opening.

test('a character handler opens negotiation at once: DO TTYPE, DO NAWS, WILL SGA before the client says anything', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const connected = Date.now();
  const client = await ScriptedClient.connect(port, { policy: 'silent' });
  await client.until(
    'the opening negotiation',
    () => client.received(DO, OPT_TTYPE) && client.received(DO, OPT_NAWS) && client.received(WILL, OPT_SGA),
    200,
  );
  assert.ok(Date.now() - connected < 200);
  assert.ok(client.received(WILL, OPT_EOR));
  assert.equal(client.received(DO, OPT_LINEMODE), false);
  await sleep(NOTHING_ANSWERED_MS);
  assert.equal(client.received(DO, OPT_NEW_ENVIRON), false, 'NEW-ENVIRON asked before the terminal type');
});

test('a line handler opens with DO TTYPE, DO NAWS and DO LINEMODE, and never offers SGA or ECHO', async () => {
  const { port } = await startServer('telnet', LineEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.until(
    'the opening negotiation',
    () => client.received(DO, OPT_TTYPE) && client.received(DO, OPT_NAWS) && client.received(DO, OPT_LINEMODE),
    200,
  );
  await client.until('LINEMODE MODE', () => client.subnegotiations.some((sb) => sb.option === OPT_LINEMODE));
  const mode = client.subnegotiations.find((sb) => sb.option === OPT_LINEMODE)!.payload;
  assert.equal(mode[0], LM_MODE);
  assert.equal(mode[1]! & MODE_EDIT, MODE_EDIT);
  await sleep(400);
  assert.equal(client.received(WILL, OPT_ECHO), false);
  assert.equal(client.received(WILL, OPT_SGA), false);
  await client.ask('hello\r\n', 'Echo: hello\r\n');
  assert.equal(client.text.includes('hello\r\nEcho'), false, 'the server echoed a line-mode line');
});

// Loops.

const REPEATED_REQUESTS: Array<[number, number]> = [
  [DO, OPT_ECHO],
  [DO, OPT_SGA],
  [DO, OPT_EOR],
  [DO, OPT_BINARY],
  [DO, OPT_CHARSET],
  [WILL, OPT_TTYPE],
  [WILL, OPT_NAWS],
  [WILL, OPT_NEW_ENVIRON],
  [WILL, OPT_BINARY],
];

for (const policy of ['agree', 'refuse'] as const) {
  test(`a client that ${policy === 'agree' ? 'agrees to' : 'refuses'} everything: negotiation ends, and many repeated DO/WILL get at most one answer each`, async () => {
    const { port } = await startServer('telnet', CharacterEcho);
    const client = await ScriptedClient.connect(port, { policy, terminalTypes: ['XTERM'], size: [80, 24] });
    await sleep(400);
    const settled = client.negotiations.length;
    await sleep(NOTHING_ANSWERED_MS);
    assert.equal(client.negotiations.length, settled, 'the server was still negotiating after the opening');

    const burst = Array.from({ length: 20 }, () => REPEATED_REQUESTS.flatMap(([verb, option]) => [IAC, verb, option]));
    await client.send(burst.flat());
    await sleep(NOTHING_ANSWERED_MS);
    const answers = client.negotiations.slice(settled);
    const byCommand = new Map<string, number>();
    for (const { verb, option } of answers)
      byCommand.set(`${verb} ${option}`, (byCommand.get(`${verb} ${option}`) ?? 0) + 1);
    for (const [key, times] of byCommand)
      assert.ok(times <= 1, `IAC ${key} sent ${times} times: ${JSON.stringify(answers)}`);
    assert.ok(answers.length <= REPEATED_REQUESTS.length * 2, `too many answers: ${answers.length}`);

    const afterBurst = client.negotiations.length;
    await sleep(NOTHING_ANSWERED_MS);
    assert.equal(client.negotiations.length, afterBurst, 'the server kept negotiating after the burst');
    await client.ask('still here\r\n', 'Echo: still here');
  });
}

test('an agreeing client that repeats its own requests gets no answer to the repeats', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'], size: [80, 24] });
  await sleep(400);
  const settled = client.negotiations.length;
  for (let round = 0; round < 5; round++) {
    await client.send(REPEATED_REQUESTS.filter(([, option]) => option !== OPT_BINARY).flatMap(([v, o]) => [IAC, v, o]));
    await sleep(20);
  }
  await sleep(NOTHING_ANSWERED_MS);
  assert.deepEqual(client.negotiations.slice(settled), []);
});

test('unknown options are refused: DO 99 gets WONT 99, WILL 99 gets DONT 99', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.send([IAC, DO, UNASSIGNED_OPTION, IAC, WILL, UNASSIGNED_OPTION]);
  await client.until(
    'both refusals',
    () => client.received(WONT, UNASSIGNED_OPTION) && client.received(DONT, UNASSIGNED_OPTION),
  );
  await sleep(NOTHING_ANSWERED_MS);
  assert.equal(client.count(WONT, UNASSIGNED_OPTION), 1);
  assert.equal(client.count(DONT, UNASSIGNED_OPTION), 1);
  assert.equal(client.received(WILL, UNASSIGNED_OPTION), false);
  assert.equal(client.received(DO, UNASSIGNED_OPTION), false);
});

// Terminal details.

test('NAWS and TTYPE IS sent one byte at a time give the same terminal as when sent whole', async () => {
  const { server, port } = await startServer('telnet', CharacterEcho);
  const results = [];
  for (const isSplit of [false, true]) {
    const client = await ScriptedClient.connect(port, { policy: 'silent' });
    await client.until('DO TTYPE', () => client.received(DO, OPT_TTYPE));
    await client.send([IAC, WILL, OPT_NAWS, IAC, WILL, OPT_TTYPE]);
    await client.until('TTYPE SEND', () => client.subnegotiations.some((sb) => sb.option === OPT_TTYPE));
    // 255 columns: the width byte is IAC and goes doubled.
    const frames = [...nawsFrame(255, 40), ...terminalTypeFrame('VT100')];
    if (isSplit) await client.sendByteByByte(frames);
    else await client.send(frames);
    const handler = onlyHandler<CharacterEcho>(server);
    const session = [...server.sessions][0]!;
    await client.until('the terminal type', () => session.terminal.type !== undefined);
    await client.ask('info\r\n', 'Server echo');
    results.push({
      cols: session.terminal.cols,
      rows: session.terminal.rows,
      type: session.terminal.type,
      sizes: handler.sizes,
    });
    client.socket.destroy();
    await session.closed;
  }
  assert.deepEqual(results[0], { cols: 255, rows: 40, type: 'VT100', sizes: [[255, 40]] });
  assert.deepEqual(results[1], results[0]);
});

test('a read that looks like a whole line but finishes a command is taken as the command, not typed', async () => {
  const { server, port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'silent' });
  await client.until('DO TTYPE', () => client.received(DO, OPT_TTYPE));
  await client.send([IAC, WILL, OPT_TTYPE]);
  await client.until('TTYPE SEND', () => client.subnegotiations.some((sb) => sb.option === OPT_TTYPE));
  await client.ask('first\r\n', 'Echo: first');
  const session = [...server.sessions][0]!;
  // The name's bytes and a CR LF arrive in a read of their own, between the command's start and end.
  await client.send([IAC, SB, OPT_TTYPE, TTYPE_IS]);
  await sleep(30);
  await client.send('hidden\r\n');
  await sleep(30);
  await client.send([IAC, SE]);
  await client.ask('last\r\n', 'Echo: last');
  assert.deepEqual(onlyHandler<CharacterEcho>(server).lines, ['first', 'last']);
  assert.equal(session.isClosed, false);
});

test('TTYPE is asked again until the client repeats a name, and the terminal type is reported', async () => {
  const { server, port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['VT220', 'VT100'] });
  const sends = (): number =>
    client.subnegotiations.filter((sb) => sb.option === OPT_TTYPE && sb.payload[0] === TTYPE_SEND).length;
  await client.until('three TTYPE SENDs', () => sends() === 3);
  await sleep(NOTHING_ANSWERED_MS);
  assert.equal(sends(), 3);
  assert.deepEqual([...server.sessions][0]!.terminal.typeNames, ['VT220', 'VT100']);
  await client.ask('info\r\n', 'Server echo: yes');
  assert.match(client.text, /Terminal type: VT220\r\n/);
});

test('a client that agrees to TTYPE and leaves in the same breath is not asked for its terminal type', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const socket = net.connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  await new Promise((resolve) => socket.once('data', resolve));
  // Its answer and its end in one go, as a probe or a health check leaves.
  socket.end(Buffer.from([IAC, WILL, OPT_TTYPE]));
  await new Promise((resolve) => socket.once('close', resolve));
  const sends = new TelnetDecoder()
    .push(Buffer.concat(received))
    .filter((event) => event.type === 'subnegotiation' && event.option === OPT_TTYPE);
  assert.deepEqual(sends, []);

  // One that stays is asked.
  const staying = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await staying.until('a TTYPE SEND', () => staying.subnegotiations.some((sb) => sb.option === OPT_TTYPE));
});

test('a MUD client (TTYPE MUDLET) never gets WILL ECHO from a character handler, and sees its lines answered', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const mud = await ScriptedClient.connect(port, {
    policy: 'agree',
    terminalTypes: ['MUDLET', 'ANSI-TRUECOLOR', 'MTTS 2825'],
  });
  const terminal = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM-256COLOR'] });
  await terminal.until('WILL ECHO for a terminal', () => terminal.received(WILL, OPT_ECHO));
  await sleep(600);
  assert.equal(mud.received(WILL, OPT_ECHO), false);
  const from = mud.text.length;
  await mud.ask('look\r\n', 'Echo: look\r\n');
  assert.equal(mud.text.slice(from), 'Echo: look\r\n> ');
});

test('info reports the client name, MTTS bits and the options in effect that the client told us', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const mud = await ScriptedClient.connect(port, {
    policy: 'agree',
    terminalTypes: ['MUDLET', 'ANSI-TRUECOLOR', 'MTTS 2825'],
  });
  await mud.until('three names', () => mud.subnegotiations.filter((sb) => sb.option === OPT_TTYPE).length === 3);
  await mud.ask('info\r\n', 'Telnet options: ');
  await mud.waitForText('> ', mud.text.indexOf('Telnet options: '));
  assert.match(mud.text, /Terminal type: ANSI-TRUECOLOR\r\n/);
  assert.match(mud.text, /Client: MUDLET\r\n/);
  assert.match(mud.text, /MTTS capabilities: 2825\r\n/);
  assert.match(mud.text, /Telnet options: [^\r]*NAWS \(client\)/);
  assert.match(mud.text, /Telnet options: [^\r]*EOR \(server\)/);
});

test('NAWS changes reach the handler through onWindowSize; a 0x0 size is ignored', async () => {
  const { server, port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'], size: [80, 24] });
  await client.until(
    'the first size',
    () => server.sessions.size === 1 && onlyHandler<CharacterEcho>(server).sizes.length === 1,
  );
  const handler = onlyHandler<CharacterEcho>(server);
  await client.send(nawsFrame(132, 43));
  await client.send(nawsFrame(0, 0));
  await client.send(nawsFrame(100, 30));
  await client.until('three sizes', () => handler.sizes.length === 3);
  assert.deepEqual(handler.sizes, [
    [80, 24],
    [132, 43],
    [100, 30],
  ]);
});

// Hidden input.

test('readLine with echo:false on a line handler sends WILL ECHO, then WONT ECHO after the line', async () => {
  for (const handlerClass of [PasswordFirst, PasswordLater]) {
    const { port } = await startServer('telnet', handlerClass);
    const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
    if (handlerClass === PasswordLater) {
      await sleep(300);
      await client.send('login\r\n');
    }
    await client.waitForText('Password: ');
    await client.until(`WILL ECHO (${handlerClass.name})`, () => client.received(WILL, OPT_ECHO));
    assert.equal(client.received(WONT, OPT_ECHO), false);
    const from = client.text.length;
    await client.send('secret\r\n');
    await client.waitForText('Got 6 characters\r\n', from);
    await client.until(`WONT ECHO (${handlerClass.name})`, () => client.received(WONT, OPT_ECHO));
    assert.equal(client.text.includes('secret'), false);
    const willAt = client.negotiations.findIndex((n) => n.verb === WILL && n.option === OPT_ECHO);
    const wontAt = client.negotiations.findIndex((n) => n.verb === WONT && n.option === OPT_ECHO);
    assert.ok(willAt < wontAt);
  }
});

test('a character handler asking for a password at once hides it, then keeps echoing typed lines', async () => {
  const { port } = await startServer('telnet', CharacterPasswordFirst);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.waitForText('Password: ');
  await client.until('WILL ECHO', () => client.received(WILL, OPT_ECHO), 100);
  // A person types after the echo decision (the terminal type, or 250 ms).
  await sleep(300);
  const from = client.text.length;
  await client.send('secret\r\n');
  await client.waitForText('Got 6 characters\r\n> ', from);
  assert.equal(client.text.includes('secret'), false);
  await client.ask('abc\r\n', 'Echo: abc');
  assert.equal(client.received(WONT, OPT_ECHO), false, 'the server gave echo back to the client');
  assert.match(client.text, /> abc\r\nEcho: abc\r\n/);
});

test('after a hidden line the cursor moves to a new line, as the client echoes nothing', async () => {
  const { port } = await startServer('telnet', PasswordFirst);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.until('WILL ECHO', () => client.received(WILL, OPT_ECHO));
  await client.send('secret\r\n');
  await client.waitForText('Got 6 characters');
  assert.match(client.text, /^Password: \r\nGot 6 characters/);
});

// Line ends and output.

for (const handlerClass of [LineEcho, CharacterEcho]) {
  test(`CR LF, CR NUL, bare CR, bare LF and CR|LF across packets each end exactly one line (${handlerClass.name})`, async () => {
    const { server, port } = await startServer('telnet', handlerClass);
    const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
    await client.waitForText('> ');
    for (const packet of ['a\r\n', 'b\r\0', 'c\r', 'd\n', 'e\r', '\nf\r\n']) {
      await client.send(packet);
      await sleep(20);
    }
    await client.waitForText('Echo: f\r\n');
    await sleep(50);
    assert.deepEqual(onlyHandler<{ lines: string[] }>(server).lines, ['a', 'b', 'c', 'd', 'e', 'f']);
  });
}

test('newlines in handler text go out as CR LF, and IAC in raw output is doubled', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.waitForText('> ');
  await client.ask('multi\r\n', 'two');
  await client.waitForText('one\r\ntwo\r\n');
  assert.doesNotMatch(client.text, /[^\r]\n/);
  const before = client.raw.length;
  await client.send('raw\r\n');
  await client.until('the raw bytes', () => client.raw.subarray(before).includes(Buffer.of(0x41, IAC, IAC, 0x42)));
  assert.ok(client.data.includes(Buffer.of(0x41, IAC, 0x42)), 'byte 255 did not arrive as data');
  assert.equal(client.raw.subarray(before).includes(Buffer.of(0x41, IAC, 0x42)), false);
});

test('prompts end with IAC GA when SGA is refused, and with IAC EOR when the client agreed to EOR', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const refusing = await ScriptedClient.connect(port, { policy: 'refuse' });
  const agreeing = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await sleep(300);
  for (const client of [refusing, agreeing]) {
    const before = client.raw.length;
    await client.ask('x\r\n', 'Echo: x\r\n> ');
    await client.until(
      'the prompt mark',
      () => client.raw.length > before && client.raw.subarray(before).includes(Buffer.of(IAC)),
    );
  }
  const tail = (client: ScriptedClient): Buffer => client.raw.subarray(client.raw.lastIndexOf('> '));
  assert.deepEqual([...tail(refusing)], [...Buffer.from('> '), IAC, GA]);
  assert.deepEqual([...tail(agreeing)], [...Buffer.from('> '), IAC, EOR]);
});

// Commands.

test('IAC IP ends the session like Ctrl-C; ^C is shown by whoever draws the line', async () => {
  for (const [handlerClass, goodbye] of [
    [CharacterEcho, '^C\r\nGoodbye!\r\n'],
    // In line mode the telnet client shows the ^C itself.
    [LineEcho, '> \r\nGoodbye!\r\n'],
  ] as const) {
    const { port } = await startServer('telnet', handlerClass);
    const viaCommand = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
    const viaControl = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
    await viaCommand.waitForText('> ');
    await viaControl.waitForText('> ');
    if (handlerClass === CharacterEcho) {
      // Character mode starts once the server's WILL ECHO is agreed.
      await viaCommand.until('WILL ECHO', () => viaCommand.received(WILL, OPT_ECHO));
      await viaControl.until('WILL ECHO', () => viaControl.received(WILL, OPT_ECHO));
      await sleep(50);
    }
    await viaCommand.send([IAC, IP]);
    await viaControl.send('\x03');
    await Promise.all([viaCommand.closed, viaControl.closed]);
    assert.ok(viaControl.text.endsWith(goodbye), JSON.stringify(viaControl.text));
    assert.ok(viaCommand.text.endsWith(goodbye), JSON.stringify(viaCommand.text));
  }
});

test('IAC AYT gets a visible reply and the session goes on', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.waitForText('> ');
  const from = client.text.length;
  await client.send([IAC, AYT]);
  await client.waitForText('[Yes]', from);
  await client.ask('ok\r\n', 'Echo: ok');
});

// Abuse.

test('random bytes with IAC sequences and an oversized SB never crash the server; the session still answers', async () => {
  const { server, port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'], size: [80, 24] });
  await client.waitForText('> ');
  const random = seededRandom(854);
  // Bytes that would end the session on purpose (Ctrl-C, Ctrl-D, IAC IP, IAC BRK) are left out.
  const ending = new Set([0x03, 0x04, IP, BRK]);
  const byte = (): number => {
    for (;;) {
      const value = Math.floor(random() * 256);
      if (!ending.has(value)) return value;
    }
  };
  for (let chunk = 0; chunk < 40; chunk++) {
    const bytes: number[] = [];
    while (bytes.length < 500) {
      const roll = random();
      if (roll < 0.05) bytes.push(IAC, [DO, DONT, WILL, WONT][Math.floor(random() * 4)]!, byte());
      else if (roll < 0.07) bytes.push(IAC, SB, byte(), ...Array.from({ length: 8 }, byte), IAC, SE);
      else if (roll < 0.08) bytes.push(IAC, byte());
      else bytes.push(byte());
    }
    await client.send(bytes);
  }
  await client.send([IAC, SB, OPT_TTYPE, TTYPE_IS, ...Buffer.alloc(20_000, 0x41), IAC, SE]);
  // Ends whatever the random bytes left open: an SB, an escape sequence, a half-typed line.
  await client.send([IAC, SE, IAC, SE, 0x15]);
  await sleep(50);
  await client.ask('alive\r\n', 'Echo: alive');
  assert.equal(server.sessions.size, 1);
  const session = [...server.sessions][0]!;
  assert.notEqual(session.terminal.type?.length, 20_000);
  // The garbage is decoded as the handler takes its keys, so on a slow machine its last commands
  // may have spent the budget just before "alive": a NAWS a round trip later would be dropped
  // with it. The budget earns one command every 2 ms.
  await sleep(50);
  await client.send(nawsFrame(90, 33));
  // Read before the next line. Only the size is checked: the garbage, cut short by the protocol
  // command budget, may have left line mode on, where a new size redraws nothing.
  await client.ask('size\r\n', 'Echo: size');
  assert.deepEqual([session.terminal.cols, session.terminal.rows], [90, 33]);
});

test('a negotiation storm is answered only up to the budget, and the session goes on', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'], size: [80, 24] });
  await client.waitForText('> ');
  const refused = 99;
  await client.send(Array.from({ length: 5000 }, () => [IAC, DO, refused]).flat());
  await client.ask('after\r\n', 'Echo: after');
  const answered = client.count(WONT, refused);
  // 1000 at once, a few more earned while the storm arrived in pieces.
  assert.ok(answered >= 900 && answered <= 1100, `${answered} answers to 5000 requests`);
  await sleep(100);
  await client.send([IAC, DO, refused + 1]);
  await client.until('an answer once the budget recovered', () => client.received(WONT, refused + 1));
});

// Keepalive.

test('keepalive_interval sends IAC NOP to telnet clients only', async () => {
  const { port } = await startServer('telnet', CharacterEcho, { keepalive_interval: 0.1 });
  const telnet = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  const raw = await ScriptedClient.connect(port, { policy: 'silent' });
  const tcp = await startServer('tcp', CharacterEcho, { keepalive_interval: 0.1 });
  const plain = await ScriptedClient.connect(tcp.port, { policy: 'silent' });
  await telnet.until('two NOPs', () => telnet.commands.filter((c) => c === NOP).length >= 2, 1000);
  await sleep(200);
  assert.equal(raw.commands.includes(NOP), false);
  assert.equal(plain.raw.includes(IAC), false);
});

/** IAC SB <option> <payload, IAC doubled> IAC SE, built by hand so the client does not rest on the encoder. */
function subnegotiationFrame(option: number, payload: number[]): number[] {
  return [IAC, SB, option, ...payload.flatMap((byte) => (byte === IAC ? [IAC, IAC] : [byte])), IAC, SE];
}

function nawsFrame(cols: number, rows: number): number[] {
  return subnegotiationFrame(OPT_NAWS, [cols >> 8, cols & 0xff, rows >> 8, rows & 0xff]);
}

function terminalTypeFrame(name: string): number[] {
  return subnegotiationFrame(OPT_TTYPE, [TTYPE_IS, ...Buffer.from(name, 'latin1')]);
}

// Options a client offers beyond the basics.

test('the first prompt, sent before the client agreed to EOR, is marked with EOR once it agrees', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['MUDLET'] });
  await client.until('IAC EOR', () => client.commands.includes(EOR));
  const prompt = client.raw.indexOf(Buffer.from('> '));
  assert.ok(prompt !== -1 && client.raw.indexOf(Buffer.from([IAC, EOR])) > prompt, 'EOR follows the prompt');
  assert.equal(client.commands.filter((command) => command === EOR).length, 1);
});

test('NEW-ENVIRON: the server asks for the variables and the handler sees them', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  const isSendRequest = (): boolean =>
    client.subnegotiations.some((sub) => sub.option === OPT_NEW_ENVIRON && sub.payload[0] === ENV_SEND);
  await client.until('NEW-ENVIRON SEND', isSendRequest);
  const user = [ENV_VAR, ...Buffer.from('USER'), ENV_VALUE, ...Buffer.from('ada')];
  await client.send(subnegotiation(OPT_NEW_ENVIRON, [ENV_IS, ...user]));
  await client.ask('env\r\n', 'USER=ada\r\n');
});

test('CHARSET: the server requests UTF-8 and records what the client accepted', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  const request = (): { option: number; payload: Uint8Array } | undefined =>
    client.subnegotiations.find((sub) => sub.option === OPT_CHARSET && sub.payload[0] === CHARSET_REQUEST);
  await client.until('CHARSET REQUEST', () => request() !== undefined);
  assert.equal(Buffer.from(request()!.payload.subarray(1)).toString('latin1'), ';UTF-8');
  await client.send(subnegotiation(OPT_CHARSET, [CHARSET_ACCEPTED, ...Buffer.from('UTF-8')]));
  await client.ask('charset\r\n', 'charset=UTF-8\r\n');
});

test('BINARY: offered by the client in both directions, agreed and listed among the options', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.waitForText('> ');
  await client.send([IAC, WILL, OPT_BINARY, IAC, DO, OPT_BINARY]);
  await client.until(
    'DO BINARY and WILL BINARY',
    () => client.received(DO, OPT_BINARY) && client.received(WILL, OPT_BINARY),
  );
  await client.ask('options\r\n', 'options=');
  assert.match(
    client.text,
    /options=.*BINARY \(server\).*BINARY \(client\)|options=.*BINARY \(client\).*BINARY \(server\)/,
  );
  await client.ask('still\r\n', 'Echo: still');
});

// Edge cases of the opening negotiation.

/** Where IAC <verb> <option> first appears in what the client received, -1 if nowhere. */
function rawIndex(client: ScriptedClient, ...bytes: number[]): number {
  return client.raw.indexOf(Buffer.from(bytes));
}

/** Offsets in the raw stream of every TTYPE SEND the server sent. */
function terminalTypeSends(client: ScriptedClient): number[] {
  const frame = Buffer.from([IAC, SB, OPT_TTYPE, TTYPE_SEND, IAC, SE]);
  const offsets: number[] = [];
  for (let at = client.raw.indexOf(frame); at !== -1; at = client.raw.indexOf(frame, at + 1)) offsets.push(at);
  return offsets;
}

function environmentRequest(client: ScriptedClient): Uint8Array | undefined {
  return client.subnegotiations.find((sub) => sub.option === OPT_NEW_ENVIRON && sub.payload[0] === ENV_SEND)?.payload;
}

test('NEW-ENVIRON is asked for once the terminal type is known, by name, USER included', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM-256COLOR'] });
  await client.until('NEW-ENVIRON SEND', () => environmentRequest(client) !== undefined);
  assert.ok(rawIndex(client, IAC, DO, OPT_NEW_ENVIRON) > terminalTypeSends(client)[0]!, 'DO NEW-ENVIRON before TTYPE');
  assert.ok(Buffer.from(environmentRequest(client)!).includes('USER'));
  assert.equal(client.count(DO, OPT_NEW_ENVIRON), 1);
});

test('Windows telnet (ANSI, then VT100) is asked for NEW-ENVIRON only after its second name, and never for USER', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['ANSI', 'VT100', 'VT52'] });
  await client.until('NEW-ENVIRON SEND', () => environmentRequest(client) !== undefined);
  const sends = terminalTypeSends(client);
  assert.ok(sends.length >= 2);
  assert.ok(rawIndex(client, IAC, DO, OPT_NEW_ENVIRON) > sends[1]!, 'DO NEW-ENVIRON before the second name');
  const request = Buffer.from(environmentRequest(client)!);
  assert.equal(request.includes('USER'), false, 'Windows telnet asked for USER');
  assert.ok(request.includes('DISPLAY'));
});

test('a client that says ANSI and then something else is asked for USER', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['ANSI', 'XTERM'] });
  await client.until('NEW-ENVIRON SEND', () => environmentRequest(client) !== undefined);
  assert.ok(Buffer.from(environmentRequest(client)!).includes('USER'));
});

test('a client that refuses TTYPE is asked for NEW-ENVIRON at once; one that never speaks telnet is not asked', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const silent = await ScriptedClient.connect(port, { policy: 'silent' });
  const refusing = await ScriptedClient.connect(port, { policy: 'silent' });
  await refusing.until('DO TTYPE', () => refusing.received(DO, OPT_TTYPE));
  await refusing.send([IAC, WONT, OPT_TTYPE, IAC, WILL, OPT_NEW_ENVIRON]);
  await refusing.until('NEW-ENVIRON SEND', () => environmentRequest(refusing) !== undefined);
  await sleep(1200);
  assert.equal(silent.received(DO, OPT_NEW_ENVIRON), false);
  assert.equal(silent.subnegotiations.length, 0);
});

test('a client offering NEW-ENVIRON before its terminal type is answered DO at once and asked after the type', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'silent' });
  await client.until('DO TTYPE', () => client.received(DO, OPT_TTYPE));
  await client.send([IAC, WILL, OPT_NEW_ENVIRON, IAC, WILL, OPT_TTYPE]);
  await client.until('DO NEW-ENVIRON', () => client.received(DO, OPT_NEW_ENVIRON));
  await client.until('TTYPE SEND', () => terminalTypeSends(client).length === 1);
  await sleep(NOTHING_ANSWERED_MS);
  assert.equal(environmentRequest(client), undefined, 'asked before the terminal type');
  await client.send(terminalTypeFrame('VT220'));
  await client.until('NEW-ENVIRON SEND', () => environmentRequest(client) !== undefined);
});

test('the first prompt, sent before the client refused SGA and EOR, is followed by IAC GA once it has', async () => {
  for (const handlerClass of [CharacterEcho, LineEcho]) {
    const { port } = await startServer('telnet', handlerClass);
    const client = await ScriptedClient.connect(port, { policy: 'refuse' });
    await client.until(`IAC GA (${handlerClass.name})`, () => client.commands.includes(GA));
    const prompt = client.raw.indexOf(Buffer.from('> '));
    assert.ok(prompt !== -1 && rawIndex(client, IAC, GA) > prompt, 'GA follows the prompt');
    await sleep(NOTHING_ANSWERED_MS);
    assert.equal(client.commands.filter((command) => command === GA).length, 1);
    await client.ask('x\r\n', 'Echo: x\r\n> ');
    await client.until('the second GA', () => client.commands.filter((command) => command === GA).length === 2);
  }
});

test('a first prompt of a client that agreed to SGA and refused EOR gets no mark', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'silent' });
  await client.waitForText('> ');
  await client.send([IAC, DO, OPT_SGA, IAC, DONT, OPT_EOR, IAC, WONT, OPT_TTYPE]);
  await sleep(NOTHING_ANSWERED_MS);
  assert.deepEqual(client.commands, []);
});

/** The server's ECHO negotiations, in order: 'WILL' and 'WONT'. */
function echoVerbs(client: ScriptedClient): string[] {
  return client.negotiations
    .filter((n) => n.option === OPT_ECHO && (n.verb === WILL || n.verb === WONT))
    .map((n) => (n.verb === WILL ? 'WILL' : 'WONT'));
}

test('a password answered before the echo decision: WILL ECHO once, never WONT ECHO then WILL ECHO', async () => {
  const { port } = await startServer('telnet', CharacterPasswordFirst);
  // The password is typed at once, and the terminal type comes late: the echo is still undecided.
  const client = await ScriptedClient.connect(port, {
    policy: 'agree',
    terminalTypes: ['XTERM'],
    terminalTypeDelayMs: 400,
  });
  await client.send('secret\r\n');
  await client.waitForText('Got 6 characters\r\n> ');
  await sleep(600);
  assert.deepEqual(echoVerbs(client), ['WILL']);
  // The echo stayed with the server: typing is echoed, once.
  await client.ask('abc\r\n', 'Echo: abc');
  assert.match(client.text, /> abc\r\nEcho: abc\r\n/);
  assert.equal(client.text.includes('secret'), false);
});

test('a MUD client that answered a password before the echo decision gets its echo back once: WILL, then WONT', async () => {
  const { port } = await startServer('telnet', CharacterPasswordFirst);
  const client = await ScriptedClient.connect(port, {
    policy: 'agree',
    terminalTypes: ['MUDLET', 'ANSI-TRUECOLOR', 'MTTS 2825'],
    // Its name comes after the password, typed at once, and well within the 250 ms the server waits for it.
    terminalTypeDelayMs: 80,
  });
  await client.send('secret\r\n');
  await client.waitForText('Got 6 characters\r\n> ');
  await client.until('WONT ECHO', () => client.received(WONT, OPT_ECHO), 2000);
  await sleep(NOTHING_ANSWERED_MS);
  assert.deepEqual(echoVerbs(client), ['WILL', 'WONT']);
  // The client echoes its own typing again: the server does not.
  const from = client.text.length;
  await client.ask('look\r\n', 'Echo: look\r\n');
  assert.equal(client.text.slice(from), 'Echo: look\r\n> ');
});

test('a line handler asking for a password at connect sends WILL ECHO before WONT ECHO, once each', async () => {
  const { port } = await startServer('telnet', PasswordFirst);
  const client = await ScriptedClient.connect(port, {
    policy: 'agree',
    terminalTypes: ['XTERM'],
    terminalTypeDelayMs: 300,
  });
  await client.waitForText('Password: ');
  await client.send('secret\r\n');
  await client.waitForText('Got 6 characters\r\n');
  await sleep(600);
  assert.deepEqual(echoVerbs(client), ['WILL', 'WONT']);
});

test('CHARSET REJECTED before the MTTS bits: the charset follows the MTTS UTF-8 bit once it comes', async () => {
  for (const [mtts, charset] of [
    ['MTTS 267', 'US-ASCII'],
    ['MTTS 271', 'UTF-8'],
  ] as const) {
    const { server, port } = await startServer('telnet', CharacterEcho);
    // As TinTin++ does with a non-UTF-8 locale: REJECTED at once, its terminal types after.
    const client = await ScriptedClient.connect(port, {
      policy: 'agree',
      terminalTypes: ['TINTIN++', 'XTERM', mtts],
      terminalTypeDelayMs: 50,
    });
    await client.until('CHARSET REQUEST', () =>
      client.subnegotiations.some((sub) => sub.option === OPT_CHARSET && sub.payload[0] === CHARSET_REQUEST),
    );
    await client.send(subnegotiation(OPT_CHARSET, [CHARSET_REJECTED]));
    await until(() => [...server.sessions][0]?.terminal.mtts !== undefined, 'the MTTS bits', 3000);
    await client.ask('charset\r\n', `charset=${charset}\r\n`);
  }
});

test('CHARSET REJECTED after the MTTS bits takes the charset from them at once', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, {
    policy: 'agree',
    terminalTypes: ['TINTIN++', 'XTERM', 'MTTS 267'],
  });
  await client.until('three names', () => terminalTypeSends(client).length === 3);
  await client.ask('charset\r\n', 'charset=UTF-8\r\n');
  await client.send(subnegotiation(OPT_CHARSET, [CHARSET_REJECTED]));
  await client.ask('charset\r\n', 'charset=US-ASCII\r\n');
});

test('LINEMODE: an SLC list from the client is answered as RFC 1184 says, and only once', async () => {
  const { port } = await startServer('telnet', LineEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.until('LINEMODE MODE', () => client.subnegotiations.some((sb) => sb.option === OPT_LINEMODE));
  const slcReplies = (): Uint8Array[] =>
    client.subnegotiations
      .filter((sb) => sb.option === OPT_LINEMODE && sb.payload[0] === LM_SLC)
      .map((sb) => sb.payload);
  // As netkit telnet sends it: Interrupt as ours already is, Erase Character as Ctrl-H, Break unsupported asked at DEFAULT.
  const list = [LM_SLC, SLC_IP, SLC_VARIABLE | 0x60, 0x03, SLC_EC, SLC_VARIABLE, 0x08, SLC_BRK, SLC_DEFAULT, 0];
  await client.send(subnegotiation(OPT_LINEMODE, list));
  await client.until('the SLC answer', () => slcReplies().length === 1);
  assert.deepEqual([...slcReplies()[0]!], [LM_SLC, SLC_EC, SLC_VARIABLE | SLC_ACK, 0x08, SLC_BRK, SLC_NOSUPPORT, 0]);
  // The client acknowledging our answer, or sending the same list again, is not answered.
  await client.send(subnegotiation(OPT_LINEMODE, [LM_SLC, SLC_BRK, SLC_NOSUPPORT | SLC_ACK, 0]));
  await client.send(subnegotiation(OPT_LINEMODE, list.slice(0, 7)));
  await sleep(NOTHING_ANSWERED_MS);
  assert.equal(slcReplies().length, 1);
  await client.ask('still\r\n', 'Echo: still');
});

test('LINEMODE: an SLC list from a client not in LINEMODE (a character handler refuses it) gets no answer', async () => {
  const { port } = await startServer('telnet', CharacterEcho);
  const client = await ScriptedClient.connect(port, { policy: 'agree', terminalTypes: ['XTERM'] });
  await client.waitForText('> ');
  await client.send([IAC, WILL, OPT_LINEMODE]);
  await client.until('DONT LINEMODE', () => client.received(DONT, OPT_LINEMODE));
  await client.send(subnegotiation(OPT_LINEMODE, [LM_SLC, SLC_EC, SLC_VARIABLE, 0x08]));
  await client.ask('still\r\n', 'Echo: still');
  await sleep(NOTHING_ANSWERED_MS);
  assert.equal(client.subnegotiations.filter((sb) => sb.option === OPT_LINEMODE).length, 0);
});
