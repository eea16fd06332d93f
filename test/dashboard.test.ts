// The monitor dashboard (web/monitor.*) in headless Chromium against a real application's monitor on 127.0.0.1.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

import { parseConfig } from '../src/index.js';
import type { Launch } from '../src/index.js';
import { OPT_ECHO } from '../src/telnet/constants.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { EchoHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { quiet, startApplication, startLaunch } from './support/servers.js';

const CHROMIUM = '/usr/bin/chromium';
const IS_CI = process.env['CI'] === 'true';
/** Every wait in this file: long enough for a slow CI machine, short enough to fail fast. */
const WAIT = { timeout: 5000 };
const VIEWER_TOKEN = 'viewer-token-for-tests';
const ADMIN_TOKEN = 'admin-token-for-tests';

/** The echo handler, plus `password`: a line read with echo off, which the monitor must not show. */
class WatchedHandler extends EchoHandler {
  override async onCommandSubmitted(command: string): Promise<void> {
    if (command !== 'password') return super.onCommandSubmitted(command);
    const password = await this.readLine('Password? ', { echo: false });
    await this.sendLine(`Password of ${password.length} characters accepted.`);
  }
}

/** What the page exposes for tests: the dashboard with its xterm terminals. */
interface ScreenBuffer {
  active: { length: number; getLine(y: number): { translateToString(trim: boolean): string } | undefined };
}
interface PageGlobals {
  dashboard: {
    watchTerminal: { cols: number; rows: number; buffer: ScreenBuffer } | undefined;
    replayTerminal: { cols: number; rows: number; buffer: ScreenBuffer } | undefined;
    player: { position: number; duration: number; isPlaying: boolean } | undefined;
  };
  Terminal: new (options: object) => { buffer: ScreenBuffer; open(element: unknown): void };
  document: PageDocument;
  castTest?: { term: { buffer: ScreenBuffer }; player: CastPlayerApi };
}
interface CastPlayerApi {
  play(): void;
  skipToEnd(): void;
  speed: number;
  readonly position: number;
  readonly isPlaying: boolean;
}
/** web/monitor.js as a module: the replay, without the page around it. */
interface CastModule {
  parseCast(text: string): { duration: number; cols: number; rows: number };
  CastPlayer: new (term: unknown, cast: unknown) => CastPlayerApi;
}
/** The little of the DOM the tests touch (the project's TypeScript has no DOM library). */
interface PageDocument {
  createElement(tag: string): unknown;
  body: { append(node: unknown): void };
  querySelector(selector: string): { textContent: string | null } | null;
  getElementById(id: string): { clientWidth: number } | null;
  documentElement: { scrollWidth: number };
}

// A missing browser skips the file on a workstation but fails it in CI.
const skip = !existsSync(CHROMIUM) && !IS_CI ? `${CHROMIUM} is not installed` : false;

