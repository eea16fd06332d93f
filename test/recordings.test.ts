// Session recordings (record_sessions): asciicast files read back by the real asciinema, the size
// cap, the pending-write bound, retention, hidden input, and real telnet in tmux resizing its window.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual, promisify } from 'node:util';

import { pino } from 'pino';
import type { Logger } from 'pino';

import { LineHandler, parseConfig } from '../src/index.js';
import type { HandlerClass, Launch, TransportName } from '../src/index.js';
import { PUBLISH_LIMIT } from '../src/session/output.js';
import { OPT_ECHO } from '../src/telnet/constants.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { CharacterLoginHandler, EchoHandler, LoginHandler, logInAndQuit } from './support/handlers.js';
import { until } from './support/received-text.js';
import { quiet, startLaunch } from './support/servers.js';

const run = promisify(execFile);

/** What every recording's name looks like: start time to the second, then the session id. */
const CAST_NAME = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[a-z2-7]{16}\.cast$/;

const folders: string[] = [];
after(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

/** A fresh temporary folder, removed after the file's tests. */
async function tempFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'cps-recordings-'));
  folders.push(folder);
  return folder;
}

/**
 * One application with a telnet and a tcp server on 127.0.0.1, recording into `casts` under a
 * fresh folder (the config's base folder, so the relative path resolves there).
 */
async function startRecording(
  handlerClass: HandlerClass,
  settings: Record<string, unknown> = {},
  options: { logger?: Logger; baseDir?: string } = {},
): Promise<{ launch: Launch; ports: Record<'telnet' | 'tcp', number>; casts: string }> {
  const baseDir = options.baseDir ?? (await tempFolder());
  const config = parseConfig(
    {
      servers: {
        telnet: { transport: 'telnet', host: '127.0.0.1', port: 0 },
        tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 },
      },
      record_sessions: 'casts',
      ...settings,
    },
    baseDir,
    { requireHandlerClass: false },
  );
  const launch = await startLaunch(config, { handlerClass, logger: options.logger ?? quiet });
  const port = (name: string): number => launch.servers.find((server) => server.name === name)!.address!.port;
  return { launch, ports: { telnet: port('telnet'), tcp: port('tcp') }, casts: join(baseDir, 'casts') };
}

/** A client at the prompt; on telnet, a terminal whose keys the server echoes, as a person would start typing. */
async function connectAs(transport: TransportName, port: number, size?: [number, number]): Promise<TestClient> {
  const client = await connect(transport, port, { telnet: 'terminal', size });
  await client.waitFor('> ');
  if (transport === 'telnet') await until(() => client.agreed.has(OPT_ECHO), 'server echo');
  return client;
}

/** The id of the one session of `transport` now in the application. */
async function sessionOf(launch: Launch, transport: TransportName): Promise<string> {
  const [session] = await launch.app.list({ transport });
  assert.ok(session !== undefined, `a ${transport} session`);
  return session.id;
}

type CastEvent = [number, string, string];

interface Cast {
  header: Record<string, unknown>;
  events: CastEvent[];
  raw: string;
}

/** Reads a recording as newline-delimited JSON: every line must parse, none may be blank. */
async function readCast(path: string): Promise<Cast> {
  const raw = await readFile(path, 'utf8');
  assert.ok(raw.endsWith('\n'), 'a recording ends with a whole line');
  const [header, ...events] = raw
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
  for (const event of events) {
    assert.ok(Array.isArray(event) && event.length === 3, `an event is [time, code, data]: ${JSON.stringify(event)}`);
    assert.equal(typeof event[0], 'number');
  }
  return { header: header as Record<string, unknown>, events: events as CastEvent[], raw };
}

/** The data of every event with `code`, joined. */
function dataOf(cast: Cast, code: string): string {
  return cast.events.flatMap(([, type, data]) => (type === code ? [data] : [])).join('');
}

