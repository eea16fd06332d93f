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
  title: string;
}

const ASSETS: Record<string, StaticAsset> = {
  ...XTERM_ASSETS,
  '/assets/terminal.js': webAsset('terminal.js', 'text/javascript'),
  '/assets/terminal.css': webAsset('terminal.css', 'text/css'),
  '/assets/addon-fit.js': packageAsset('@xterm/addon-fit/lib/addon-fit.js', 'text/javascript'),
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
      sendAsset(request, response, 'text/html', () =>
        cache.load('/', async () =>
          Buffer.from(renderPage(await readFile(`${WEB_DIR}terminal.html`, 'utf8'), options)),
        ),
      );
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

function renderPage(template: string, options: WebClientOptions): string {
  return template
    .replaceAll('{{WS_PATH}}', escapeHtml(options.wsPath))
    .replaceAll('{{MODE}}', options.mode)
    .replaceAll('{{TITLE}}', escapeHtml(options.title));
}
