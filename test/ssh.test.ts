// The ssh transport against real clients: OpenSSH's ssh under tmux and on its own, and the testing helpers' ssh2 client.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import ssh2 from 'ssh2';

import { TelnetHandler, parseConfig } from '../src/index.js';
import type { AuthenticationAttempt, HandlerClass, ServerSettings } from '../src/index.js';
import { connectClient, startTestConfig, startTestServer } from '../src/testing/index.js';
import type { TestServer } from '../src/testing/index.js';
import { loadHostKey } from '../src/transports/ssh.js';
import { ROOT } from './support/build.js';
import { until } from './support/received-text.js';
import { quiet, startLaunch } from './support/servers.js';
import { TmuxPane } from './support/tmux.js';

const run = promisify(execFile);
const ECHO_SAMPLE = join(ROOT, 'examples', 'echo-server');
const TIMEOUT = { timeout: 30_000 };

/** Fails (never skips) when a client these tests drive is missing: .ci/run installs them. */
function requireTools(...tools: string[]): void {
  for (const tool of tools) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
    assert.equal(found.status, 0, `${tool} is not installed (.ci/run installs openssh-client and tmux)`);
  }
}

const scratch = await mkdtemp(join(tmpdir(), 'cps-ssh-'));
after(() => rm(scratch, { recursive: true, force: true }));

const running: TestServer[] = [];
after(() => Promise.all(running.splice(0).map((server) => server.stop())));

async function serveSsh(handlerClass: HandlerClass, settings: ServerSettings = {}): Promise<TestServer> {
  const server = await startTestServer(handlerClass, { transport: 'ssh', settings });
  running.push(server);
  return server;
}

/** The echo sample's commands, built from this source tree so that its hooks are the ones under test. */
class Echo extends TelnetHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'info') for (const line of this.describeTerminal()) await this.sendLine(line);
    else await this.sendLine(`Echo: ${command}`);
  }
}

/** Lets in ada with the password "sesame", and any key the test names by fingerprint. */
class Gatekeeper extends Echo {
  static attempts: AuthenticationAttempt[] = [];
  static welcomeKeys = new Set<string>();

  static override async authenticate(attempt: AuthenticationAttempt): Promise<boolean> {
    this.attempts.push(attempt);
    if (attempt.publicKey !== undefined) return this.welcomeKeys.has(attempt.publicKey.fingerprint);
    return attempt.username === 'ada' && attempt.password === 'sesame';
  }

  override async onConnect(): Promise<void> {
    await this.sendLine(`Hello ${this.session.user}`);
    await this.showPrompt();
  }
}

/** Serves clients without a terminal too: `ssh host command` runs the command as a line. */
class Scriptable extends Echo {
  static override readonly acceptsNoPty = true;
}

/** ssh's options for these tests: no user config, a known_hosts file of the test's own. */
function sshArgs(port: number, knownHosts: string, ...more: string[]): string[] {
  return [
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'PubkeyAuthentication=no',
    '-p',
    `${port}`,
    ...more,
  ];
}

/** A shell command line of `args`, for tmux. */
function shellLine(args: string[]): string {
  return args.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ');
}

interface SshRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs ssh to completion; with `answers`, each text is typed once its pattern has appeared on
 * stdout (ssh -tt forwards it as a terminal would). Killed after 15 s.
 */