/** Polls `read` until it gives a value; fails naming `what` after `timeoutMs`. */
async function eventually<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * The recording of `sessionId` once its output ends with `last`: the session's end has it
 * written and closed, with no stop() needed.
 */
function finishedCast(casts: string, sessionId: string, last: string): Promise<{ file: string; cast: Cast }> {
  return eventually(`the recording of ${sessionId} to end with ${JSON.stringify(last)}`, async () => {
    const file = (await readdir(casts)).find((name) => name.includes(sessionId));
    if (file === undefined) return undefined;
    // Read while being written, the last line may be partial: then it is read again.
    const cast = await readCast(join(casts, file)).catch(() => undefined);
    return cast !== undefined && dataOf(cast, 'o').endsWith(last) ? { file, cast } : undefined;
  });
}

/** Fails, naming what to install, when a tool these tests drive is missing: never a silent skip. */
async function requireTools(...tools: string[]): Promise<void> {
  const missing: string[] = [];
  for (const tool of tools) {
    await run('sh', ['-c', `command -v ${tool}`]).catch(() => missing.push(tool));
  }
  assert.deepEqual(missing, [], `install ${missing.join(', ')} (Debian: apt-get install ${missing.join(' ')})`);
}

/**
 * What Debian's `asciinema cat` (2.2) prints for a recording. It insists on a terminal (it opens
 * /dev/tty), so it runs under script(1), with its output going straight to a file.
 */
async function asciinemaCat(path: string): Promise<string> {
  await requireTools('asciinema', 'script');
  const out = join(await tempFolder(), 'cat.out');
  await run('script', ['-qec', 'asciinema cat "$CAST" > "$OUT"', '/dev/null'], {
    env: { ...process.env, CAST: path, OUT: out },
    timeout: 10_000,
  });
  return readFile(out, 'utf8');
}

test('telnet and tcp sessions are recorded as asciicast v2 that asciinema cat prints exactly as the users saw them', async () => {
  const { launch, ports, casts } = await startRecording(EchoHandler);
  const telnet = await connectAs('telnet', ports.telnet, [100, 30]);
  const tcp = await connectAs('tcp', ports.tcp);
  const telnetId = await sessionOf(launch, 'telnet');
  const tcpId = await sessionOf(launch, 'tcp');

  telnet.type('hello\r');
  await telnet.waitFor('Echo: hello');
  // A typo mended with Backspace, then a half-typed line that a message from tcp has to redraw.
  telnet.type('wrold\x7f\x7f\x7f\x7forld\r');
  await telnet.waitFor('Echo: world\r\n> ');
  const from = telnet.text.length;
  telnet.type('ab');
  await telnet.waitFor('ab', { from });
  tcp.send('say héllo ☃');
  await telnet.waitFor('tcp says héllo ☃\r\n> ab', { from });
  telnet.type('\x7f\x7fquit\r');
  await telnet.closed;
  tcp.send('quit');
  await tcp.closed;

  const telnetCast = await finishedCast(casts, telnetId, 'Goodbye!\r\n');
  const tcpCast = await finishedCast(casts, tcpId, 'Goodbye!\r\n');
  // RFC 854: a bare CR goes over telnet as CR NUL (the redraw's "\r\x1b[J"); a telnet client
  // reads the pair as the CR. The recording has what the terminal was given: the CR alone.
  assert.ok(telnet.text.includes('\r\0'), 'the redraw sent a bare CR');
  assert.equal(await asciinemaCat(join(casts, telnetCast.file)), telnet.text.replaceAll('\r\0', '\r'));
  assert.equal(await asciinemaCat(join(casts, tcpCast.file)), tcp.text);

  assert.match(telnetCast.file, CAST_NAME);
  assert.ok(telnetCast.file.endsWith(`-${telnetId}.cast`));
  const { header } = telnetCast.cast;
  assert.equal(header.version, 2);
  assert.equal(header.width, 100);
  assert.equal(header.height, 30);
  assert.deepEqual(header.env, { TERM: 'xterm-256color' });
  assert.match(String(header.title), /^telnet \(telnet\) from 127\.0\.0\.1:\d+$/);
  assert.equal(typeof header.timestamp, 'number');
  assert.match(String(tcpCast.cast.header.title), /^tcp \(tcp\) from 127\.0\.0\.1:\d+$/);
  assert.equal(tcpCast.cast.header.width, 80);
  assert.equal(tcpCast.cast.header.height, 24);
  // Times run from the session's start and never go back.
  const times = telnetCast.cast.events.map(([time]) => time);
  assert.ok(times.every((time, i) => i === 0 || time >= times[i - 1]!));
  // record_input is off by default.
  assert.equal(dataOf(telnetCast.cast, 'i'), '');

  const recorder = launch.observability!.recorder!;
  const listed = await recorder.list();
  assert.deepEqual(listed.map((entry) => entry.sessionId).sort(), [telnetId, tcpId].sort());
  for (const entry of listed) assert.equal(entry.bytes, (await stat(join(casts, entry.file))).size);
  assert.ok(listed[0]!.startedAt >= listed[1]!.startedAt, 'newest first');
  assert.equal((await stat(join(casts, telnetCast.file))).mode & 0o777, 0o600);
  assert.equal(recorder.pathOf(telnetCast.file), join(casts, telnetCast.file));
  for (const name of ['../x.cast', `../${telnetCast.file}`, `casts/${telnetCast.file}`, 'notes.txt', '']) {
    assert.equal(recorder.pathOf(name), undefined, name);
  }
});

