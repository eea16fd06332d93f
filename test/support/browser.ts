// Test support: headless Chromium (Debian's, never a downloaded one) and reading the terminal page's screen.
import { existsSync } from 'node:fs';

import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const IS_CI = process.env['CI'] === 'true';

/** Every wait of the browser tests: long enough for a slow CI machine, short enough to fail fast. */
export const WAIT = { timeout: 5000 };

/** The `skip` of a browser suite: a missing browser skips it on a workstation but fails it in CI. */
export const skipWithoutChromium = !existsSync(CHROMIUM) && !IS_CI ? `${CHROMIUM} is not installed` : false;

/** What the page exposes for tests: xterm's Terminal as `window.term`. */
export interface PageGlobals {
  term: {
    cols: number;
    rows: number;
    options: { fontSize: number; theme: { background: string } };
    modes: { applicationCursorKeysMode: boolean; bracketedPasteMode: boolean };
    buffer: {
      active: {
        length: number;
        baseY: number;
        viewportY: number;
        cursorY: number;
        getLine(
          y: number,
        ):
          | { translateToString(trim: boolean): string; getCell(x: number): { getChars(): string } | undefined }
          | undefined;
      };
    };
  };
  document: { getElementById(id: string): { textContent: string | null; dataset: Record<string, string> } | null };
}

/** Starts headless Chromium. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Every line of the terminal's buffer, scrollback included. */
export async function screenLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const { buffer } = (globalThis as unknown as PageGlobals).term;
    const lines: string[] = [];
    for (let y = 0; y < buffer.active.length; y++) lines.push(buffer.active.getLine(y)?.translateToString(true) ?? '');
    return lines;
  });
}

/** Waits until `text` is on a line of the terminal; fails with the screen. */
export async function waitForScreen(page: Page, text: string): Promise<void> {
  try {
    await page.waitForFunction(
      (wanted) => {
        const { buffer } = (globalThis as unknown as PageGlobals).term ?? {};
        if (buffer === undefined) return false;
        for (let y = 0; y < buffer.active.length; y++) {
          if (buffer.active.getLine(y)?.translateToString(true).includes(wanted)) return true;
        }
        return false;
      },
      text,
      WAIT,
    );
  } catch (err) {
    throw new Error(`"${text}" never appeared on screen:\n${(await screenLines(page)).join('\n').trimEnd()}`, {
      cause: err,
    });
  }
}

/** The terminal's size as the server reports it, "COLSxROWS". */
export async function terminalSize(page: Page): Promise<string> {
  return page.evaluate(() => {
    const { term } = globalThis as unknown as PageGlobals;
    return `${term.cols}x${term.rows}`;
  });
}

/** Waits until the status bar reads `wanted` (the whole text, or a match of a pattern). */
export async function waitForStatus(page: Page, wanted: string | RegExp): Promise<void> {
  try {
    await page.waitForFunction(
      ({ source, flags }) => {
        const { document } = globalThis as unknown as PageGlobals;
        return new RegExp(source, flags).test(document.getElementById('status')?.textContent ?? '');
      },
      typeof wanted === 'string'
        ? { source: `^${wanted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, flags: '' }
        : { source: wanted.source, flags: wanted.flags },
      WAIT,
    );
  } catch (err) {
    throw new Error(`status never read ${String(wanted)}; it reads "${await page.textContent('#status')}"`, {
      cause: err,
    });
  }
}