function runSsh(args: string[], answers: Array<[RegExp, string]> = []): Promise<SshRun> {
  return new Promise((resolve) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const pending = [...answers];
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      while (pending.length > 0 && pending[0]![0].test(stdout)) child.stdin.write(pending.shift()![1]);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('ssh, ssh-keygen and tmux are installed', () => {
  requireTools('ssh', 'ssh-keygen', 'tmux');
});

describe('OpenSSH in tmux against the echo sample', () => {
  const pane = new TmuxPane();
  let server: TestServer;
  /** What the screen must show so far, line by line: nothing else, nothing twice. */
  let expected: string[];

  before(async () => {
    requireTools('ssh', 'tmux');
    server = await startTestConfig(join(ECHO_SAMPLE, 'config.yaml'));
    running.push(server);
    const knownHosts = join(scratch, 'known_hosts_tmux');
    const ssh = ['ssh', ...sshArgs(server.ports.ssh!, knownHosts, '-o', 'SendEnv=LANG', 'ada@127.0.0.1')];
    // Wide enough for ssh's warning about the new host key to fit on one line.
    // The shell reports ssh's exit status on screen: tmux's own record of it (pane_dead_status) is at
    // times missing on a loaded machine even after the pane has died.
    const reported = `${shellLine(ssh)}; echo "ssh exited with status $?"`;
    await pane.start(`env LANG=C.UTF-8 sh -c ${shellLine([reported])}`, 120, 24);
    expected = [
      `Warning: Permanently added '[127.0.0.1]:${server.ports.ssh}' (ED25519) to the list of known hosts.`,
      'Welcome to the SSH Server!',
      '----------------------------------------',
      "Type 'help' for available commands.",
      "Type 'quit' to disconnect.",
    ];
  });

  after(() => pane.kill());

  /** Waits for exactly these lines: the reply and the prompt after it arrive in separate writes. */
  const showsExactly = (lines: string[]) => (screen: string[]) => screen.join('\n') === lines.join('\n');

  /** The line entered is on screen as typed, then its echo, then a fresh prompt: nothing else, nothing twice. */
  const expectAnswered = async (label: string, line: string): Promise<void> => {
    expected.push(`> ${line}`, `Echo: ${line}`);
    assert.deepEqual(await pane.waitForScreen(label, showsExactly([...expected, '>'])), [...expected, '>']);
  };

  test('the welcome and the prompt, after ssh added the host key', TIMEOUT, async () => {
    const lines = await pane.waitForScreen('the prompt', showsExactly([...expected, '>']), 10_000);
    assert.deepEqual(lines, [...expected, '>']);
  });

  test('the session knows its user, its terminal and LANG from the client', TIMEOUT, async () => {
    const [session] = await server.launch.app.list({ transport: 'ssh' });
    assert.equal(session?.user, 'ada');
    assert.equal(session?.secure, true);
    assert.deepEqual([session?.terminal.cols, session?.terminal.rows], [120, 24]);
  });

  test('typed text is echoed once; the answer follows', TIMEOUT, async () => {
    await pane.type('abc123');
    await pane.waitForScreen('the typed text', (screen) => screen.at(-1) === '> abc123');
    await pane.sendKeys('Enter');
    await expectAnswered('the answer', 'abc123');
  });

  test('Backspace edits the line', TIMEOUT, async () => {
    await pane.type('hellp');
    await pane.sendKeys('BSpace');
    await pane.type('o');
    await pane.sendKeys('Enter');
    await expectAnswered('Echo: hello', 'hello');
  });

  test('Up recalls the previous line', TIMEOUT, async () => {
    await pane.sendKeys('Up');
    await pane.waitForScreen('the recalled line', (screen) => screen.at(-1) === '> hello');
    await pane.sendKeys('Enter');
    await expectAnswered('the second echo', 'hello');
  });

  test('UTF-8 and wide characters are echoed and edited', TIMEOUT, async () => {
    await pane.type('héllo 中文x');
    await pane.sendKeys('BSpace');
    await pane.sendKeys('Enter');
    await expectAnswered('the wide echo', 'héllo 中文');
  });

  test('info shows the pty: character mode, the terminal type, its size and LANG', TIMEOUT, async () => {
    await pane.type('info');
    await pane.sendKeys('Enter');
    const lines = await pane.waitForScreen('info', (screen) => screen.includes('Server echo: yes'));
    const info = lines.slice(lines.indexOf('Transport: ssh'));
    assert.equal(info[1], 'Mode: character mode');
    assert.match(info[2]!, /^Terminal type: (tmux|screen)/);
    assert.equal(info[3], 'Window size: 120x24');
    assert.ok(lines.includes('Environment: LANG=C.UTF-8'), lines.join('\n'));
  });

  test('resizing the tmux window reaches the session (window-change)', TIMEOUT, async () => {
    await pane.resize(100, 30);
    await until(
      () => server.launch.servers.some((ssh) => [...ssh.sessions].some((session) => session.terminal.cols === 100)),
      'the new size at the server',
    );
    await pane.type('info');
    await pane.sendKeys('Enter');
    await pane.waitForScreen('the new size', (screen) => screen.includes('Window size: 100x30'));
  });

  test('quit ends the session and ssh exits 0: "Connection to 127.0.0.1 closed."', TIMEOUT, async () => {
    await pane.type('quit');
    await pane.sendKeys('Enter');
    const lines = await pane.waitForScreen('the close', (screen) => screen.includes('Connection to 127.0.0.1 closed.'));
    assert.ok(lines.includes('Goodbye!'));
    const exited = await pane.waitForScreen(
      'ssh to exit',
      (screen) => screen.some((line) => line.startsWith('ssh exited')),
      15_000,
    );
    assert.ok(exited.includes('ssh exited with status 0'), exited.join('\n'));
    await until(() => server.launch.app.localCount === 0, 'the session to end');
  });
});

test('a command without a terminal is refused on stderr with exit status 1, as is ssh -T', TIMEOUT, async () => {
  requireTools('ssh');
  const server = await serveSsh(Echo);
  const knownHosts = join(scratch, 'known_hosts_nopty');
  for (const args of [
    ['ada@127.0.0.1', 'help'],
    ['-T', 'ada@127.0.0.1'],
  ]) {
    const result = await runSsh([...sshArgs(server.ports.ssh!, knownHosts), '-n', ...args]);
    assert.equal(result.code, 1, JSON.stringify(result));
    assert.match(result.stderr, /This server needs an interactive terminal/);
    assert.equal(result.stdout, '');
  }
  assert.equal(server.launch.app.localCount, 0);
});

test(
  'a handler with acceptsNoPty runs `ssh host command` in line mode; the end of input ends it',
  TIMEOUT,
  async () => {
    requireTools('ssh');
    const server = await serveSsh(Scriptable, { welcome_message: 'Scripted' });
    const knownHosts = join(scratch, 'known_hosts_scripted');
    const result = await runSsh([...sshArgs(server.ports.ssh!, knownHosts), '-n', 'ada@127.0.0.1', 'status report']);
    assert.equal(result.code, 0, JSON.stringify(result));
    // No echo: the client has no terminal for the server to draw on.
    assert.match(result.stdout, /^Scripted\r\n> Echo: status report\r\n> (\r\n)+Goodbye!\r\n$/);
  },
);

test(
  'a handler that carries on past the end of input is closed once its answers are written, with exit status 0',
  TIMEOUT,
  async () => {
    requireTools('ssh');
    class Stubborn extends Scriptable {
      override async onCommandSubmitted(command: string): Promise<void> {
        // An answer that takes a while, still being worked out when the input ends.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await this.sendLine(`Found: ${command}`);
      }

      override onInterrupt(): Promise<boolean> {
        return Promise.resolve(true);
      }
    }
    const server = await serveSsh(Stubborn, { welcome_message: 'Scripted' });
    const knownHosts = join(scratch, 'known_hosts_stubborn');
    const started = Date.now();
    const result = await runSsh([...sshArgs(server.ports.ssh!, knownHosts), '-n', 'ada@127.0.0.1', 'status report']);
    assert.equal(result.code, 0, JSON.stringify(result));
    assert.match(result.stdout, /^Scripted\r\n> Found: status report\r\n/);
    assert.ok(Date.now() - started < 10_000, 'closed by the end of input, not by a timeout');
  },
);

test(
  "a terminal's EOF is its Ctrl-D, answered; an EOF that comes with the channel's close is not typed to the handler",
  TIMEOUT,
  async () => {
    class Watching extends Echo {
      static signals: string[] = [];
      static disconnects = 0;

      override onInterrupt(signal: 'interrupt' | 'eof'): Promise<boolean> {
        Watching.signals.push(signal);
        return super.onInterrupt(signal);
      }

      override onDisconnect(): Promise<void> {
        Watching.disconnects++;
        return super.onDisconnect();
      }
    }
    const server = await serveSsh(Watching, { welcome_message: 'Watched' });
    const endInput = async (isClosingToo: boolean): Promise<string> => {
      const client = new ssh2.Client();
      client.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        client.once('error', reject);
        client.once('ready', () => resolve());
        client.connect({ host: '127.0.0.1', port: server.ports.ssh!, username: 'ada' });
      });
      let output = '';
      const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, opened) => (err ? reject(err) : resolve(opened))),
      );
      channel.on('data', (data: Buffer) => (output += data.toString()));
      await until(() => output.endsWith('> '), 'the prompt', 5000);
      // Both in one write, as a client that drops its link sends them.
      channel.end();
      if (isClosingToo) channel.close();
      else channel.once('close', () => client.end());
      await closed;
      return output;
    };

    assert.match(await endInput(false), /Goodbye!\r\n$/);
    await until(() => Watching.disconnects === 1, 'the first session to end', 5000);
    assert.deepEqual(Watching.signals, ['eof']);

    await endInput(true);
    await until(() => Watching.disconnects === 2, 'the second session to end', 5000);
    assert.deepEqual(Watching.signals, ['eof'], 'no Ctrl-D for the client that closed');
  },
);

