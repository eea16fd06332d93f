// The server's side of the WebSocket opening handshake (RFC 6455 section 4.2): a strict HTTP/1.1
// request-head parser (RFC 9112) that reads heads as Node's HTTP server would, and ws's checks.

import { createHash } from 'node:crypto';
import { METHODS, maxHeaderSize } from 'node:http';

/** A request head as parsed here: header names lower-cased. */
export interface RequestHead {
  method: string;
  /** The request-target as sent (path and query), e.g. "/ws?resume=abc". */
  target: string;
  /**
   * Lower-cased name → value (optional whitespace trimmed); a repeated header's values joined as
   * Node joins them: with ", ", with "; " for Cookie, or only the first for names such as User-Agent.
   */
  headers: Map<string, string>;
}

/** What a valid WebSocket upgrade request asks for. */
export interface UpgradeAsk {
  key: string;
  protocols: Set<string>;
}

/** Why a request that asked to upgrade cannot: an HTTP status, its words, extra headers. */
export interface UpgradeFault {
  status: 400 | 405;
  message: string;
  headers: Record<string, string>;
}

/** RFC 6455 section 1.3: the GUID every server appends to the client's key. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;
const SLASH = 0x2f;
const DEL = 0x7f;

const HTTP_VERSION = 'HTTP/1.1';
const MAX_HEADERS = 100;

/**
 * Methods llhttp knows, and so Node accepts: any other token Node answers with 400 itself.
 * CONNECT takes an authority, never a path, and Node hands it to 'connect', not 'upgrade'.
 */
const KNOWN_METHODS = new Set(METHODS.filter((method) => method !== 'CONNECT'));

/**
 * Headers that send the request to Node: a body (Content-Length, Transfer-Encoding, and Expect,
 * which Node answers 100 or 417 itself), and names Node's header object stores otherwise than a
 * Map (Set-Cookie as an array; `__proto__` not at all).
 */
const REFUSED_HEADERS = new Set(['content-length', 'transfer-encoding', 'expect', 'set-cookie', '__proto__']);

/**
 * Node's _http_incoming.js matchKnownFields: of these, the first value stands and repeats are
 * dropped. Host and Content-Length, on Node's list too, never repeat here.
 */
const FIRST_VALUE_HEADERS = new Set([
  'age',
  'authorization',
  'content-type',
  'etag',
  'expires',
  'from',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** RFC 9110 section 5.6.2 tchar, indexed by char code; the same table as ws's validation.js. */
const TOKEN_CHARS = (() => {
  const table = new Uint8Array(128);
  for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
    table[char.charCodeAt(0)] = 1;
  }
  return table;
})();

const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

/** The index just past the blank line (CR LF CR LF) that ends a request's head in `bytes`, or -1 while it has not come. */
export function headEnd(bytes: Uint8Array): number {
  let cr = bytes.indexOf(CR);
  while (cr !== -1 && cr + 3 < bytes.length) {
    if (bytes[cr + 1] === LF && bytes[cr + 2] === CR && bytes[cr + 3] === LF) return cr + 4;
    cr = bytes.indexOf(CR, cr + 1);
  }
  return -1;
}

/**
 * Parses `head` (the bytes up to and including the blank line) as an HTTP/1.1 request, strictly;
 * undefined where it is anything else, for Node's HTTP server to answer.
 */
export function parseRequestHead(head: Uint8Array): RequestHead | undefined {
  // Node answers 431 once the target and fields it counts reach this; the head holds more bytes than those.
  if (head.length >= maxHeaderSize) return undefined;
  // Node decodes header bytes as latin1: one char per byte, so char codes are the bytes.
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  const lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) return undefined;
  const requestLine = parseRequestLine(text, lineEnd);
  if (requestLine === undefined) return undefined;

  const headers = new Map<string, string>();
  let start = lineEnd + 2;
  let count = 0;
  for (;;) {
    const end = text.indexOf('\r\n', start);
    if (end === -1) return undefined;
    if (end === start) break;
    if (++count > MAX_HEADERS) return undefined;
    if (!addHeaderLine(text, start, end, headers)) return undefined;
    start = end + 2;
  }
  if (start + 2 !== text.length || !headers.has('host')) return undefined;
  return { method: requestLine.method, target: requestLine.target, headers };
}

/** Checks an upgrade request as RFC 6455 section 4.2.1 and the `ws` package do; `header` looks a lower-cased name up. */
export function checkUpgrade(method: string, header: (name: string) => string | undefined): UpgradeAsk | UpgradeFault {
  if (method !== 'GET') return fault(405, 'Invalid HTTP method');
  const upgrade = header('upgrade');
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') return fault(400, 'Invalid Upgrade header');
  // ws leaves this to Node, which emits 'upgrade' only where Connection names it.
  if (!hasUpgradeToken(header('connection'))) return fault(400, 'Invalid Connection header');
  const key = header('sec-websocket-key');
  if (key === undefined || !KEY_PATTERN.test(key)) return fault(400, 'Missing or invalid Sec-WebSocket-Key header');
  // ws reads the version with unary plus, which also lets "13.0" or "0xd" through; RFC 6455 names the digits.
  const version = header('sec-websocket-version');
  if (version !== '13' && version !== '8') {
    return fault(400, 'Missing or invalid Sec-WebSocket-Version header', { 'Sec-WebSocket-Version': '13, 8' });
  }
  const protocolHeader = header('sec-websocket-protocol');
  const protocols = protocolHeader === undefined ? new Set<string>() : parseProtocols(protocolHeader);
  if (protocols === undefined) return fault(400, 'Invalid Sec-WebSocket-Protocol header');
  return { key, protocols };
}

