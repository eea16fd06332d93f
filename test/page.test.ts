// The browser terminal page as a new user meets it, in headless Chromium: on a desktop and on a phone with touch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { devices } from 'playwright-core';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';

import { CharacterHandler, parseConfig } from '../src/index.js';
import {
  WAIT,
  launchChromium,
  screenLines,
  skipWithoutChromium,
  terminalSize,
  waitForScreen,
} from './support/browser.js';
import type { PageGlobals } from './support/browser.js';
import { quiet, startLaunch, startServer } from './support/servers.js';

/** The phone of the issue: 390x844 CSS pixels, touch, a mobile viewport; a Chromium device otherwise. */
const PHONE: BrowserContextOptions = { ...devices['Pixel 7'], viewport: { width: 390, height: 844 } };
const DESKTOP: BrowserContextOptions = { viewport: { width: 1000, height: 640 } };
/** The height of an on-screen keyboard, in CSS pixels. */
const KEYBOARD = 336;

/**
 * A stand-in for window.visualViewport as Safari on iOS keeps it: the keyboard shrinks it and
 * leaves the layout viewport as it was. `openKeyboard(height)` opens a keyboard that tall.
 */
const VISUAL_VIEWPORT = `
  let keyboard = 0;
  const viewport = new EventTarget();
  Object.defineProperties(viewport, {
    width: { get: () => innerWidth },
    height: { get: () => innerHeight - keyboard },
    offsetLeft: { value: 0 },
    offsetTop: { value: 0 },
    scale: { value: 1 },
  });
  Object.defineProperty(window, 'visualViewport', { value: viewport, configurable: true });
  window.openKeyboard = (height) => {
    keyboard = height;
    viewport.dispatchEvent(new Event('resize'));
  };
`;

/** What the visual viewport's stand-in adds to the page. */
interface KeyboardGlobals {
  openKeyboard(height: number): void;
}

/**
 * A character-mode application that names the bytes of each key it gets ("key 1b 5b 41").
 * `?cursor=app` turns on application cursor keys (DECCKM), `?paste=bracketed` bracketed paste.
 */
class KeyLogger extends CharacterHandler {
  override async sendWelcome(): Promise<void> {
    const { query } = this.session;
    if (query.get('cursor') === 'app') await this.sendRaw('\x1b[?1h');
    if (query.get('paste') === 'bracketed') await this.sendRaw('\x1b[?2004h');
    await this.sendLine('Press keys.');
  }

  override async processCharacter(character: string): Promise<boolean> {
    const bytes = [...Buffer.from(character)].map((byte) => byte.toString(16).padStart(2, '0'));
    await this.sendLine(`key ${bytes.join(' ')}`);
    return true;
  }
}