test(
  "with a cipher and a MAC apart (aes128-ctr, hmac-sha2-256: libssh2, PuTTY), a reply leaves in one write, as do the login's answers",
  TIMEOUT,
  async () => {
    const server = await serveSsh(Echo, { welcome_message: 'Counted' });
    const port = server.ports.ssh!;
    // Each write of the server's socket: ssh2 writes an encrypted packet and its MAC apart.
    let writes = 0;
    const { _write: write, _writev: writev } = net.Socket.prototype;
    const isServerSide = (socket: net.Socket): boolean => socket.localPort === port;
    net.Socket.prototype._write = function (this: net.Socket, ...args: Parameters<net.Socket['_write']>) {
      if (isServerSide(this)) writes++;
      return write.apply(this, args);
    };
    net.Socket.prototype._writev = function (
      this: net.Socket,
      ...args: Parameters<NonNullable<net.Socket['_writev']>>
    ) {
      if (isServerSide(this)) writes++;
      return writev!.apply(this, args);
    };
    const client = new ssh2.Client();
    try {
      client.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        client.once('error', reject);
        client.once('ready', () => resolve());
        client.connect({
          host: '127.0.0.1',
          port,
          username: 'ada',
          algorithms: { cipher: ['aes128-ctr'], hmac: ['hmac-sha2-256'] },
        });
      });
      let output = '';
      const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        client.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, opened) => (err ? reject(err) : resolve(opened))),
      );
      channel.on('data', (data: Buffer) => (output += data.toString()));
      await until(() => output.endsWith('> '), 'the prompt', 5000);
      // The version and KEXINIT, then one write for each of the client's messages at most (9 in
      // all, fewer where they come together); sent a write for each packet and each MAC, 17.
      assert.ok(writes <= 10, `the login's answers in ${writes} writes`);

      for (const line of ['hello', 'again']) {
        const from = output.length;
        writes = 0;
        channel.write(`${line}\r`);
        await until(() => output.endsWith('> ') && output.length > from + line.length, 'the answer', 5000);
        assert.equal(output.slice(from), `${line}\r\nEcho: ${line}\r\n> `);
        assert.equal(writes, 1, `the echo, the answer and the prompt in ${writes} writes`);
      }
    } finally {
      net.Socket.prototype._write = write;
      net.Socket.prototype._writev = writev;
      client.end();
    }
  },
);