test('record_input writes the lines typed as "i" events, and a hidden password in no form at all', async () => {
  const lineMode = await startRecording(LoginHandler, { record_input: true });
  const characterMode = await startRecording(CharacterLoginHandler, { record_input: true });
  for (const [{ launch, ports, casts }, transport] of [
    [lineMode, 'telnet'],
    [lineMode, 'tcp'],
    [characterMode, 'telnet'],
  ] as const) {
    const client = await connect(transport, ports[transport], { telnet: 'terminal' });
    await client.waitFor('Name? ');
    const id = await sessionOf(launch, transport);
    await logInAndQuit(client);

    const { cast } = await finishedCast(casts, id, 'Goodbye!\r\n');
    const mode = launch === lineMode.launch ? 'line mode' : 'character mode';
    // Each line once, as the keys that typed it (not key by key as well); nothing where the password was.
    assert.equal(dataOf(cast, 'i'), 'Ada\rhello\rquit\r', `${transport} in ${mode}`);
    assert.ok(!cast.raw.includes('sesame'), `${transport} in ${mode}: the password is nowhere in the file`);
  }
});

test('a flooding session is cut near record_max_bytes with a marker, and asciinema still reads the file', async () => {
  const maxBytes = 4096;
  const { launch, ports, casts } = await startRecording(EchoHandler, { record_max_bytes: maxBytes });
  const tcp = await connectAs('tcp', ports.tcp);
  const id = await sessionOf(launch, 'tcp');
  for (let i = 0; i < 60; i++) tcp.send(`${i} ${'x'.repeat(100)}`);
  await tcp.waitFor(`Echo: 59 ${'x'.repeat(100)}`);
  tcp.send('quit');
  await tcp.closed;
  await launch.stop();

  const [file] = await readdir(casts);
  const path = join(casts, file!);
  const { size } = await stat(path);
  assert.ok(size <= maxBytes && size > maxBytes - 200, `${size} bytes, near ${maxBytes}`);
  const cast = await readCast(path);
  assert.ok(file!.includes(id));
  const [, code, label] = cast.events.at(-1)!;
  assert.equal(code, 'm');
  assert.match(label, /record_max_bytes/);
  const shown = await asciinemaCat(path);
  assert.ok(shown.length > maxBytes / 2, 'most of the budget holds output');
  assert.ok(tcp.text.startsWith(shown), 'what was kept is the start of what the user saw');
  assert.ok(!shown.includes('Goodbye!'));
});