describe('terminal page', { skip: skipWithoutChromium }, () => {
  let browser: Browser;
  /** The echo sample over ws_telnet and over websocket, and the key logger over ws_telnet. */
  const ports = { echo: 0, text: 0, keys: 0 };

  before(async () => {
    const echo = { host: '127.0.0.1', port: 0, web_client: true, handler_class: './handler.ts:EchoTelnetHandler' };
    const config = parseConfig(
      {
        servers: {
          echo: { ...echo, transport: 'ws_telnet', welcome_message: 'Welcome to the Echo Server!' },
          text: { ...echo, transport: 'websocket', web_title: 'The Echo Room' },
        },
      },
      join(import.meta.dirname, '..', 'examples', 'echo-server'),
    );
    const launch = await startLaunch(config, { logger: quiet });
    ports.echo = launch.servers[0]!.address!.port;
    ports.text = launch.servers[1]!.address!.port;
    ports.keys = (await startServer('ws_telnet', KeyLogger, { web_client: true })).port;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  /** A page in a context of its own (its own storage; close the context), at a server's `/` once `ready` is on screen. */
  async function open(
    server: keyof typeof ports,
    options: BrowserContextOptions = DESKTOP,
    { query = '', ready = server === 'keys' ? 'Press keys.' : "Type 'quit' to disconnect.", init = '' } = {},
  ): Promise<Page> {
    const context = await browser.newContext(options);
    // A script's source, not a function: tsx would wrap a function in helpers the page lacks.
    if (init !== '') await context.addInitScript({ content: init });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${ports[server]}/${query}`);
    await waitForScreen(page, ready);
    return page;
  }

  test('the page is titled by web_title, else by the welcome message, else by its host', async () => {
    for (const [server, title] of [
      ['text', 'The Echo Room'],
      ['echo', 'Welcome to the Echo Server'],
      ['keys', '127.0.0.1'],
    ] as const) {
      const page = await open(server);
      assert.equal(await page.title(), title);
      assert.equal(await page.textContent('#title'), title);
      await page.context().close();
    }
  });

  test("the favicon is an SVG from the page's own server", async () => {
    const page = await open('echo');
    const href = await page.getAttribute('link[rel="icon"]', 'href');
    const response = await page.request.get(new URL(href!, page.url()).href);
    assert.equal(new URL(response.url()).host, `127.0.0.1:${ports.echo}`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-type'] ?? '', /^image\/svg\+xml\b/);
    assert.match(await response.text(), /<svg\b/);
    await page.context().close();
  });

  test('the theme follows the system until the user picks one, which the page remembers', async () => {
    const dark = await open('echo', { ...DESKTOP, colorScheme: 'dark' });
    assert.deepEqual(await colours(dark), { page: 'rgb(16, 18, 22)', terminal: '#101216' });
    await dark.emulateMedia({ colorScheme: 'light' });
    await dark.waitForFunction(
      () => (globalThis as unknown as PageGlobals).term.options.theme.background !== '#101216',
      undefined,
      WAIT,
    );
    assert.deepEqual(await colours(dark), { page: 'rgb(251, 251, 250)', terminal: '#fbfbfa' }, 'the system changed');
    await dark.context().close();

    const page = await open('echo', { ...DESKTOP, colorScheme: 'light' });
    assert.deepEqual(await colours(page), { page: 'rgb(251, 251, 250)', terminal: '#fbfbfa' });
    await page.click('#theme');
    assert.deepEqual(await colours(page), { page: 'rgb(16, 18, 22)', terminal: '#101216' });
    await page.reload();
    await waitForScreen(page, "Type 'quit' to disconnect.");
    assert.deepEqual(await colours(page), { page: 'rgb(16, 18, 22)', terminal: '#101216' }, 'the choice is kept');
    await page.emulateMedia({ colorScheme: 'light' });
    assert.deepEqual(await colours(page), { page: 'rgb(16, 18, 22)', terminal: '#101216' }, 'and outranks the system');
    await page.context().close();
  });

  test('A+ and A− change the font size, the terminal refits and tells the server, and the size is remembered', async () => {
    const page = await open('echo');
    const before = await terminalSize(page);
    const fontSize = await page.evaluate(() => (globalThis as unknown as PageGlobals).term.options.fontSize);
    await page.click('#font-larger');
    await page.click('#font-larger');
    await waitForResize(page, before);
    const larger = await terminalSize(page);
    assert.ok(parseInt(larger) < parseInt(before), `${larger} has fewer columns than ${before}`);
    await page.keyboard.type('info\r');
    await waitForScreen(page, `Window size: ${larger}`);
    await page.reload();
    await waitForScreen(page, "Type 'quit' to disconnect.");
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).term.options.fontSize), fontSize + 2);
    await page.click('#font-smaller');
    assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).term.options.fontSize), fontSize + 1);
    await page.context().close();
  });

  test('a selection is copied, Ctrl-C with a selection copies it, and only the next Ctrl-C reaches the application', async () => {
    const page = await open('keys', { ...DESKTOP, permissions: ['clipboard-read', 'clipboard-write'] });
    await page.keyboard.type('q');
    await waitForScreen(page, 'key 71');
    await doubleClickText(page, 'Press');
    await waitForClipboard(page, 'Press');
    await page.evaluate(() => navigator.clipboard.writeText(''));
    await doubleClickText(page, 'keys');
    await page.keyboard.press('Control+C');
    await waitForClipboard(page, 'keys');
    await page.keyboard.press('Control+C');
    await waitForScreen(page, 'key 03');
    const keys = (await screenLines(page)).filter((line) => line.startsWith('key '));
    assert.deepEqual(keys, ['key 71', 'key 03'], 'the first Ctrl-C copied and sent nothing');
    await page.context().close();
  });

  test('on a Mac, where ⌘C copies, Ctrl-C with a selection still reaches the application', async () => {
    const page = await open('keys', DESKTOP, {
      init: "Object.defineProperty(Navigator.prototype, 'platform', { get: () => 'MacIntel' });",
    });
    await doubleClickText(page, 'Press');
    await page.keyboard.press('Control+C');
    assert.equal(await nextKey(page, 0), 'key 03');
    await page.context().close();
  });

  test('a paste is sent as typed, in ESC [200~ … ESC [201~ when the application asked for bracketed paste', async () => {
    const permissions = ['clipboard-read', 'clipboard-write'];
    const page = await open('echo', { ...DESKTOP, permissions });
    await page.evaluate(() => navigator.clipboard.writeText('pasted words'));
    await page.keyboard.press('Control+V');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Echo: pasted words');
    await page.context().close();

    const bracketed = await open('keys', { ...DESKTOP, permissions }, { query: '?paste=bracketed' });
    // The server offers to echo once it knows the terminal type; until then the page edits the
    // line itself and a paste's brackets are lost. A key echoed back means it has taken over.
    await bracketed.keyboard.press('x');
    assert.equal(await nextKey(bracketed, 0), 'key 78');
    await bracketed.evaluate(() => navigator.clipboard.writeText('ok'));
    await bracketed.keyboard.press('Control+V');
    await waitForScreen(bracketed, 'key 1b 5b 32 30 31 7e');
    const keys = (await screenLines(bracketed)).filter((line) => line.startsWith('key '));
    assert.deepEqual(keys, ['key 78', 'key 1b 5b 32 30 30 7e', 'key 6f', 'key 6b', 'key 1b 5b 32 30 31 7e']);
    await bracketed.context().close();
  });

  test('a URL in the output is a link that opens in a new tab', async () => {
    const page = await open('text');
    const url = `http://127.0.0.1:${ports.text}/?from=link`;
    await page.keyboard.type(`${url}\r`);
    await waitForScreen(page, `Echo: ${url}`);
    const [popup] = await Promise.all([page.context().waitForEvent('page', WAIT), clickText(page, url, 'Echo: ')]);
    await popup.waitForURL(url, WAIT);
    await page.context().close();
  });

  test('wide characters take the two cells the server counts (Unicode 11 widths)', async () => {
    const page = await open('echo');
    // U+1F916 is wide from Unicode 9 on; xterm's built-in Unicode 6 table gives it one cell.
    await page.keyboard.type('🤖x\r');
    await waitForScreen(page, 'Echo: 🤖x');
    const cells = await page.evaluate(() => {
      const { buffer } = (globalThis as unknown as PageGlobals).term;
      for (let y = 0; y < buffer.active.length; y++) {
        const line = buffer.active.getLine(y);
        if (line?.translateToString(true).startsWith('Echo: ')) {
          return [6, 7, 8].map((x) => line.getCell(x)?.getChars());
        }
      }
      return [];
    });
    assert.deepEqual(cells, ['🤖', '', 'x']);
    await page.context().close();
  });

  test('text composed with an input method is sent once, when it is committed', async () => {
    for (const server of ['echo', 'text'] as const) {
      const page = await open(server);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Input.imeSetComposition', { text: 'にほん', selectionStart: 3, selectionEnd: 3 });
      await cdp.send('Input.imeSetComposition', { text: '日本', selectionStart: 2, selectionEnd: 2 });
      await cdp.send('Input.insertText', { text: '日本' });
      // xterm hands over committed text a moment after the composition ends: a user sees it, then presses Enter.
      await waitForScreen(page, '> 日本');
      await page.keyboard.press('Enter');
      await waitForScreen(page, 'Echo: ');
      const echoed = (await screenLines(page)).filter((line) => line.startsWith('Echo: '));
      assert.deepEqual(echoed, ['Echo: 日本'], server);
      await page.context().close();
    }
  });

  test('on a phone the extra keys show, and send what a terminal sends to a character-mode application', async () => {
    const page = await open('keys', PHONE);
    await page.tap('#terminal');
    assert.equal(await page.isVisible('#extra-keys'), true);
    const got: string[] = [];
    const press = async (...keys: string[]): Promise<void> => {
      for (const key of keys) {
        const selector = key === 'ctrl' || key === 'alt' ? `[data-modifier="${key}"]` : `[data-key="${key}"]`;
        await page.tap(`#extra-keys ${selector}`);
      }
      got.push(await nextKey(page, got.length));
    };
    /** A letter from the on-screen keyboard, which sends text without key events. */
    const type = async (text: string): Promise<void> => {
      await page.keyboard.insertText(text);
      got.push(await nextKey(page, got.length));
    };
    await press('escape');
    await press('tab');
    await press('up');
    await press('down');
    await press('right');
    await press('left');
    await press('home');
    await press('end');
    await press('pageup');
    await press('pagedown');
    await press('|');
    await press('/');
    await press('-');
    await page.tap('#extra-keys [data-modifier="ctrl"]');
    assert.equal(await page.getAttribute('[data-modifier="ctrl"]', 'aria-pressed'), 'true');
    await type('c');
    assert.equal(await page.getAttribute('[data-modifier="ctrl"]', 'aria-pressed'), 'false', 'Ctrl let go');
    await press('ctrl', 'left');
    await page.tap('#extra-keys [data-modifier="alt"]');
    await type('x');
    await type('x');
    assert.deepEqual(got, [
      'key 1b',
      'key 09',
      'key 1b 5b 41',
      'key 1b 5b 42',
      'key 1b 5b 43',
      'key 1b 5b 44',
      'key 1b 5b 48',
      'key 1b 5b 46',
      'key 1b 5b 35 7e',
      'key 1b 5b 36 7e',
      'key 7c',
      'key 2f',
      'key 2d',
      'key 03',
      'key 1b 5b 31 3b 35 44',
      'key 1b 78',
      'key 78',
    ]);
    // A press that takes the focus from the terminal would close the on-screen keyboard.
    await page.click('#extra-keys [data-key="tab"]');
    const focused = await page.evaluate(() => document.activeElement?.className);
    assert.match(focused ?? '', /\bxterm-helper-textarea\b/);
    await page.context().close();
  });

  test("in application cursor mode the extra arrows, Home and End send SS3 sequences, as the keyboard's do", async () => {
    const page = await open('keys', PHONE, { query: '?cursor=app' });
    await page.tap('#terminal');
    await page.keyboard.press('ArrowUp');
    const got = [await nextKey(page, 0)];
    for (const key of ['up', 'left', 'home', 'end']) {
      await page.tap(`#extra-keys [data-key="${key}"]`);
      got.push(await nextKey(page, got.length));
    }
    assert.deepEqual(got, ['key 1b 4f 41', 'key 1b 4f 41', 'key 1b 4f 44', 'key 1b 4f 48', 'key 1b 4f 46']);
    await page.context().close();
  });

  test('on a phone the server is told the size the page really has (NAWS), fewer than 80 columns', async () => {
    const page = await open('echo', PHONE);
    await page.tap('#terminal');
    const size = await terminalSize(page);
    assert.ok(parseInt(size) < 80, size);
    await page.keyboard.type('info\r');
    await waitForScreen(page, `Window size: ${size}`);
    // The terminal ends where the keys begin, and the keys where the screen does.
    const keys = (await page.locator('#extra-keys').boundingBox())!;
    const screen = (await page.locator('.xterm-screen').boundingBox())!;
    assert.ok(keys.y + keys.height <= 844, `keys end at ${keys.y + keys.height}`);
    assert.ok(screen.y + screen.height <= keys.y, `the terminal's last row ends at ${screen.y + screen.height}`);
    const rowHeight = screen.height / parseInt(size.split('x')[1]!);
    assert.ok(keys.y - (screen.y + screen.height) < rowHeight + 8, 'less than a row is left over');

    await page.tap('#keys-toggle');
    await waitForResize(page, size);
    const withoutKeys = await terminalSize(page);
    assert.ok(parseInt(withoutKeys.split('x')[1]!) > parseInt(size.split('x')[1]!), `${withoutKeys} after ${size}`);
    await page.keyboard.type('info\r');
    await waitForScreen(page, `Window size: ${withoutKeys}`);
    await page.reload();
    await waitForScreen(page, "Type 'quit' to disconnect.");
    assert.equal(await page.isVisible('#extra-keys'), false, 'hidden keys stay hidden');
    await page.context().close();
  });

  test('on a phone the echo sample is usable with the extra keys, in telnet and in text mode', async () => {
    const page = await open('echo', PHONE);
    await page.tap('#terminal');
    // The server edits the line: the extra ← moves its cursor, ↑ recalls the last line.
    await page.keyboard.insertText('helo');
    await page.tap('#extra-keys [data-key="left"]');
    await page.keyboard.insertText('l');
    await page.keyboard.press('Enter');
    await waitForScreen(page, 'Echo: hello');
    await page.tap('#extra-keys [data-key="up"]');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => {
        const { buffer } = (globalThis as unknown as PageGlobals).term;
        let count = 0;
        for (let y = 0; y < buffer.active.length; y++) {
          if (buffer.active.getLine(y)?.translateToString(true) === 'Echo: hello') count++;
        }
        return count === 2;
      },
      undefined,
      WAIT,
    );
    await page.context().close();

    // The page edits the line: ↑ recalls the last line there.
    const text = await open('text', PHONE);
    await text.tap('#terminal');
    await text.keyboard.insertText('hi there');
    await text.keyboard.press('Enter');
    await waitForScreen(text, 'Echo: hi there');
    await text.tap('#extra-keys [data-key="up"]');
    await text.keyboard.press('Enter');
    await text.waitForFunction(
      () => {
        const { buffer } = (globalThis as unknown as PageGlobals).term;
        let count = 0;
        for (let y = 0; y < buffer.active.length; y++) {
          if (buffer.active.getLine(y)?.translateToString(true) === 'Echo: hi there') count++;
        }
        return count === 2;
      },
      undefined,
      WAIT,
    );
    await text.context().close();
  });

  // Chrome on Android shrinks the layout viewport for the keyboard (interactive-widget=resizes-content);
  // Safari on iOS shrinks only the visual viewport, which here is a stand-in the test sizes.
  for (const [browserKind, init, openKeyboard] of [
    ['the layout viewport', '', (page: Page) => page.setViewportSize({ width: 390, height: 844 - KEYBOARD })],
    [
      'only the visual viewport',
      VISUAL_VIEWPORT,
      (page: Page) =>
        page.evaluate((height) => (globalThis as unknown as KeyboardGlobals).openKeyboard(height), KEYBOARD),
    ],
  ] as const) {
    test(`on a phone whose keyboard shrinks ${browserKind}, the terminal refits, keeps the cursor line in view and tells the server`, async () => {
      const page = await open('echo', PHONE, { init });
      await page.tap('#terminal');
      const rows = await page.evaluate(() => (globalThis as unknown as PageGlobals).term.rows);
      // Enough output that the prompt sits on the last row.
      for (let i = 0; i < rows / 5; i++) await page.keyboard.type('help\r');
      await page.keyboard.type('full\r');
      await waitForScreen(page, 'Echo: full');
      const before = await terminalSize(page);
      await openKeyboard(page);
      await waitForResize(page, before);
      const after = await terminalSize(page);
      const cursor = await page.evaluate(() => {
        const { term } = globalThis as unknown as PageGlobals;
        const { active } = term.buffer;
        return {
          row: active.baseY + active.cursorY - active.viewportY,
          rows: term.rows,
          text: active.getLine(active.baseY + active.cursorY)?.translateToString(true),
        };
      });
      assert.equal(cursor.text, '> ');
      assert.ok(cursor.row >= 0 && cursor.row < cursor.rows, `cursor on row ${cursor.row} of ${cursor.rows}`);
      // Above the keyboard: the cursor's row, then the extra keys.
      const screen = (await page.locator('.xterm-screen').boundingBox())!;
      const keys = (await page.locator('#extra-keys').boundingBox())!;
      const cursorBottom = screen.y + ((cursor.row + 1) * screen.height) / cursor.rows;
      assert.ok(cursorBottom <= keys.y, `cursor row ends at ${cursorBottom}, the keys start at ${keys.y}`);
      assert.ok(keys.y + keys.height <= 844 - KEYBOARD, `the keys end at ${keys.y + keys.height}`);
      await page.keyboard.type('info\r');
      await waitForScreen(page, `Window size: ${after}`);
      await page.context().close();
    });
  }
});