describe('logins', () => {
  const knownHosts = join(scratch, 'known_hosts_logins');

  test('password by keyboard-interactive: a wrong one is asked again, the right one lets ada in', TIMEOUT, async () => {
    requireTools('ssh', 'tmux');
    Gatekeeper.attempts = [];
    const server = await serveSsh(Gatekeeper, { ssh_auth: 'password' });
    const pane = new TmuxPane();
    try {
      const ssh = ['ssh', ...sshArgs(server.ports.ssh!, knownHosts, 'ada@127.0.0.1')];
      await pane.start(shellLine(ssh), 80, 24);
      await pane.waitForScreen(
        'the password prompt',
        (screen) => screen.at(-1) === '(ada@127.0.0.1) Password:',
        10_000,
      );
      await pane.type('wrong');
      await pane.sendKeys('Enter');
      await pane.waitForScreen(
        'the second prompt',
        (screen) => screen.filter((line) => line.endsWith('Password:')).length === 2,
      );
      await pane.type('sesame');
      await pane.sendKeys('Enter');
      const lines = await pane.waitForScreen('the welcome', (screen) => screen.at(-1) === '>');
      assert.ok(!lines.join('\n').includes('sesame'), 'the password is never shown');
      assert.ok(lines.includes('Hello ada'));
    } finally {
      await pane.kill();
    }
    assert.deepEqual(
      Gatekeeper.attempts.map(({ method, username, password, remoteAddress }) => [
        method,
        username,
        password,
        remoteAddress,
      ]),
      [
        ['keyboard-interactive', 'ada', 'wrong', '127.0.0.1'],
        ['keyboard-interactive', 'ada', 'sesame', '127.0.0.1'],
      ],
    );
  });

  test('the password method: refused, then accepted; the user name is the session user', TIMEOUT, async () => {
    requireTools('ssh', 'tmux');
    const server = await serveSsh(Gatekeeper, { ssh_auth: 'password' });
    const pane = new TmuxPane();
    try {
      const ssh = [
        'ssh',
        ...sshArgs(server.ports.ssh!, knownHosts, '-o', 'PreferredAuthentications=password', 'ada@127.0.0.1'),
      ];
      await pane.start(shellLine(ssh), 80, 24);
      await pane.waitForScreen(
        'the password prompt',
        (screen) => screen.at(-1) === "ada@127.0.0.1's password:",
        10_000,
      );
      await pane.type('wrong');
      await pane.sendKeys('Enter');
      await pane.waitForScreen('the refusal', (screen) => screen.includes('Permission denied, please try again.'));
      await pane.type('sesame');
      await pane.sendKeys('Enter');
      await pane.waitForScreen('the welcome', (screen) => screen.includes('Hello ada'));
      const [session] = await server.launch.app.list();
      assert.equal(session?.user, 'ada');
    } finally {
      await pane.kill();
    }
  });

  test(
    'publickey: a key in ssh_authorized_keys is let in, another only if authenticate knows it',
    TIMEOUT,
    async () => {
      requireTools('ssh', 'ssh-keygen');
      const keys = await mkdtemp(join(scratch, 'keys-'));
      const makeKey = async (name: string): Promise<string> => {
        await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(keys, name)]);
        return join(keys, name);
      };
      const listed = await makeKey('listed');
      const stranger = await makeKey('stranger');
      const friend = await makeKey('friend');
      await writeFile(join(keys, 'authorized_keys'), `# who may log in\n\n${await readFile(`${listed}.pub`, 'utf8')}`);
      const server = await serveSsh(Gatekeeper, {
        ssh_auth: 'publickey',
        ssh_authorized_keys: join(keys, 'authorized_keys'),
      });
      const fingerprint = async (key: string): Promise<string> =>
        (await run('ssh-keygen', ['-lf', `${key}.pub`])).stdout.split(' ')[1]!;
      Gatekeeper.welcomeKeys = new Set([await fingerprint(friend)]);
      const withKey = (key: string): string[] => [
        '-F',
        '/dev/null',
        '-o',
        'StrictHostKeyChecking=accept-new',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-i',
        key,
        '-p',
        `${server.ports.ssh}`,
        '-tt',
        'grace@127.0.0.1',
      ];
      const quitAtPrompt: Array<[RegExp, string]> = [[/> $/, 'quit\r']];
      const listedRun = await runSsh(withKey(listed), quitAtPrompt);
      assert.equal(listedRun.code, 0, JSON.stringify(listedRun));
      assert.match(listedRun.stdout, /Hello grace\r\n> quit\r\nGoodbye!/);
      const strangerRun = await runSsh(withKey(stranger), quitAtPrompt);
      assert.equal(strangerRun.code, 255);
      assert.match(strangerRun.stderr, /Permission denied \(publickey\)/);
      const friendRun = await runSsh(withKey(friend), quitAtPrompt);
      assert.equal(friendRun.code, 0, JSON.stringify(friendRun));
      const asked = Gatekeeper.attempts.filter((attempt) => attempt.method === 'publickey');
      assert.ok(asked.every((attempt) => attempt.publicKey?.type === 'ssh-ed25519' && attempt.password === undefined));
    },
  );

  test('after 5 failed logins from an address, even the right password is refused for a while', TIMEOUT, async () => {
    const server = await serveSsh(Gatekeeper, { ssh_auth: 'password' });
    const port = server.ports.ssh!;
    // Each attempt fails twice: by the password method, then by keyboard-interactive.
    for (let i = 0; i < 3; i++) {
      await assert.rejects(connectClient('ssh', port, { username: 'ada', password: 'guess' }), /^Error: ssh: /);
    }
    await assert.rejects(connectClient('ssh', port, { username: 'ada', password: 'sesame' }), /^Error: ssh: /);
  });
});

