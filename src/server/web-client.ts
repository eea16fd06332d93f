// The browser terminal: serves web/terminal.html and its assets (xterm.js from our own package).
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import * as telnetConstants from '../telnet/constants.js';
import type { RequestRoute } from '../transports/websocket.js';

/** What the page needs to know to connect back. */
export interface WebClientOptions {
  /** Upgrade path of the session WebSocket. */
  wsPath: string;
  /** 'text' for the websocket transport, 'telnet' for ws_telnet. */
  mode: 'text' | 'telnet';
  title: string;
}

const require = createRequire(import.meta.url);
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const ASSETS: Record<string, { file: () => string; type: string }> = {
  '/assets/terminal.js': { file: () => `${WEB_DIR}terminal.js`, type: 'text/javascript' },
  '/assets/terminal.css': { file: () => `${WEB_DIR}terminal.css`, type: 'text/css' },
  '/assets/xterm.js': { file: () => require.resolve('@xterm/xterm/lib/xterm.js'), type: 'text/javascript' },
  '/assets/xterm.css': { file: () => require.resolve('@xterm/xterm/css/xterm.css'), type: 'text/css' },
  '/assets/addon-fit.js': { file: () => require.resolve('@xterm/addon-fit/lib/addon-fit.js'), type: 'text/javascript' },
};

/** The telnet byte values as a browser module, so the page's telnet client shares our one table. */
const TELNET_CONSTANTS_MODULE = Buffer.from(
  Object.entries(telnetConstants)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => `export const ${name} = ${String(value)};\n`)
    .join(''),
);

/** A route answering GET / with the terminal page and GET /assets/… with its files. */
export function webClientRoute(options: WebClientOptions): RequestRoute {
  const cache = new Map<string, Promise<Buffer>>();
  const load = (key: string, read: () => Promise<Buffer>): Promise<Buffer> => {
    let entry = cache.get(key);
    if (entry === undefined) {
      entry = read();
      cache.set(key, entry);
      // A failed read is retried on the next request rather than cached.
      entry.catch(() => cache.delete(key));
    }
    return entry;
  };

  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname === '/' || pathname === '/index.html') {
      serve(response, request, 'text/html; charset=utf-8', () =>
        load('/', async () => Buffer.from(renderPage(await readFile(`${WEB_DIR}terminal.html`, 'utf8'), options))),
      );
      return true;
    }
    if (pathname === '/assets/telnet-constants.js') {
      serve(response, request, 'text/javascript; charset=utf-8', () => Promise.resolve(TELNET_CONSTANTS_MODULE));
      return true;
    }
    const asset = ASSETS[pathname];
    if (asset === undefined) return false;
    serve(response, request, `${asset.type}; charset=utf-8`, () => load(pathname, () => readFile(asset.file())));
    return true;
  };
}

function serve(
  response: http.ServerResponse,
  request: http.IncomingMessage,
  type: string,
  body: () => Promise<Buffer>,
): void {
  body().then(
    (bytes) => {
      response.writeHead(200, { 'Content-Type': type, 'Content-Length': bytes.length, 'Cache-Control': 'no-cache' });
      response.end(request.method === 'HEAD' ? undefined : bytes);
    },
    () => {
      response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('The terminal page is missing from this installation.');
    },
  );
}

function renderPage(template: string, options: WebClientOptions): string {
  return template
    .replaceAll('{{WS_PATH}}', escapeHtml(options.wsPath))
    .replaceAll('{{MODE}}', options.mode)
    .replaceAll('{{TITLE}}', escapeHtml(options.title));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