/** The Sec-WebSocket-Accept value for a key. */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** The server's whole 101 answer (status line, headers, blank line), naming `protocol` where one was chosen. */
export function switchingProtocols(key: string, protocol: string | undefined): string {
  const chosen = protocol === undefined ? '' : `Sec-WebSocket-Protocol: ${protocol}\r\n`;
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${chosen}\r\n`
  );
}

function parseRequestLine(text: string, lineEnd: number): { method: string; target: string } | undefined {
  const methodEnd = text.indexOf(' ');
  if (methodEnd === -1 || methodEnd > lineEnd) return undefined;
  const method = text.slice(0, methodEnd);
  if (!KNOWN_METHODS.has(method)) return undefined;
  const targetStart = methodEnd + 1;
  if (text.charCodeAt(targetStart) !== SLASH) return undefined;
  let targetEnd = targetStart + 1;
  while (targetEnd < lineEnd) {
    const code = text.charCodeAt(targetEnd);
    if (code === SP) break;
    if (code < 0x21 || code > 0x7e) return undefined;
    targetEnd++;
  }
  const versionStart = targetEnd + 1;
  if (lineEnd - versionStart !== HTTP_VERSION.length || !text.startsWith(HTTP_VERSION, versionStart)) return undefined;
  return { method, target: text.slice(targetStart, targetEnd) };
}

/** Adds the header line text[start, end) to `headers` as Node would; false where it must go to Node. */
function addHeaderLine(text: string, start: number, end: number, headers: Map<string, string>): boolean {
  let colon = start;
  while (colon < end) {
    const code = text.charCodeAt(colon);
    if (code === COLON) break;
    // Also refuses whitespace before the colon, and obs-fold: a line that starts with SP or HTAB.
    if (TOKEN_CHARS[code] !== 1) return false;
    colon++;
  }
  if (colon === start || colon === end) return false;

  for (let i = colon + 1; i < end; i++) {
    const code = text.charCodeAt(i);
    // RFC 9110 section 5.5 field-vchar and whitespace; obs-text (0x80-0xFF) as Node keeps it.
    if (code === DEL || (code < SP && code !== HTAB)) return false;
  }

  const name = text.slice(start, colon).toLowerCase();
  if (REFUSED_HEADERS.has(name)) return false;
  const value = trimOptionalWhitespace(text.slice(colon + 1, end));
  const earlier = headers.get(name);
  if (earlier === undefined) {
    headers.set(name, value);
  } else if (name === 'host') {
    // RFC 9112 section 3.2 answers a second Host with 400, where Node keeps the first.
    return false;
  } else if (!FIRST_VALUE_HEADERS.has(name)) {
    headers.set(name, earlier + (name === 'cookie' ? '; ' : ', ') + value);
  }
  return true;
}

function isOptionalWhitespace(code: number): boolean {
  return code === SP || code === HTAB;
}

/** RFC 9110 OWS; String.trim would also take NBSP (0xA0), which latin1 decoding yields. */
function trimOptionalWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOptionalWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isOptionalWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** Whether a Connection value lists the "upgrade" option (RFC 9110 section 7.6.1), in any case. */
/**
 * Whether a request asks to switch protocols, as Node's parser tells an upgrade from a plain
 * request: an Upgrade header, and a Connection header naming it.
 */
export function asksToUpgrade(headers: ReadonlyMap<string, string>): boolean {
  return headers.has('upgrade') && hasUpgradeToken(headers.get('connection'));
}

function hasUpgradeToken(connection: string | undefined): boolean {
  if (connection === undefined) return false;
  return connection.split(',').some((option) => trimOptionalWhitespace(option).toLowerCase() === 'upgrade');
}

/** ws's subprotocol.parse, character for character; undefined where it throws. */
function parseProtocols(header: string): Set<string> | undefined {
  const protocols = new Set<string>();
  let start = -1;
  let end = -1;
  let i = 0;
  for (; i < header.length; i++) {
    const code = header.charCodeAt(i);
    if (end === -1 && TOKEN_CHARS[code] === 1) {
      if (start === -1) start = i;
    } else if (i !== 0 && isOptionalWhitespace(code)) {
      if (end === -1 && start !== -1) end = i;
    } else if (code === COMMA) {
      if (start === -1) return undefined;
      if (end === -1) end = i;
      const protocol = header.slice(start, end);
      if (protocols.has(protocol)) return undefined;
      protocols.add(protocol);
      start = end = -1;
    } else {
      return undefined;
    }
  }
  if (start === -1 || end !== -1) return undefined;
  const protocol = header.slice(start, i);
  if (protocols.has(protocol)) return undefined;
  protocols.add(protocol);
  return protocols;
}

function fault(status: 400 | 405, message: string, headers: Record<string, string> = {}): UpgradeFault {
  return { status, message, headers };
}