test(
  'the host key is made once, mode 0600, and kept: the same fingerprint after a restart, and no complaint from accept-new',
  TIMEOUT,
  async () => {
    requireTools('ssh', 'ssh-keygen');
    const dir = await mkdtemp(join(scratch, 'app-'));
    await writeFile(
      join(dir, 'config.yaml'),
      [
        'transport: ssh',
        'host: 127.0.0.1',
        'port: 0',
        `handler_class: '${join(ECHO_SAMPLE, 'handler.ts')}:EchoTelnetHandler'`,
        '',
      ].join('\n'),
    );
    const keyFile = join(dir, '.chuk', 'ssh_host_ed25519_key');
    const knownHosts = join(dir, 'known_hosts');
    const printed: string[] = [];
    const stderrs: string[] = [];
    for (let start = 0; start < 2; start++) {
      const { port, fingerprint, stop } = await launchCli(dir);
      printed.push(fingerprint);
      try {
        // One alias for both runs, whose ports differ: known_hosts holds the key under it.
        const result = await runSsh(
          [...sshArgs(port, knownHosts, '-o', 'HostKeyAlias=cps-test-app', '-tt', 'ada@127.0.0.1')],
          [[/> $/, 'quit\r']],
        );
        assert.equal(result.code, 0, JSON.stringify(result));
        stderrs.push(result.stderr);
      } finally {
        await stop();
      }
    }
    const keygen = (await run('ssh-keygen', ['-lf', keyFile])).stdout;
    assert.match(keygen, new RegExp(`^256 ${escape(printed[0]!.replace(' (ED25519)', ''))} .* \\(ED25519\\)\\n$`));
    assert.equal(printed[1], printed[0]);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.match(stderrs[0]!, /Warning: Permanently added 'cps-test-app' \(ED25519\) to the list of known hosts/);
    assert.ok(!stderrs[1]!.includes('Warning'), stderrs[1]);
  },
);