describe('monitor dashboard', { skip }, () => {
  let browser: Browser;
  let launch: Launch;
  let recordings: string;
  /** The websocket server's port, where the monitor is served, and the telnet server's. */
  let web = 0;
  let telnet = 0;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing`);
    recordings = await mkdtemp(join(tmpdir(), 'dashboard-recordings-'));
    const config = parseConfig(
      {
        record_sessions: recordings,
        servers: {
          telnet: { transport: 'telnet', host: '127.0.0.1', port: 0 },
          web: {
            transport: 'websocket',
            host: '127.0.0.1',
            port: 0,
            enable_monitoring: true,
            monitor_token: VIEWER_TOKEN,
            monitor_admin_token: ADMIN_TOKEN,
          },
        },
      },
      process.cwd(),
      { requireHandlerClass: false },
    );
    launch = await startLaunch(config, { handlerClass: WatchedHandler, logger: quiet });
    telnet = launch.servers.find((server) => server.name === 'telnet')!.address!.port;
    web = launch.servers.find((server) => server.name === 'web')!.address!.port;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await launch?.stop(100);
    await rm(recordings, { recursive: true, force: true });
  });

  /** A telnet user at the prompt, with the server echoing, and the id of its session. */
  async function telnetUser(): Promise<{ client: TestClient; id: string }> {
    const before = new Set((await launch.app.list()).map((session) => session.id));
    const client = await connect('telnet', telnet, { telnet: 'terminal', size: [90, 30] });
    await client.waitFor('> ');
    await until(() => client.agreed.has(OPT_ECHO), 'server echo');
    const session = (await launch.app.list()).find((candidate) => !before.has(candidate.id));
    assert.ok(session !== undefined, 'the telnet session is listed by the application');
    return { client, id: session.id };
  }

  /** Opens the dashboard; `urls` collects every request and WebSocket it makes. */
  async function open(
    query: string,
    viewport = { width: 1200, height: 900 },
  ): Promise<{ page: Page; urls: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport });
    const urls: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    page.on('websocket', (socket) => urls.push(socket.url()));
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${web}/monitor${query}`);
    return { page, urls, errors };
  }

  test('the page and its assets need no token and come from our own server; recordings and access do', async () => {
    const base = `http://127.0.0.1:${web}/monitor`;
    for (const path of ['', '/']) {
      const page = await fetch(`${base}${path}`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      const html = await page.text();
      assert.match(html, /<script src="\/monitor\/assets\/xterm\.js">/);
      assert.doesNotMatch(html, /https?:\/\//, 'no asset from another site');
    }
    for (const [asset, type] of [
      ['monitor.js', 'text/javascript'],
      ['monitor.css', 'text/css'],
      ['xterm.js', 'text/javascript'],
      ['xterm.css', 'text/css'],
    ] as const) {
      const response = await fetch(`${base}/assets/${asset}`);
      assert.equal(response.status, 200, asset);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(`^${type}`), asset);
      assert.ok((await response.arrayBuffer()).byteLength > 1000, asset);
    }
    assert.equal((await fetch(`${base}/assets/missing.js`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${web}/monitorx`)).status, 404);

    assert.equal((await fetch(`${base}/recordings`)).status, 401);
    assert.equal((await fetch(`${base}/recordings?token=wrong`)).status, 401);
    assert.equal((await fetch(`${base}/recordings/anything.cast`)).status, 401);
    assert.equal((await fetch(`${base}/access`)).status, 401);
    const listed = await fetch(`${base}/recordings`, { headers: { Authorization: `Bearer ${VIEWER_TOKEN}` } });
    assert.equal(listed.status, 200);
    assert.ok(Array.isArray(await listed.json()));
    assert.equal((await fetch(`${base}/recordings/..%2Fetc%2Fpasswd?token=${VIEWER_TOKEN}`)).status, 404);
    assert.equal((await fetch(`${base}/recordings/not-a-recording.cast?token=${VIEWER_TOKEN}`)).status, 404);
    assert.deepEqual(await (await fetch(`${base}/access?token=${VIEWER_TOKEN}`)).json(), { access: 'viewer' });
    assert.deepEqual(await (await fetch(`${base}/access?token=${ADMIN_TOKEN}`)).json(), { access: 'admin' });

    // Without record_sessions the recordings are not found, once the token is right (none is set here).
    const { ports } = await startApplication(EchoHandler, { enable_monitoring: true, web_client: true });
    const open = `http://127.0.0.1:${ports.websocket}`;
    assert.equal((await fetch(`${open}/monitor/recordings`)).status, 404);
    assert.deepEqual(await (await fetch(`${open}/monitor/access`)).json(), { access: 'viewer' });
    // The browser terminal on the same port shares the asset serving and keeps its own files.
    for (const path of [
      '/',
      '/assets/terminal.js',
      '/assets/addon-fit.js',
      '/assets/xterm.js',
      '/monitor/assets/xterm.js',
    ]) {
      assert.equal((await fetch(`${open}${path}`)).status, 200, path);
    }
    assert.equal((await fetch(`${open}/assets/monitor.js`)).status, 404, 'the dashboard script only under its path');
  });

  test('a telnet session is listed live, watched from before the page opened, and goes when it quits', async () => {
    const first = await telnetUser();
    first.client.send('typed before the page opened');
    await first.client.waitFor('Echo: typed before the page opened');

    const { page, urls, errors } = await open(`?token=${VIEWER_TOKEN}`);
    const firstRow = page.locator(`#sessions tbody tr[data-id="${first.id}"]`);
    await firstRow.waitFor(WAIT);
    assert.equal(await firstRow.locator('.cell-transport').textContent(), 'telnet');
    assert.equal(await firstRow.locator('.cell-size').textContent(), '90×30');
    assert.match((await firstRow.locator('.cell-address').textContent()) ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match((await page.textContent('#status')) ?? '', /Connected, watching only/);
    assert.equal(await page.isHidden('#broadcast-form'), true, 'no operator actions for a viewer token');

    // A session that starts while the page is open appears without a reload, and the times tick.
    const second = await telnetUser();
    const secondRow = page.locator(`#sessions tbody tr[data-id="${second.id}"]`);
    await secondRow.waitFor(WAIT);
    assert.deepEqual(await visibleRows(page), [second.id, first.id], 'newest first');
    await page.selectOption('#filter-transport', 'websocket');
    assert.deepEqual(await visibleRows(page), []);
    assert.equal(await page.textContent('#sessions-empty'), 'No session matches the filter.');
    await page.selectOption('#filter-transport', 'telnet');
    await page.fill('#filter-text', second.id.slice(4, 12).toUpperCase());
    assert.deepEqual(await visibleRows(page), [second.id]);
    await page.fill('#filter-text', '');
    const startedText = await firstRow.locator('.cell-duration').textContent();
    await page.waitForFunction(
      ([id, was]) =>
        (globalThis as unknown as PageGlobals).document.querySelector(`tr[data-id="${id}"] .cell-duration`)
          ?.textContent !== was,
      [first.id, startedText] as const,
      WAIT,
    );

    await firstRow.click();
    await waitForScreen(page, 'watchTerminal', 'Echo: typed before the page opened');
    assert.deepEqual(await terminalSize(page, 'watchTerminal'), [90, 30]);
    first.client.send('typed while watched');
    await waitForScreen(page, 'watchTerminal', 'Echo: typed while watched');
    await page.locator('#input-log li', { hasText: 'typed while watched' }).waitFor(WAIT);
    first.client.send('password');
    await first.client.waitFor('Password? ');
    first.client.send('hunter2');
    await first.client.waitFor('Password of 7 characters accepted.');
    await page.locator('#input-log li', { hasText: '(hidden input)' }).waitFor(WAIT);
    assert.doesNotMatch((await page.textContent('#input-log')) ?? '', /hunter2/);
    await waitForScreen(page, 'watchTerminal', 'Password of 7 characters accepted.');
    assert.ok(!(await screenLines(page, 'watchTerminal')).join('\n').includes('hunter2'), 'no echo, no password');
    await page.screenshot({ path: '/tmp/dashboard.png', fullPage: true });

    // Ended rows are marked first, then go; the watch view keeps the last screen and says why.
    first.client.send('quit');
    second.client.end();
    await first.client.closed;
    await page.locator('#watch-state', { hasText: 'Ended: handler ended' }).waitFor(WAIT);
    await page.locator(`#sessions tbody tr.ended[data-id="${second.id}"]`).waitFor(WAIT);
    assert.equal(await secondRow.locator('.cell-idle').textContent(), 'client closed');
    await firstRow.waitFor({ state: 'detached', ...WAIT });
    await secondRow.waitFor({ state: 'detached', ...WAIT });
    assert.equal(await page.textContent('#session-count'), '0');
    await page.locator('#sessions-empty', { hasText: 'No sessions yet.' }).waitFor(WAIT);

    const origin = `127.0.0.1:${web}`;
    assert.ok(urls.includes(`ws://${origin}/monitor?token=${VIEWER_TOKEN}`), urls.join('\n'));
    for (const url of urls) assert.equal(new URL(url).host, origin, url);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('operator actions show with the admin token only, and reach the sessions', async () => {
    const { client, id } = await telnetUser();
    const { page } = await open(`?token=${ADMIN_TOKEN}`);
    await page.locator('#status', { hasText: 'Connected, with operator actions' }).waitFor(WAIT);
    await page.fill('#broadcast-text', 'the server restarts soon');
    await page.click('#broadcast-form button');
    await client.waitFor('the server restarts soon');
    await page.locator('#notice', { hasText: 'Broadcast sent.' }).waitFor(WAIT);

    await page.click(`#sessions tbody tr[data-id="${id}"]`);
    await page.locator('#watch-state', { hasText: 'Live' }).waitFor(WAIT);
    await page.fill('#message-text', 'hello from the operator');
    await page.click('#message-form button');
    await client.waitFor('hello from the operator');
    await waitForScreen(page, 'watchTerminal', 'hello from the operator');

    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#disconnect');
    await client.closed;
    await page.locator('#watch-state', { hasText: 'Ended: kicked' }).waitFor(WAIT);
    assert.equal(await page.isHidden('#session-actions'), true);
    await page.close();
  });

  test('without a token the page asks for one, and connects once given it', async () => {
    const { page } = await open('');
    await page.locator('#token-form').waitFor({ state: 'visible', ...WAIT });
    assert.equal(await page.textContent('#token-message'), 'This monitor needs a token.');
    await page.fill('#token-input', 'not the token');
    await page.click('#token-form button');
    await page.locator('#token-message', { hasText: 'That token was not accepted.' }).waitFor(WAIT);
    await page.fill('#token-input', VIEWER_TOKEN);
    await page.click('#token-form button');
    await page.locator('#status', { hasText: 'Connected' }).waitFor(WAIT);
    assert.equal(await page.isHidden('#token-form'), true);
    assert.equal(new URL(page.url()).searchParams.get('token'), VIEWER_TOKEN, 'a reload keeps the token');
    await page.close();
  });

  test('an ended session is listed under Recordings and replays to its end', async () => {
    const { client, id } = await telnetUser();
    client.send('a line for the recording');
    await client.waitFor('Echo: a line for the recording');
    client.send('quit');
    await client.closed;
    const { page } = await open(`?token=${VIEWER_TOKEN}`);
    await page.click('#tab-recordings');
    const row = page.locator('#recordings tbody tr', { hasText: id });
    await row.waitFor(WAIT);
    await row.locator('button').click();
    await page.locator('#replay').waitFor({ state: 'visible', ...WAIT });
    await page.selectOption('#replay-speed', '16');
    await page.click('#replay-end');
    await waitForScreen(page, 'replayTerminal', 'Echo: a line for the recording');
    assert.deepEqual(await terminalSize(page, 'replayTerminal'), [90, 30]);
    const player = await page.evaluate(() => {
      const { position, duration, isPlaying } = (globalThis as unknown as PageGlobals).dashboard.player!;
      return { position, duration, isPlaying };
    });
    assert.equal(player.isPlaying, false);
    assert.equal(player.position, player.duration);
    assert.equal(await page.textContent('#replay-toggle'), 'Play again');
    await page.close();
  });

  test('a replay keeps the recording’s timing, at the chosen speed, and shortens idle gaps', async () => {
    const { page } = await open(`?token=${VIEWER_TOKEN}`);
    const events = ['[0.0, "o", "first\\r\\n"]', '[4.0, "i", "x"]', '[8.0, "o", "second\\r\\n"]', '[30, "o", "last"]'];
    const parsed = await page.evaluate(async (lines) => {
      const { CastPlayer, parseCast } = (await import('/monitor/assets/monitor.js' as string)) as CastModule;
      const { Terminal, document } = globalThis as unknown as PageGlobals;
      const cast = parseCast([JSON.stringify({ version: 2, width: 40, height: 5 }), ...lines].join('\n'));
      const limited = parseCast(
        [JSON.stringify({ version: 2, width: 40, height: 5, idle_time_limit: 1 }), ...lines].join('\n'),
      );
      const v3 = parseCast(
        [
          JSON.stringify({ version: 3, term: { cols: 30, rows: 4 } }),
          '[0.5, "o", "a"]',
          '[0.25, "o", "b"]',
          '[0.2, "o", "',
        ].join('\n'),
      );
      const host = document.createElement('div');
      document.body.append(host);
      const term = new Terminal({ cols: 80, rows: 24 });
      term.open(host);
      const player = new CastPlayer(term, cast);
      (globalThis as unknown as PageGlobals).castTest = { term, player };
      // At 8× the event at 8 s is due after 1 s, the one at 30 s after 3.75 s; at 1× after 8 and 30.
      player.speed = 8;
      player.play();
      return {
        size: [cast.cols, cast.rows],
        duration: cast.duration,
        limited: limited.duration,
        v3: [v3.cols, v3.rows, v3.duration],
      };
    }, events);
    assert.deepEqual(parsed.size, [40, 5]);
    assert.equal(parsed.duration, 30);
    // Gaps of 4, 4 and 22 s, each shortened to the 1 s limit.
    assert.equal(parsed.limited, 3);
    // v3 times are intervals; a half-written last line (a recording in progress) is left out.
    assert.deepEqual(parsed.v3, [30, 4, 0.75]);

    // Each screen is seen with the position it was seen at: never ahead of the recording's time.
    assert.ok((await waitForCast(page, ['first'])).position < 8);
    const middle = await waitForCast(page, ['first', 'second']);
    assert.ok(middle.position >= 8 && middle.position < 30, String(middle.position));
    const playing = await page.evaluate(() => {
      const { player } = (globalThis as unknown as PageGlobals).castTest!;
      const state = { isPlaying: player.isPlaying, position: player.position };
      player.skipToEnd();
      return state;
    });
    assert.equal(playing.isPlaying, true);
    assert.ok(playing.position < 30, `skipped from ${playing.position} s, before the last event`);
    await waitForCast(page, ['first', 'second', 'last']);
    const end = await page.evaluate(() => {
      const { player } = (globalThis as unknown as PageGlobals).castTest!;
      return { isPlaying: player.isPlaying, position: player.position };
    });
    assert.deepEqual(end, { isPlaying: false, position: 30 });
    await page.close();
  });

  test('on a 390 px wide phone nothing overflows sideways and a session can still be watched', async () => {
    const { client, id } = await telnetUser();
    client.send('seen on a phone');
    const { page } = await open(`?token=${VIEWER_TOKEN}`, { width: 390, height: 844 });
    const row = page.locator(`#sessions tbody tr[data-id="${id}"]`);
    await row.waitFor(WAIT);
    await row.click();
    await waitForScreen(page, 'watchTerminal', 'Echo: seen on a phone');
    const widths = await page.evaluate(() => {
      const { document } = globalThis as unknown as PageGlobals;
      return {
        page: document.documentElement.scrollWidth,
        screen: document.getElementById('watch-screen')!.clientWidth,
      };
    });
    assert.ok(widths.page <= 390, `page is ${widths.page}px wide`);
    assert.ok(widths.screen <= 390, `terminal box is ${widths.screen}px wide`);
    await page.screenshot({ path: '/tmp/dashboard-390.png', fullPage: true });
    client.end();
    await page.close();
  });
});

type TerminalName = 'watchTerminal' | 'replayTerminal';

/** Ids of the session rows shown, top to bottom. */
async function visibleRows(page: Page): Promise<string[]> {
  return page
    .locator('#sessions tbody tr:visible')
    .evaluateAll((rows) => rows.map((row) => (row as unknown as { dataset: Record<string, string> }).dataset['id']!));
}

/** The non-empty lines of the replay test's own terminal, with the player's position at that moment. */
async function castScreen(page: Page): Promise<{ lines: string[]; position: number }> {
  return page.evaluate(() => {
    const { term, player } = (globalThis as unknown as PageGlobals).castTest!;
    const lines: string[] = [];
    for (let y = 0; y < term.buffer.active.length; y++)
      lines.push(term.buffer.active.getLine(y)?.translateToString(true) ?? '');
    return { lines: lines.filter((line) => line !== ''), position: player.position };
  });
}

/** Waits until the replay test's terminal shows exactly `lines`; returns them with the position then. */
async function waitForCast(page: Page, lines: string[]): Promise<{ lines: string[]; position: number }> {
  try {
    const seen = await page.waitForFunction(
      (wanted) => {
        const { term, player } = (globalThis as unknown as PageGlobals).castTest!;
        const shown: string[] = [];
        for (let y = 0; y < term.buffer.active.length; y++) {
          const line = term.buffer.active.getLine(y)?.translateToString(true) ?? '';
          if (line !== '') shown.push(line);
        }
        return JSON.stringify(shown) === JSON.stringify(wanted) && { lines: shown, position: player.position };
      },
      lines,
      WAIT,
    );
    return (await seen.jsonValue()) as { lines: string[]; position: number };
  } catch (err) {
    throw new Error(`the replay never showed ${JSON.stringify(lines)}: ${JSON.stringify(await castScreen(page))}`, {
      cause: err,
    });
  }
}

async function screenLines(page: Page, name: TerminalName): Promise<string[]> {
  return page.evaluate((which) => {
    const term = (globalThis as unknown as PageGlobals).dashboard[which];
    if (term === undefined) return [];
    const lines: string[] = [];
    for (let y = 0; y < term.buffer.active.length; y++)
      lines.push(term.buffer.active.getLine(y)?.translateToString(true) ?? '');
    return lines;
  }, name);
}

async function waitForScreen(page: Page, name: TerminalName, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([which, wanted]) => {
        const { buffer } = (globalThis as unknown as PageGlobals).dashboard?.[which] ?? {};
        if (buffer === undefined) return false;
        for (let y = 0; y < buffer.active.length; y++) {
          if (buffer.active.getLine(y)?.translateToString(true).includes(wanted)) return true;
        }
        return false;
      },
      [name, text] as const,
      WAIT,
    );
  } catch (err) {
    throw new Error(
      `"${text}" never appeared on the ${name}:\n${(await screenLines(page, name)).join('\n').trimEnd()}`,
      {
        cause: err,
      },
    );
  }
}

async function terminalSize(page: Page, name: TerminalName): Promise<[number, number]> {
  return page.evaluate((which) => {
    const term = (globalThis as unknown as PageGlobals).dashboard[which]!;
    return [term.cols, term.rows] as [number, number];
  }, name);
}