/** The page's background as painted, and the terminal's theme background. */
async function colours(page: Page): Promise<{ page: string; terminal: string }> {
  return page.evaluate(() => ({
    page: getComputedStyle(document.querySelector('.xterm-viewport')!).backgroundColor,
    terminal: (globalThis as unknown as PageGlobals).term.options.theme.background,
  }));
}

/** Waits until the clipboard holds `text`: the page writes it there asynchronously. */
async function waitForClipboard(page: Page, text: string): Promise<void> {
  await page.waitForFunction(async (wanted) => (await navigator.clipboard.readText()) === wanted, text, WAIT);
}

/** The middle of the cell at (col, row) of the visible screen, in page coordinates. */
async function cellCentre(page: Page, col: number, row: number): Promise<{ x: number; y: number }> {
  const box = (await page.locator('.xterm-screen').boundingBox())!;
  const { cols, rows } = await page.evaluate(() => {
    const { term } = globalThis as unknown as PageGlobals;
    return { cols: term.cols, rows: term.rows };
  });
  return { x: box.x + ((col + 0.5) * box.width) / cols, y: box.y + ((row + 0.5) * box.height) / rows };
}

/** Where `text` starts on the visible screen, after `prefix` on its line when given. */
async function findText(page: Page, text: string, prefix = ''): Promise<{ col: number; row: number }> {
  const found = await page.evaluate(
    ([wanted, before]) => {
      const { buffer } = (globalThis as unknown as PageGlobals).term;
      const { viewportY } = buffer.active;
      for (let row = 0; row < (globalThis as unknown as PageGlobals).term.rows; row++) {
        const line = buffer.active.getLine(viewportY + row)?.translateToString(true) ?? '';
        const col = line.indexOf(before + wanted);
        if (col !== -1) return { col: col + before.length, row };
      }
      return undefined;
    },
    [text, prefix] as const,
  );
  assert.ok(found, `"${prefix}${text}" is not on the screen:\n${(await screenLines(page)).join('\n')}`);
  return found;
}

