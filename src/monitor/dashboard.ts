// The monitor dashboard: a page at monitor_path with its assets, and the recordings it replays.
import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';

import {
  AssetCache,
  WEB_DIR,
  XTERM_ASSETS,
  escapeHtml,
  isReadRequest,
  sendAsset,
  webAsset,
} from '../server/static-assets.js';
import type { StaticAsset } from '../server/static-assets.js';
import { pathOf, respond } from '../transports/http.js';
import type { RequestRoute } from '../transports/http.js';
import { accessOf } from './access.js';
import type { AccessPolicy } from './access.js';
import type { Recorder } from './recorder.js';

/** Where the dashboard is served and what it may show. */
export interface DashboardOptions {
  /** monitor_path: the page here, the viewer WebSocket here too, everything else below it. */
  path: string;
  /** The application's recordings; undefined when record_sessions is not set. */
  recorder: Recorder | undefined;
  policy: AccessPolicy;
}

const ASSETS: Record<string, StaticAsset> = {
  ...XTERM_ASSETS,
  '/assets/monitor.js': webAsset('monitor.js', 'text/javascript'),
  '/assets/monitor.css': webAsset('monitor.css', 'text/css'),
};

const RECORDINGS = '/recordings';
const JSON_TYPE = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

/**
 * GET monitor_path: the dashboard page, which needs no token (it holds no data); below it its
 * assets, `access` (what the page's token allows) and, with a token, the recordings it replays.
 */
export function dashboardRoute(options: DashboardOptions): RequestRoute {
  // "/" as monitor_path puts everything at the root: "/assets/…", never "//assets/…".
  const root = options.path.endsWith('/') ? options.path.slice(0, -1) : options.path;
  const cache = new AssetCache();
  const page = (): Promise<Buffer> =>
    cache.load('page', async () =>
      Buffer.from(renderPage(await readFile(`${WEB_DIR}monitor.html`, 'utf8'), options.path, root)),
    );

  return (request, response) => {
    if (!isReadRequest(request)) return false;
    const pathname = pathOf(request);
    if (pathname !== options.path && !pathname.startsWith(`${root}/`)) return false;
    const rest = pathname.slice(root.length);
    if (rest === '' || rest === '/') {
      sendAsset(request, response, 'text/html', page);
      return true;
    }
    const asset = ASSETS[rest];
    if (asset !== undefined) {
      sendAsset(request, response, asset.type, () => cache.file(rest, asset));
      return true;
    }
    if (rest === '/access') {
      const level = accessOf(request, options.policy);
      if (level === 'none') unauthorized(response);
      else respond(response, 200, JSON.stringify({ access: level }), JSON_TYPE);
      return true;
    }
    if (rest !== RECORDINGS && !rest.startsWith(`${RECORDINGS}/`)) return false;
    if (accessOf(request, options.policy) === 'none') {
      unauthorized(response);
      return true;
    }
    const { recorder } = options;
    if (recorder === undefined) {
      respond(response, 404, 'Recordings are off: record_sessions is not set.\n');
      return true;
    }
    const answer =
      rest === RECORDINGS
        ? sendList(recorder, response)
        : sendRecording(request, response, recorder, rest.slice(RECORDINGS.length + 1));
    // Failing once the answer has begun (the socket gone, say) leaves nothing to say but closing.
    answer.catch(() => response.destroy());
    return true;
  };
}

function renderPage(template: string, path: string, root: string): string {
  return template.replaceAll('{{MONITOR_PATH}}', escapeHtml(path)).replaceAll('{{BASE}}', escapeHtml(root));
}

function unauthorized(response: http.ServerResponse): void {
  respond(response, 401, 'A valid monitor token is required\n', {
    'Content-Type': 'text/plain; charset=utf-8',
    'WWW-Authenticate': 'Bearer realm="monitor"',
  });
}

async function sendList(recorder: Recorder, response: http.ServerResponse): Promise<void> {
  try {
    respond(response, 200, JSON.stringify(await recorder.list()), JSON_TYPE);
  } catch (err) {
    // The code (EACCES, EMFILE) tells the operator what to fix without showing the folder's path.
    respond(response, 500, `Recordings could not be listed (${errorCode(err)}).\n`);
  }
}

/** Sends one .cast file as it is now: a recording still being written is cut at its current size. */
async function sendRecording(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  recorder: Recorder,
  encodedName: string,
): Promise<void> {
  const name = decodeName(encodedName);
  const file = name === undefined ? undefined : recorder.pathOf(name);
  if (file === undefined) return respond(response, 404, 'No such recording\n');
  let handle: FileHandle;
  let size: number;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    // Rotated away (record_keep) between the listing and this request.
    if (errorCode(err) === 'ENOENT') return respond(response, 404, 'No such recording\n');
    return respond(response, 500, `The recording could not be read (${errorCode(err)}).\n`);
  }
  try {
    ({ size } = await handle.stat());
  } catch (err) {
    await handle.close();
    return respond(response, 500, `The recording could not be read (${errorCode(err)}).\n`);
  }
  response.writeHead(200, {
    'Content-Type': 'application/x-asciicast; charset=utf-8',
    'Content-Length': size,
    'Cache-Control': 'no-store',
  });
  if (request.method === 'HEAD' || size === 0) {
    response.end();
    await handle.close();
    return;
  }
  // The stream closes the file however it ends; a viewer that left mid-file has nobody to tell.
  await pipeline(handle.createReadStream({ start: 0, end: size - 1 }), response).catch(() => undefined);
}

/** A file name from the URL: one path segment, never a way into another folder. */
function decodeName(encoded: string): string | undefined {
  try {
    const name = decodeURIComponent(encoded);
    return name === '' || name.includes('/') || name.includes('\\') || name.startsWith('.') ? undefined : name;
  } catch {
    return undefined;
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}
