// The browser terminal: serves web/terminal.html and its assets (xterm.js from our own package).
import { readFile } from 'node:fs/promises';

import * as telnetConstants from '../telnet/constants.js';
import {
  RESUME_PARAMETER,
  TELNET_CONTROL_SUBPROTOCOL,
  TEXT_CONTROL_SUBPROTOCOL,
} from '../transports/control-channel.js';
import type { RequestRoute } from '../transports/http.js';
import {
  AssetCache,
  WEB_DIR,
  XTERM_ASSETS,
  escapeHtml,
  isReadRequest,
  packageAsset,
  sendAsset,
  webAsset,
} from './static-assets.js';
import type { StaticAsset } from './static-assets.js';

/** What the page needs to know to connect back. */
export interface WebClientOptions {
  /** Upgrade path of the session WebSocket. */
  wsPath: string;
  /** 'text' for the websocket transport, 'telnet' for ws_telnet. */
  mode: 'text' | 'telnet';
  /** Page title and status bar; undefined = the host name the page was asked for. */
  title: string | undefined;
}

/** Longest default title taken from a welcome message, in characters: about what a browser tab shows. */
const MAX_DEFAULT_TITLE = 40;

const ASSETS: Record<string, StaticAsset> = {
  ...XTERM_ASSETS,
  '/assets/terminal.js': webAsset('terminal.js', 'text/javascript'),
  '/assets/terminal.css': webAsset('terminal.css', 'text/css'),
  '/assets/preferences.js': webAsset('preferences.js', 'text/javascript'),
  '/assets/extra-keys.js': webAsset('extra-keys.js', 'text/javascript'),
  '/assets/clipboard.js': webAsset('clipboard.js', 'text/javascript'),
  '/assets/viewport.js': webAsset('viewport.js', 'text/javascript'),
  '/assets/favicon.svg': webAsset('favicon.svg', 'image/svg+xml'),
  '/assets/addon-fit.js': packageAsset('@xterm/addon-fit/lib/addon-fit.js', 'text/javascript'),
  '/assets/addon-web-links.js': packageAsset('@xterm/addon-web-links/lib/addon-web-links.js', 'text/javascript'),
  '/assets/addon-unicode11.js': packageAsset('@xterm/addon-unicode11/lib/addon-unicode11.js', 'text/javascript'),
};

/** The telnet byte values as a browser module, so the page's telnet client shares our one table. */
const TELNET_CONSTANTS_MODULE = Buffer.from(
  Object.entries(telnetConstants)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => `export const ${name} = ${String(value)};\n`)
    .join(''),
);

/** The control channel's names as a browser module, so the page and the server cannot disagree on them. */
const CONTROL_CHANNEL_MODULE = Buffer.from(
  Object.entries({ RESUME_PARAMETER, TELNET_CONTROL_SUBPROTOCOL, TEXT_CONTROL_SUBPROTOCOL })
    .map(([name, value]) => `export const ${name} = ${JSON.stringify(value)};\n`)
    .join(''),
);

/** A route answering GET / with the terminal page and GET /assets/… with its files. */
export function webClientRoute(options: WebClientOptions): RequestRoute {
  const cache = new AssetCache();
  return (request, response) => {
    if (!isReadRequest(request)) return false;
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname === '/' || pathname === '/index.html') {
      const title = options.title ?? hostNameOf(request.headers.host);
      sendAsset(request, response, 'text/html', async () => {
        const template = await cache.load('/', () => readFile(`${WEB_DIR}terminal.html`));
        return Buffer.from(renderPage(template.toString('utf8'), options, title));
      });
      return true;
    }
    if (pathname === '/assets/telnet-constants.js') {
      sendAsset(request, response, 'text/javascript', () => Promise.resolve(TELNET_CONSTANTS_MODULE));
      return true;
    }
    if (pathname === '/assets/control-channel.js') {
      sendAsset(request, response, 'text/javascript', () => Promise.resolve(CONTROL_CHANNEL_MODULE));
      return true;
    }
    const asset = ASSETS[pathname];
    if (asset === undefined) return false;
    sendAsset(request, response, asset.type, () => cache.file(pathname, asset));
    return true;
  };
}

/** The title of a page with no web_title: the first line of the welcome message, cut at a word. */
export function titleFromWelcome(welcomeMessage: string | undefined): string | undefined {
  const line = welcomeMessage
    // A welcome may be coloured; a tab shows no colours.
    ?.replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .split(/\r?\n|\r/)
    .map((text) => text.replace(/\p{Cc}/gu, '').trim())
    .find((text) => /[\p{L}\p{N}]/u.test(text));
  if (line === undefined) return undefined;
  const text = trimEnd(line);
  if (text.length <= MAX_DEFAULT_TITLE) return text;
  const cut = text.slice(0, MAX_DEFAULT_TITLE);
  const lastSpace = cut.lastIndexOf(' ');
  return `${trimEnd(lastSpace > 0 ? cut.slice(0, lastSpace) : cut)}…`;
}

/** Text without the punctuation that ends a sentence or a greeting, which a title does without. */
function trimEnd(text: string): string {
  return text.replace(/[\s!.:,;-]+$/u, '');
}

function hostNameOf(host: string | undefined): string {
  const fallback = 'Terminal';
  if (host === undefined || !URL.canParse(`http://${host}`)) return fallback;
  return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '') || fallback;
}

function renderPage(template: string, options: WebClientOptions, title: string): string {
  return template
    .replaceAll('{{WS_PATH}}', escapeHtml(options.wsPath))
    .replaceAll('{{MODE}}', options.mode)
    .replaceAll('{{TITLE}}', escapeHtml(title));
}