async function doubleClickText(page: Page, word: string): Promise<void> {
  const { col, row } = await findText(page, word);
  const { x, y } = await cellCentre(page, col + 1, row);
  await page.mouse.dblclick(x, y);
}

/** Moves the mouse over `text` (the link addon underlines a link on hover), then clicks it. */
async function clickText(page: Page, text: string, prefix: string): Promise<void> {
  const { col, row } = await findText(page, text, prefix);
  const { x, y } = await cellCentre(page, col + 2, row);
  await page.mouse.move(x - 5, y);
  await page.mouse.move(x, y);
  await page.mouse.click(x, y);
}

/** The key line after the first `count` the key logger wrote. */
async function nextKey(page: Page, count: number): Promise<string> {
  const handle = await page.waitForFunction(
    (seen) => {
      const { buffer } = (globalThis as unknown as PageGlobals).term;
      const keys: string[] = [];
      for (let y = 0; y < buffer.active.length; y++) {
        const line = buffer.active.getLine(y)?.translateToString(true) ?? '';
        if (line.startsWith('key ')) keys.push(line);
      }
      return keys.length > seen ? keys[seen] : undefined;
    },
    count,
    WAIT,
  );
  return (await handle.jsonValue())!;
}

/** Waits until the terminal's size is no longer `old`. */
async function waitForResize(page: Page, old: string): Promise<void> {
  await page.waitForFunction(
    (previous) => {
      const { term } = globalThis as unknown as PageGlobals;
      return `${term.cols}x${term.rows}` !== previous;
    },
    old,
    WAIT,
  );
}
