// Static files of the browser pages (web/ and xterm.js from our own node_modules), read once and served.
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** A file a page loads, by where it lives and what it is. */
export interface StaticAsset {
  file: () => string;
  type: string;
}

const require = createRequire(import.meta.url);

/** The folder of the hand-written pages, shipped beside dist/ in the package. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** A file of a package, resolved when first asked for: a page nobody opens never looks for it. */
export function packageAsset(specifier: string, type: string): StaticAsset {
  return { file: () => require.resolve(specifier), type };
}

/** A file of web/. */
export function webAsset(name: string, type: string): StaticAsset {
  return { file: () => `${WEB_DIR}${name}`, type };
}

/** xterm.js and its styles, which every page with a terminal loads. */
export const XTERM_ASSETS: Readonly<Record<string, StaticAsset>> = {
  '/assets/xterm.js': packageAsset('@xterm/xterm/lib/xterm.js', 'text/javascript'),
  '/assets/xterm.css': packageAsset('@xterm/xterm/css/xterm.css', 'text/css'),
};

/** Bodies by key, each read once; a failed read is retried on the next request rather than cached. */
export class AssetCache {
  #entries = new Map<string, Promise<Buffer>>();

  load(key: string, read: () => Promise<Buffer>): Promise<Buffer> {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = read();
      this.#entries.set(key, entry);
      entry.catch(() => this.#entries.delete(key));
    }
    return entry;
  }

  /** The asset's file, read once. */
  file(key: string, asset: StaticAsset): Promise<Buffer> {
    return this.load(key, () => readFile(asset.file()));
  }
}

/** Answers GET or HEAD with `body`, or 500 when the file is missing from the installation. */
export function sendAsset(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  type: string,
  body: () => Promise<Buffer>,
): void {
  body().then(
    (bytes) => {
      response.writeHead(200, {
        'Content-Type': `${type}; charset=utf-8`,
        'Content-Length': bytes.length,
        'Cache-Control': 'no-cache',
      });
      response.end(request.method === 'HEAD' ? undefined : bytes);
    },
    () => {
      response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('This page is missing from this installation.');
    },
  );
}

/** Whether a request may read a static file. */
export function isReadRequest(request: http.IncomingMessage): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

/** Text for an HTML template: the five characters that could end an attribute or a tag, escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