/** `burst <n>`: writes n lines of about 200 bytes all in one turn, waiting for none of them, then "burst done". */
class BurstHandler extends LineHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    const count = Number(command.split(' ')[1]);
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) writes.push(this.sendLine(burstLine(i)));
    await Promise.all(writes);
    await this.sendLine('burst done');
  }
}

function burstLine(i: number): string {
  return `${i} ${'y'.repeat(196)}`;
}

/** The output events a turn that writes `pieces` makes: one each time PUBLISH_LIMIT characters have gathered, and the rest at its end. */
function eventsOfOneTurn(pieces: string[]): string[] {
  const events: string[] = [];
  let gathered = '';
  for (const piece of pieces) {
    gathered += piece;
    if (gathered.length < PUBLISH_LIMIT) continue;
    events.push(gathered);
    gathered = '';
  }
  if (gathered !== '') events.push(gathered);
  return events;
}

test('output faster than the disk takes is dropped, counted, logged and marked rather than buffered', async () => {
  const records: Array<{ level: number; component?: string }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void records.push(JSON.parse(line)) });
  const { launch, ports, casts } = await startRecording(BurstHandler, {}, { logger });
  const tcp = await connectAs('tcp', ports.tcp);
  const id = await sessionOf(launch, 'tcp');
  // 3000 lines in one turn, and "burst done" and the prompt in the same turn: 600 kB that the
  // file cannot take before the turn ends and the disk gets a chance.
  tcp.send('burst 3000');
  await tcp.waitFor('burst done\r\n> ');
  // Once what was taken is on disk, a short burst is recorded again, after a marker for the gap.
  const file = await eventually('the accepted part on disk', async () => {
    const name = (await readdir(casts)).find((entry) => entry.includes(id));
    return name !== undefined && (await stat(join(casts, name))).size >= 256 * 1024 ? name : undefined;
  });
  const from = tcp.text.length;
  tcp.send('burst 1');
  await tcp.waitFor('burst done\r\n> ', { from });
  tcp.end();
  await tcp.closed;

  const last = `${burstLine(0)}\r\nburst done\r\n> `;
  const { cast } = await finishedCast(casts, id, last);
  const markerAt = cast.events.findIndex(([, code]) => code === 'm');
  const marker = cast.events[markerAt]![2];
  assert.match(marker, /^\d+ events dropped here: the disk did not keep up$/);
  assert.equal(cast.events.filter(([, code]) => code === 'm').length, 1);
  // Every event of the long burst was either written or counted as dropped, and what was written
  // is its start, whole events in order. "burst done" and the prompt come in the burst's turn, or
  // in the next where the socket had to drain first.
  const lines = Array.from({ length: 3000 }, (_, i) => `${burstLine(i)}\r\n`);
  const burst = eventsOfOneTurn([...lines, 'burst done\r\n', '> ']);
  const burstThenDone = [...eventsOfOneTurn(lines), 'burst done\r\n> '];
  const kept = cast.events.slice(0, markerAt).filter(([, code]) => code === 'o');
  const keptBurst = kept.slice(kept.findIndex(([, , data]) => data.startsWith(burstLine(0))));
  const dropped = Number(marker.split(' ')[0]);
  const written = keptBurst.map(([, , data]) => data);
  assert.ok(
    [burst, burstThenDone].some((events) => isDeepStrictEqual(written, events.slice(0, events.length - dropped))),
    `${written.length} events written and ${dropped} dropped of ${burst.length} or ${burstThenDone.length}`,
  );
  const keptLines = keptBurst.reduce((lines, [, , data]) => lines + data.split('\r\n').length - 1, 0);
  assert.ok(keptLines > 1000 && keptLines < 3000, `${keptLines} lines kept`);
  assert.equal(
    cast.events
      .slice(markerAt + 1)
      .map(([, , data]) => data)
      .join(''),
    last,
  );
  const warnings = records.filter((record) => record.component === 'recorder' && record.level === 40);
  assert.equal(warnings.length, 1, 'logged once for the recording');
  assert.ok(file.endsWith(`-${id}.cast`));
});

