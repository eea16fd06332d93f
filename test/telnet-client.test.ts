// Real clients against the telnet endpoint: netkit telnet driven through tmux, Python's telnetlib, a raw socket.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { pino } from 'pino';

import { ProtocolServer, TelnetHandler, parseConfig } from '../src/index.js';
import type { SessionHandle } from '../src/index.js';
import { TmuxPane } from './support/tmux.js';
import { until } from './support/received-text.js';

const run = promisify(execFile);
const WELCOME = 'Welcome to the Telnet Server!';

/** The echo sample's commands (examples/echo-server/handler.ts), built from this source tree. */
class EchoTelnetHandler extends TelnetHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command.trim().toLowerCase() === 'info') {
      for (const line of this.describeTerminal()) await this.sendLine(line);
      return;
    }
    await this.sendLine(`Echo: ${command}`);
  }
}

// Tools: in CI (CI=true) a missing tool fails the test; elsewhere the test is skipped and says why.

/** Debian puts TinTin++ in /usr/games, which is not on every PATH. */
const TINTIN_PATH = 'command -v tt++ || test -x /usr/games/tt++ && echo /usr/games/tt++';

const isCi = process.env.CI === 'true';

async function succeeds(file: string, args: string[]): Promise<boolean> {
  try {
    await run(file, args, { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

const TOOL_CHECKS: Record<string, () => Promise<boolean>> = {
  telnet: () => succeeds('sh', ['-c', 'command -v telnet']),
  tmux: () => succeeds('tmux', ['-V']),
  'python3 with telnetlib': () => succeeds('python3', ['-W', 'ignore', '-c', 'import telnetlib']),
  'tt++': () => succeeds('sh', ['-c', TINTIN_PATH]),
};

async function missingTools(names: string[]): Promise<string[]> {
  const present = await Promise.all(names.map((name) => TOOL_CHECKS[name]!()));
  return names.filter((_, i) => !present[i]);
}

/** Skip reason outside CI when a tool is missing; in CI never skip (requireTools then fails). */
async function skipWithout(names: string[]): Promise<string | false> {
  const missing = await missingTools(names);
  if (missing.length === 0 || isCi) return false;
  return `needs ${missing.join(', ')} (not installed; with CI=true this fails instead)`;
}

async function requireTools(names: string[]): Promise<void> {
  assert.deepEqual(await missingTools(names), [], `CI=true: install ${names.join(', ')} to run these tests`);
}

// Server.

const servers: ProtocolServer[] = [];
const sockets: net.Socket[] = [];

after(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => server.stop(100)));
});

async function startServer(): Promise<{ server: ProtocolServer; port: number }> {
  const config = parseConfig(
    {
      transport: 'telnet',
      host: '127.0.0.1',
      port: 0,
      handler_class: './unused.ts:Unused',
      welcome_message: WELCOME,
    },
    process.cwd(),
  );
  const server = new ProtocolServer(config.servers[0]!, EchoTelnetHandler, { logger: pino({ level: 'silent' }) });
  servers.push(server);
  const { port } = await server.start();
  return { server, port };
}

/** Waits for exactly these lines: the reply and the prompt after it arrive in separate writes. */
const isScreen =
  (lines: string[]) =>
  (screen: string[]): boolean =>
    screen.join('\n') === lines.join('\n');

const TELNET_BANNER = ['Trying 127.0.0.1...', 'Connected to 127.0.0.1.', "Escape character is '^]'."];

describe('netkit telnet in tmux', async () => {
  const skip = await skipWithout(['telnet', 'tmux']);
  const pane = new TmuxPane();
  let server: ProtocolServer;
  let session: SessionHandle;
  /** What the screen must show so far, line by line: nothing else, nothing twice. */
  const expected = [...TELNET_BANNER, WELCOME];

  before(async () => {
    if (skip !== false) return;
    await requireTools(['telnet', 'tmux']);
    const started = await startServer();
    server = started.server;
    await pane.start(`telnet 127.0.0.1 ${started.port}`, 80, 24);
    await until(() => server.sessions.size === 1, 'the session', 3000);
    session = [...server.sessions][0]!;
    // Typing starts once telnet is in character mode with our echo, as a person would.
    await until(() => session.mode === 'character' && session.serverEchoes, 'character mode', 3000);
  });

  after(async () => {
    await pane.kill();
  });

  test('the welcome and the prompt are visible', { skip }, async () => {
    const lines = await pane.waitForScreen('the prompt', (screen) => screen.includes('>'));
    assert.deepEqual(lines, [...expected, '>']);
  });

  test('typed text appears exactly once, before Enter and after', { skip }, async () => {
    await pane.type('abc123');
    await pane.waitForScreen('the typed text', (screen) => screen.join('\n').includes('abc123'));
    await sleep(200);
    assert.deepEqual(await pane.screen(), [...expected, '> abc123']);
    await pane.sendKeys('Enter');
    expected.push('> abc123', 'Echo: abc123');
    const lines = await pane.waitForScreen('the echo and the prompt', isScreen([...expected, '>']));
    assert.deepEqual(lines, [...expected, '>']);
  });

  test('hellp, Backspace, o, Enter gives Echo: hello', { skip }, async () => {
    await pane.type('hellp');
    await pane.sendKeys('BSpace');
    await pane.type('o');
    await pane.sendKeys('Enter');
    expected.push('> hello', 'Echo: hello');
    const lines = await pane.waitForScreen('Echo: hello and the prompt', isScreen([...expected, '>']));
    assert.deepEqual(lines, [...expected, '>']);
  });

  test('Up recalls the previous line', { skip }, async () => {
    await pane.sendKeys('Up');
    await pane.waitForScreen('the recalled line', (screen) => screen[screen.length - 1] === '> hello');
    await pane.sendKeys('Enter');
    expected.push('> hello', 'Echo: hello');
    const lines = await pane.waitForScreen('the second echo and the prompt', isScreen([...expected, '>']));
    assert.deepEqual(lines, [...expected, '>']);
  });

  test('the screen holds no stray ^M, escape sequences or other garbage', { skip }, async () => {
    const text = (await pane.screen()).join('\n');
    assert.doesNotMatch(text, /\^M|\^\[|\r|\x1b|\ufffd|ÿ/);
    assert.deepEqual(await pane.screen(), [...expected, '>']);
  });

  test('resizing the tmux window changes the size info reports', { skip }, async () => {
    await pane.type('info');
    await pane.sendKeys('Enter');
    await pane.waitForScreen('the first info', (screen) => screen.includes('Window size: 80x24'));
    await pane.resize(100, 30);
    await until(() => session.terminal.cols === 100, 'the new size at the server', 3000);
    await pane.type('info');
    await pane.sendKeys('Enter');
    const lines = await pane.waitForScreen('the second info', (screen) => screen.includes('Window size: 100x30'));
    assert.equal(lines.filter((line) => line.startsWith('Window size:')).length, 2);
  });

  test('quit closes the connection: "Connection closed by foreign host"', { skip }, async () => {
    await pane.type('quit');
    await pane.sendKeys('Enter');
    const lines = await pane.waitForScreen('the close', (screen) =>
      screen.includes('Connection closed by foreign host.'),
    );
    assert.ok(lines.includes('Goodbye!'));
    await session.closed;
    assert.equal(server.sessions.size, 0);
  });
});

describe('netkit telnet in a narrow window: lines longer than a row', async () => {
  const skip = await skipWithout(['telnet', 'tmux']);
  const pane = new TmuxPane();
  let server: ProtocolServer;
  const COLUMNS = 30;
  /** The last rows of the screen: the end of what was printed, then the line being edited. */
  const tail = async (rows: number): Promise<string[]> => (await pane.screen()).slice(-rows);
  const showsTail = (rows: string[]) => (screen: string[]) => screen.slice(-rows.length).join('\n') === rows.join('\n');

  before(async () => {
    if (skip !== false) return;
    await requireTools(['telnet', 'tmux']);
    const started = await startServer();
    server = started.server;
    await pane.start(`telnet 127.0.0.1 ${started.port}`, COLUMNS, 20);
    await until(() => server.sessions.size === 1, 'the session', 3000);
    const session = [...server.sessions][0]!;
    await until(() => session.serverEchoes && session.terminal.cols === COLUMNS, 'character mode and the width', 3000);
  });

  after(async () => {
    await pane.kill();
  });

  test('typing past the margin wraps; Backspace erases back across the wrap', { skip }, async () => {
    await pane.type('abcdefghijklmnopqrstuvwxyz0123456789ABCDEF');
    await pane.waitForScreen('the wrapped line', showsTail(['> abcdefghijklmnopqrstuvwxyz01', '23456789ABCDEF']));
    for (let i = 0; i < 14; i++) await pane.sendKeys('BSpace');
    await pane.waitForScreen('the shortened line', showsTail([WELCOME, '> abcdefghijklmnopqrstuvwxyz01']));
  });

  test('Home, End and Left move across rows, and an insertion reflows the line', { skip }, async () => {
    await pane.sendKeys('Home', 'X', 'End', 'Y', 'Left', 'Left', 'Left', 'Left', 'Left', 'Z');
    await pane.waitForScreen('the edited line', showsTail(['> XabcdefghijklmnopqrstuvwxZyz', '01Y']));
  });

  test('output that arrives meanwhile goes above the whole line, which is redrawn intact', { skip }, async () => {
    await server.sendGlobalMessage('news from elsewhere');
    await pane.waitForScreen(
      'the message above the line',
      showsTail(['news from elsewhere', '> XabcdefghijklmnopqrstuvwxZyz', '01Y']),
    );
    await pane.sendKeys('Z');
    await pane.waitForScreen(
      'typing goes on where the cursor was',
      showsTail(['> XabcdefghijklmnopqrstuvwxZZy', 'z01Y']),
    );
  });

  test('Enter in the middle of a wrapped line submits it all and the reply starts below it', { skip }, async () => {
    await pane.sendKeys('Enter');
    await pane.waitForScreen(
      'the echo below the line',
      showsTail(['> XabcdefghijklmnopqrstuvwxZZy', 'z01Y', 'Echo: Xabcdefghijklmnopqrstuvw', 'xZZyz01Y', '>']),
    );
    assert.equal((await tail(6))[0], 'news from elsewhere');
  });

  test(
    'a wide character that does not fit the last column moves to the next row, and erases cleanly',
    { skip },
    async () => {
      await pane.type('abcdefghijklmnopqrstuvwxyz0中文');
      await pane.waitForScreen('the early wrap', showsTail(['> abcdefghijklmnopqrstuvwxyz0', '中文']));
      await pane.sendKeys('BSpace', 'BSpace');
      await pane.waitForScreen('both erased', showsTail(['xZZyz01Y', '> abcdefghijklmnopqrstuvwxyz0']));
      await pane.type('xy');
      await pane.waitForScreen('the margin filled', showsTail(['> abcdefghijklmnopqrstuvwxyz0x', 'y']));
    },
  );
});

describe('netkit telnet in a short window: lines taller than the screen, and Ctrl-L', async () => {
  const skip = await skipWithout(['telnet', 'tmux']);
  const pane = new TmuxPane();
  let server: ProtocolServer;
  const COLUMNS = 20;
  const ROWS = 5;
  // '> ' and 108 characters take six rows of twenty: one more than the screen has.
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3);
  const visible = { scrollback: false };
  const showsScreen = (rows: string[]) => (screen: string[]) => screen.join('\n') === rows.join('\n');
  /** The rows a terminal COLUMNS wide shows `text` in (ASCII only). */
  const rowsOf = (text: string): string[] => text.match(new RegExp(`.{1,${COLUMNS}}`, 'g'))!;
  /** Whether the screen and its scrollback hold `rows` one after another, right before the last `after` rows. */
  const endsWith = (rows: string[], after: number) => (screen: string[]) =>
    screen.slice(-rows.length - after, screen.length - after).join('\n') === rows.join('\n');

  before(async () => {
    if (skip !== false) return;
    await requireTools(['telnet', 'tmux']);
    const started = await startServer();
    server = started.server;
    await pane.start(`telnet 127.0.0.1 ${started.port}`, COLUMNS, ROWS);
    await until(() => server.sessions.size === 1, 'the session', 3000);
    const session = [...server.sessions][0]!;
    await until(() => session.serverEchoes && session.terminal.rows === ROWS, 'character mode and the size', 3000);
  });

  after(async () => {
    await pane.kill();
  });

  test(
    'typing shows the last rows; Home shows the first, with the prompt; edits there reflow the line',
    { skip },
    async () => {
      const rows = rowsOf(`> ${line}`);
      assert.equal(rows.length, ROWS + 1);
      await pane.type(line);
      await pane.waitForScreen('the last rows of the line', showsScreen(rows.slice(-ROWS)), 3000, visible);
      assert.deepEqual(await pane.cursor(), { row: ROWS - 1, column: 10 });
      await pane.sendKeys('Home');
      await pane.waitForScreen('the first rows of the line', showsScreen(rows.slice(0, ROWS)), 3000, visible);
      assert.deepEqual(await pane.cursor(), { row: 0, column: 2 });
      await pane.type('XY');
      await pane.sendKeys('BSpace');
      const edited = rowsOf(`> X${line}`);
      await pane.waitForScreen('the line with X in front', showsScreen(edited.slice(0, ROWS)), 3000, visible);
      assert.deepEqual(await pane.cursor(), { row: 0, column: 3 });
      await pane.sendKeys('End');
      await pane.waitForScreen('the end of the line again', showsScreen(edited.slice(-ROWS)), 3000, visible);
      assert.deepEqual(await pane.cursor(), { row: ROWS - 1, column: 11 });
    },
  );

  test(
    'Enter with the cursor in the first rows sends the whole line, all of it left on screen above the reply',
    { skip },
    async () => {
      await pane.sendKeys('Home', 'Right', 'Right', 'Enter');
      const echo = rowsOf(`Echo: X${line}`);
      const lines = await pane.waitForScreen('the reply and the prompt', endsWith([...echo, '>'], 0));
      assert.ok(endsWith(rowsOf(`> X${line}`), echo.length + 1)(lines), lines.join('\n'));
    },
  );

  test('Up recalls the tall line, drawn as it was typed; Home and Enter send it again', { skip }, async () => {
    const rows = rowsOf(`> X${line}`);
    await pane.sendKeys('Up');
    await pane.waitForScreen('the recalled line', showsScreen(rows.slice(-ROWS)), 3000, visible);
    await pane.sendKeys('Home');
    await pane.waitForScreen('its first rows', showsScreen(rows.slice(0, ROWS)), 3000, visible);
    await pane.sendKeys('Enter');
    const echo = rowsOf(`Echo: X${line}`);
    const lines = await pane.waitForScreen('the second reply', endsWith([...echo, '>'], 0));
    assert.ok(endsWith(rows, echo.length + 1)(lines), lines.join('\n'));
  });

  test('Ctrl-L clears the screen and draws the prompt and the half-typed line at its top', { skip }, async () => {
    await pane.type('hello wrld');
    await pane.sendKeys('Left', 'Left', 'Left');
    await pane.sendKeys('C-l');
    await pane.waitForScreen('a clean screen', showsScreen(['> hello wrld']), 3000, visible);
    assert.deepEqual(await pane.cursor(), { row: 0, column: 9 });
    await pane.type('o');
    await pane.sendKeys('Enter');
    await pane.waitForScreen('the reply', showsScreen(['> hello world', 'Echo: hello world', '>']), 3000, visible);
  });
});

// TinTin++ answers the server's CHARSET REQUEST with REJECTED outside a UTF-8 locale.

describe('TinTin++ in tmux', async () => {
  const skip = await skipWithout(['tmux', 'tt++']);

  test(
    'it is known as a MUD client, and its charset follows its MTTS UTF-8 bit when it rejects CHARSET',
    { skip },
    async () => {
      await requireTools(['tmux', 'tt++']);
      const tintin = (await run('sh', ['-c', TINTIN_PATH])).stdout.trim();
      for (const [locale, charset] of [
        ['C', 'US-ASCII'],
        ['C.UTF-8', 'UTF-8'],
      ] as const) {
        const { server, port } = await startServer();
        const pane = new TmuxPane();
        try {
          await pane.start(`env LANG=${locale} LC_ALL=${locale} ${tintin} -e '#session mud 127.0.0.1 ${port}'`, 80, 24);
          await pane.waitForScreen('the welcome', (screen) => screen.includes(WELCOME));
          const session = [...server.sessions][0]!;
          await until(() => session.terminal.mtts !== undefined, 'its MTTS bits', 3000);
          assert.equal(session.terminal.clientName, 'TINTIN++');
          assert.equal(session.terminal.charset, charset, `LANG=${locale}`);
          assert.equal(session.serverEchoes, false, 'the server took over the echo of a MUD client');
        } finally {
          await pane.kill();
        }
      }
    },
  );
});

// Python's telnetlib refuses every option the server offers.

const TELNETLIB_SCRIPT = `
import json, sys, telnetlib
client = telnetlib.Telnet('127.0.0.1', int(sys.argv[1]), timeout=5)
seen = {'welcome': client.read_until(b'> ', 3).decode()}
client.write(b'hello\\r\\n')
seen['echo'] = client.read_until(b'> ', 3).decode()
client.write(b'quit\\r\\n')
seen['end'] = client.read_all().decode()
print(json.dumps(seen))
`;

test(
  'Python telnetlib, refusing every option, gets line echo',
  { skip: await skipWithout(['python3 with telnetlib']) },
  async () => {
    await requireTools(['python3 with telnetlib']);
    const { port } = await startServer();
    const dir = await mkdtemp(join(tmpdir(), 'cps-telnetlib-'));
    try {
      const script = join(dir, 'client.py');
      await writeFile(script, TELNETLIB_SCRIPT);
      const { stdout } = await run('python3', ['-W', 'ignore', script, `${port}`], { timeout: 10_000 });
      assert.deepEqual(JSON.parse(stdout), {
        welcome: `${WELCOME}\r\n> `,
        echo: 'Echo: hello\r\n> ',
        end: 'Goodbye!\r\n',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('a raw socket that never answers negotiation gets Echo: within a second', async () => {
  const { port } = await startServer();
  const socket = net.connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  const sentAt = Date.now();
  socket.write('ping\r\n');
  await until(() => Buffer.concat(received).includes('Echo: ping\r\n'), 'Echo: ping', 1000);
  assert.ok(Date.now() - sentAt < 1000);
});