/** Starts the launcher from source on `dir`/config.yaml; resolves with its port and the fingerprint it printed. */
async function launchCli(dir: string): Promise<{ port: number; fingerprint: string; stop(): Promise<void> }> {
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, join(ROOT, 'src', 'cli.ts'), '-c', 'config.yaml'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening; stdout ${stdout}; stderr ${stderr}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match =
        /^ssh: ssh server listening on ssh:\/\/127\.0\.0\.1:(\d+) \(host key (SHA256:\S+ \(ED25519\))\)$/m.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
  return {
    port: Number(line[1]),
    fingerprint: line[2]!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('over max_connections: OpenSSH prints the refusal, the ssh2 client is rejected with it', TIMEOUT, async () => {
  requireTools('ssh');
  const server = await serveSsh(Echo, { max_connections: 1 });
  const first = await server.connect('ssh');
  await first.expect('> ');
  const result = await runSsh([
    ...sshArgs(server.ports.ssh!, join(scratch, 'known_hosts_full')),
    '-tt',
    'ada@127.0.0.1',
  ]);
  assert.equal(result.code, 255);
  assert.match(
    result.stderr,
    /Received disconnect from 127\.0\.0\.1 port \d+:12: Server is at maximum capacity\. Please try again later\./,
  );
  await assert.rejects(server.connect('ssh'), /Server is at maximum capacity/);
  first.send('still here');
  await first.expect('Echo: still here');
});

test('stopping the server tells ssh clients it is shutting down, with exit status 1', TIMEOUT, async () => {
  const server = await serveSsh(Echo);
  const client = await server.connect('ssh');
  await client.expect('> ');
  await server.launch.stop(1000);
  assert.deepEqual(await client.closed, { exitStatus: 1 });
  assert.match(client.text, /Server is shutting down\r\n$/);
});

test('ssh_keepalive_interval drops a client that stopped answering (reason ping-timeout)', TIMEOUT, async () => {
  requireTools('ssh');
  const server = await serveSsh(Echo, { ssh_keepalive_interval: 0.2 });
  const reasons: string[] = [];
  server.launch.app.events.on('session-ended', ({ reason }) => reasons.push(reason));
  const child = spawn(
    'ssh',
    [...sshArgs(server.ports.ssh!, join(scratch, 'known_hosts_keepalive')), '-tt', 'ada@127.0.0.1'],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  try {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await until(() => stdout.endsWith('> '), 'the prompt', 10_000);
    // Stopped, it reads nothing and answers no keepalive: three missed, the server gives up.
    child.kill('SIGSTOP');
    await until(() => reasons.length === 1, 'the session to end', 5000);
    assert.deepEqual(reasons, ['ping-timeout']);
  } finally {
    child.kill('SIGKILL');
  }
});

test("a recording's header has the pty's size and TERM, with no resize event for them", TIMEOUT, async () => {
  const dir = await mkdtemp(join(scratch, 'casts-'));
  const config = parseConfig({ transport: 'ssh', host: '127.0.0.1', port: 0, record_sessions: 'casts' }, dir, {
    requireHandlerClass: false,
  });
  const launch = await startLaunch(config, { handlerClass: Echo, logger: quiet });
  const client = await connectClient('ssh', launch.servers[0]!.address!.port, {
    cols: 132,
    rows: 43,
    terminalType: 'xterm-256color',
  });
  await client.expect('> ');
  client.send('quit');
  await client.closed;
  const cast = await waitForCast(join(dir, 'casts'));
  const [header, ...events] = cast
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
  assert.deepEqual(
    { ...(header as Record<string, unknown>), timestamp: undefined, title: undefined },
    { version: 2, width: 132, height: 43, env: { TERM: 'xterm-256color' }, timestamp: undefined, title: undefined },
  );
  assert.ok(!events.some((event) => (event as unknown[])[1] === 'r'), cast);
});

/** The one recording in `dir`, once its session has ended and it is complete. */
async function waitForCast(dir: string): Promise<string> {
  let text = '';
  await until(
    async () => {
      const [file] = (await readdir(dir)).filter((name) => name.endsWith('.cast'));
      text = file === undefined ? '' : await readFile(join(dir, file), 'utf8');
      return text.includes('Goodbye!');
    },
    'the recording',
    3000,
  );
  return text;
}

test('handshake_timeout closes a connection that never completes its handshake', TIMEOUT, async () => {
  const server = await serveSsh(Echo, { handshake_timeout: 0.3 });
  const socket = net.connect(server.ports.ssh!, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const startedAt = Date.now();
  await new Promise((resolve) => socket.once('close', resolve));
  assert.ok(Date.now() - startedAt < 3000);
  assert.match(received, /^SSH-2\.0-chuk_protocol_server\r\n/);
});

test('an authorized_keys line with options stops the start, naming the file and line', async () => {
  const file = join(scratch, 'authorized_keys_with_options');
  const { stdout } = await run('ssh-keygen', ['-y', '-f', join(scratch, await keyFor('options'))]);
  await writeFile(file, `from="10.0.0.1" ${stdout}`);
  await assert.rejects(
    startTestServer(Echo, { transport: 'ssh', settings: { ssh_auth: 'publickey', ssh_authorized_keys: file } }),
    new RegExp(`^ServerStartError: ssh_authorized_keys: ${escape(file)}:1: key options are not supported`),
  );
});

test('a host key in each format ssh-keygen writes has the fingerprint ssh-keygen -l prints', TIMEOUT, async () => {
  requireTools('ssh-keygen');
  const formats: Array<[string, string[]]> = [
    ['ed25519', ['-t', 'ed25519']],
    ['ecdsa-384', ['-t', 'ecdsa', '-b', '384']],
    ['rsa-pem', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']],
    ['ecdsa-pem', ['-t', 'ecdsa', '-m', 'PEM']],
  ];
  for (const [name, args] of formats) {
    const file = join(scratch, `host-${name}`);
    await run('ssh-keygen', ['-q', ...args, '-N', '', '-C', name, '-f', file]);
    const printed = (await run('ssh-keygen', ['-lf', file])).stdout.trim().split(' ');
    const key = await loadHostKey(file, false);
    assert.equal(key.fingerprint, `${printed[1]} ${printed.at(-1)}`, name);
    assert.deepEqual(key.text, await readFile(file));
    assert.equal(key.isNew, false);
  }
});

test('an encrypted host key stops the start, saying it needs a passphrase', TIMEOUT, async () => {
  requireTools('ssh-keygen');
  const file = join(scratch, 'host-encrypted');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', file]);
  await assert.rejects(
    startTestServer(Echo, { transport: 'ssh', settings: { ssh_host_key: file } }),
    new RegExp(
      `^ServerStartError: ssh_host_key: ${escape(file)} is not an SSH private key this server can use: .*passphrase`,
    ),
  );
});

test(
  'a launcher loads ssh2 only when clients arrive, and serves every client that came meanwhile',
  TIMEOUT,
  async () => {
    const dir = await mkdtemp(join(scratch, 'lazy-'));
    const probe = join(dir, 'probe.mjs');
    // A process of its own: this one loaded ssh2 for its clients. The clients here send their
    // hello together, before ssh2 is loaded, and each is answered with the server's key exchange.
    await writeFile(
      probe,
      `import { createRequire } from 'node:module';
import net from 'node:net';
import { TelnetHandler, serve } from '${pathToFileURL(join(ROOT, 'src', 'index.ts')).href}';
const isSsh2Loaded = () =>
  Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/ssh2/'));
const launch = await serve(TelnetHandler, { transport: 'ssh', host: '127.0.0.1', port: 0 }, { baseDir: '${dir}' });
const atStart = isSsh2Loaded();
const kexinit = () =>
  new Promise((resolve, reject) => {
    const socket = net.connect(launch.servers[0].address.port, '127.0.0.1');
    socket.write('SSH-2.0-probe\\r\\n');
    let received = '';
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed: ' + JSON.stringify(received))));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('curve25519')) resolve(socket.destroy());
    });
  });
await Promise.all(Array.from({ length: 5 }, kexinit));
console.log(JSON.stringify({ atStart, afterClients: isSsh2Loaded() }));
await launch.stop();
`,
    );
    const { stdout } = await run(process.execPath, ['--import', import.meta.resolve('tsx'), probe], { cwd: dir });
    assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), { atStart: false, afterClients: true });
  },
);

/** A new key pair in the scratch folder; resolves with its file name. */
async function keyFor(name: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(scratch, name)]);
  return name;
}