test('record_keep keeps that many of our recordings, deleting the oldest first and nothing else', async () => {
  const baseDir = await tempFolder();
  const casts = join(baseDir, 'casts');
  // Written newest first: age is the time in the name, not the order the files were made in.
  const earlier = [
    '2020-01-01T00-00-03Z-cccccccccccccccc.cast',
    '2020-01-01T00-00-02Z-bbbbbbbbbbbbbbbb.cast',
    '2020-01-01T00-00-01Z-aaaaaaaaaaaaaaaa.cast',
  ];
  const strangers = [
    'notes.txt',
    'mine.cast',
    '2020-01-01T00-00-00Z-short.cast',
    '2020-01-01T00-00-00Z-UPPERCASEIDXXXXX.cast',
  ];
  await mkdir(casts);
  for (const name of [...earlier, ...strangers]) await writeFile(join(casts, name), '{}\n');
  const { launch, ports } = await startRecording(EchoHandler, { record_keep: 3 }, { baseDir });

  const ids: string[] = [];
  for (const gone of [earlier[2], earlier[1]]) {
    const client = await connectAs('tcp', ports.tcp);
    ids.push(await sessionOf(launch, 'tcp'));
    client.send('quit');
    await client.closed;
    await eventually(`${gone} deleted`, async () => ((await readdir(casts)).includes(gone!) ? undefined : true));
  }
  await launch.stop();

  const left = await readdir(casts);
  const ours = left.filter((name) => CAST_NAME.test(name)).sort();
  assert.equal(ours.length, 3);
  assert.equal(ours[0], earlier[0]);
  for (const id of ids) {
    assert.ok(
      ours.some((name) => name.endsWith(`-${id}.cast`)),
      id,
    );
  }
  assert.deepEqual(left.filter((name) => !CAST_NAME.test(name)).sort(), [...strangers].sort());
});

test('record_format v3: a v3 header, then events timed by the interval since the one before', async () => {
  const { launch, ports, casts } = await startRecording(EchoHandler, { record_format: 'v3', record_input: true });
  const began = performance.now();
  const telnet = await connectAs('telnet', ports.telnet, [90, 25]);
  const id = await sessionOf(launch, 'telnet');
  telnet.type('one\r');
  await telnet.waitFor('Echo: one\r\n> ');
  await sleep(300);
  telnet.type('quit\r');
  await telnet.closed;
  const seconds = (performance.now() - began) / 1000;

  const { cast } = await finishedCast(casts, id, 'Goodbye!\r\n');
  const { header } = cast;
  assert.equal(header.version, 3);
  assert.deepEqual(header.term, { cols: 90, rows: 25, type: 'xterm-256color' });
  assert.equal(typeof header.timestamp, 'number');
  assert.match(String(header.title), /^telnet \(telnet\) from 127\.0\.0\.1:\d+$/);
  assert.equal(dataOf(cast, 'o'), telnet.text.replaceAll('\r\0', '\r'));
  assert.equal(dataOf(cast, 'i'), 'one\rquit\r');
  // The pause is in the interval of the first event after it, the echo of quit (typed in one
  // write, echoed in one); what follows comes at once.
  const pauseAt = cast.events.findIndex(([interval]) => interval >= 0.29);
  assert.deepEqual(cast.events[pauseAt]!.slice(1), ['o', 'quit']);
  assert.ok(cast.events[pauseAt + 1]![0] < 0.29, `${cast.events[pauseAt + 1]![0]} s after the echo`);
  const total = cast.events.reduce((sum, [interval]) => sum + interval, 0);
  assert.ok(cast.events.every(([interval]) => interval >= 0));
  assert.ok(total >= 0.3 && total <= seconds, `${total} s recorded in a ${seconds} s session`);
});

/** Sends half a surrogate pair, as a handler slicing text by UTF-16 units might. */
class HalfPairHandler extends LineHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine('half a pair: \ud83d, then on');
  }
}

test('text that cannot be sent as it is (half a surrogate pair) is recorded as the U+FFFD the user got', async () => {
  const { launch, ports, casts } = await startRecording(HalfPairHandler);
  const tcp = await connectAs('tcp', ports.tcp);
  const id = await sessionOf(launch, 'tcp');
  tcp.send('quit');
  await tcp.closed;
  const { file } = await finishedCast(casts, id, 'Goodbye!\r\n');
  assert.ok(tcp.text.startsWith('half a pair: \ufffd, then on\r\n'));
  assert.equal(await asciinemaCat(join(casts, file)), tcp.text);
});

test('a real telnet in tmux: the header has its TERM and size, and resizing the window is an "r" event', async () => {
  await requireTools('telnet', 'tmux', 'asciinema', 'script');
  const { launch, ports, casts } = await startRecording(EchoHandler);
  const sessions = launch.servers.find((server) => server.name === 'telnet')!.sessions;
  // A private tmux server (-L), so that nothing touches the user's own sessions.
  const tmux = (...args: string[]) => run('tmux', ['-L', `cps-recordings-${process.pid}`, ...args], { timeout: 5000 });
  let socketPath: string | undefined;
  try {
    // TERM as the user's shell would have it: netkit telnet sends it as its terminal type.
    const command = `env TERM=xterm-256color telnet 127.0.0.1 ${ports.telnet}`;
    await tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'rec', '-x', '90', '-y', '20', command);
    socketPath = (await tmux('display-message', '-p', '#{socket_path}')).stdout.trim();
    await until(() => [...sessions].some((s) => s.mode === 'character' && s.serverEchoes), 'character mode', 3000);
    const id = await sessionOf(launch, 'telnet');
    await tmux('resize-window', '-t', 'rec', '-x', '120', '-y', '40');
    await until(() => [...sessions].some((s) => s.terminal.cols === 120), 'the new size', 3000);
    await tmux('send-keys', '-t', 'rec', '-l', 'hi');
    await tmux('send-keys', '-t', 'rec', 'Enter');
    await tmux('send-keys', '-t', 'rec', '-l', 'quit');
    await tmux('send-keys', '-t', 'rec', 'Enter');

    const { file, cast } = await finishedCast(casts, id, 'Goodbye!\r\n');
    assert.equal(cast.header.width, 90);
    assert.equal(cast.header.height, 20);
    assert.deepEqual(cast.header.env, { TERM: 'xterm-256color' });
    const resizes = cast.events.filter(([, code]) => code === 'r').map(([, , size]) => size);
    assert.deepEqual(resizes, ['120x40']);
    const shown = await asciinemaCat(join(casts, file));
    assert.ok(shown.includes('Echo: hi\r\n') && shown.endsWith('Goodbye!\r\n'), JSON.stringify(shown));
  } finally {
    await tmux('kill-server').catch(() => undefined);
    // tmux leaves its socket file behind when killed.
    if (socketPath !== undefined) await rm(socketPath, { force: true });
  }
});

test('a record_sessions folder that cannot be made stops the launch with ERR_SERVER_START', async () => {
  const baseDir = await tempFolder();
  await writeFile(join(baseDir, 'casts'), 'a file where the folder should be\n');
  const config = parseConfig(
    { servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0 } }, record_sessions: 'casts/today' },
    baseDir,
    { requireHandlerClass: false },
  );
  await assert.rejects(
    startLaunch(config, { handlerClass: EchoHandler, logger: quiet }),
    (err: Error & { code?: string; cause?: { code?: string } }) => {
      assert.equal(err.code, 'ERR_SERVER_START');
      assert.equal(err.cause?.code, 'ENOTDIR');
      return true;
    },
  );
});
