// Request heads from real clients, every strictness rule, and two referees: what parseRequestHead
// accepts, Node's own HTTP parser reads alike; what checkUpgrade says, a real ws server answers.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import fc from 'fast-check';
import { WebSocket, WebSocketServer } from 'ws';

import {
  acceptKey,
  checkUpgrade,
  headEnd,
  parseRequestHead,
  switchingProtocols,
  type RequestHead,
} from './websocket-handshake.js';

/** A head as a client sends it: lines joined by CR LF, then the blank line. */
function head(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((line) => `${line}\r\n`).join('') + '\r\n', 'latin1');
}

function headerOf(parsed: RequestHead): (name: string) => string | undefined {
  return (name) => parsed.headers.get(name);
}

const CHROME = [
  'GET /ws?resume=abc HTTP/1.1',
  'Host: localhost:8080',
  'Connection: Upgrade',
  'Pragma: no-cache',
  'Cache-Control: no-cache',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Upgrade: websocket',
  'Origin: http://localhost:8080',
  'Sec-WebSocket-Version: 13',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Accept-Language: en-GB,en-US;q=0.9,en;q=0.8',
  'Cookie: session=4f2a9c; theme=dark',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
];

const FIREFOX = [
  'GET /ws/room?resume=abc&room=lobby HTTP/1.1',
  'Host: example.com',
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Accept: */*',
  'Accept-Language: en-US,en;q=0.5',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Sec-WebSocket-Version: 13',
  'Origin: https://example.com',
  'Sec-WebSocket-Protocol: telnet, chat',
  'Sec-WebSocket-Extensions: permessage-deflate',
  'Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==',
  'DNT: 1',
  'Connection: keep-alive, Upgrade',
  'Cookie: a=1; b=2',
  'Sec-Fetch-Dest: empty',
  'Sec-Fetch-Mode: websocket',
  'Sec-Fetch-Site: same-origin',
  'Pragma: no-cache',
  'Cache-Control: no-cache',
  'Upgrade: websocket',
];

/** The smallest request that parses, for the strictness cases to break one rule at a time. */
const PLAIN = ['GET /ws HTTP/1.1', 'Host: localhost', 'X-Value: a'];

test("Chrome's upgrade, with cookies and a query, parses to its method, target and every header", () => {
  const parsed = parseRequestHead(head(CHROME));
  assert.ok(parsed);
  assert.equal(parsed.method, 'GET');
  assert.equal(parsed.target, '/ws?resume=abc');
  assert.deepEqual(
    parsed.headers,
    new Map([
      ['host', 'localhost:8080'],
      ['connection', 'Upgrade'],
      ['pragma', 'no-cache'],
      ['cache-control', 'no-cache'],
      [
        'user-agent',
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
      ],
      ['upgrade', 'websocket'],
      ['origin', 'http://localhost:8080'],
      ['sec-websocket-version', '13'],
      ['accept-encoding', 'gzip, deflate, br, zstd'],
      ['accept-language', 'en-GB,en-US;q=0.9,en;q=0.8'],
      ['cookie', 'session=4f2a9c; theme=dark'],
      ['sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ['sec-websocket-extensions', 'permessage-deflate; client_max_window_bits'],
    ]),
  );
  assert.deepEqual(checkUpgrade(parsed.method, headerOf(parsed)), {
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    protocols: new Set(),
  });
});

test("Firefox's upgrade, keep-alive beside Upgrade and two subprotocols, asks for both in order", () => {
  const parsed = parseRequestHead(head(FIREFOX));
  assert.ok(parsed);
  assert.equal(parsed.target, '/ws/room?resume=abc&room=lobby');
  assert.equal(parsed.headers.size, FIREFOX.length - 1);
  assert.equal(parsed.headers.get('dnt'), '1');
  assert.equal(parsed.headers.get('connection'), 'keep-alive, Upgrade');
  assert.equal(parsed.headers.get('accept'), '*/*');
  assert.deepEqual(checkUpgrade(parsed.method, headerOf(parsed)), {
    key: 'x3JJHMbDL1EzLkh9GBhXDw==',
    protocols: new Set(['telnet', 'chat']),
  });
});

test("the ws client's own request parses, and our 101 answer opens it with the protocol chosen", async () => {
  const heads: RequestHead[] = [];
  const server = net.createServer((socket) => {
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = headEnd(received);
      if (end === -1) return;
      socket.removeAllListeners('data');
      const parsed = parseRequestHead(received.subarray(0, end));
      if (parsed === undefined) return void socket.destroy();
      heads.push(parsed);
      const ask = checkUpgrade(parsed.method, headerOf(parsed));
      if (!('key' in ask)) return void socket.destroy();
      socket.write(switchingProtocols(ask.key, [...ask.protocols][0]));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}/ws?resume=abc`, ['telnet', 'chat'], {
    headers: { Cookie: 'session=4f2a9c; theme=dark', Origin: 'http://127.0.0.1' },
  });
  try {
    await once(client, 'open');
    assert.equal(client.protocol, 'telnet');
    assert.equal(heads.length, 1);
    assert.equal(heads[0]!.method, 'GET');
    assert.equal(heads[0]!.target, '/ws?resume=abc');
    assert.equal(heads[0]!.headers.get('host'), `127.0.0.1:${port}`);
    assert.equal(heads[0]!.headers.get('cookie'), 'session=4f2a9c; theme=dark');
    assert.equal(heads[0]!.headers.get('sec-websocket-protocol'), 'telnet,chat');
  } finally {
    client.terminate();
    server.close();
  }
});

test('a request breaking any one rule of strict HTTP/1.1 is left to Node', () => {
  assert.ok(parseRequestHead(head(PLAIN)), 'the request the cases break parses as it stands');
  const [requestLine, host, value] = PLAIN;
  const cases: Record<string, Buffer> = {
    'nothing at all': Buffer.alloc(0),
    'a lower-case method': head(['get /ws HTTP/1.1', host!]),
    'a token llhttp does not know as a method': head(['FETCH /ws HTTP/1.1', host!]),
    'CONNECT, which takes an authority': head(['CONNECT /ws HTTP/1.1', host!]),
    'a method that is not a token': head(['G@T /ws HTTP/1.1', host!]),
    'two spaces after the method': head(['GET  /ws HTTP/1.1', host!]),
    'two spaces before the version': head(['GET /ws  HTTP/1.1', host!]),
    'a space inside the target': head(['GET /w s HTTP/1.1', host!]),
    'a tab inside the target': head(['GET /w\ts HTTP/1.1', host!]),
    'DEL inside the target': head(['GET /w\x7fs HTTP/1.1', host!]),
    'a byte past ASCII in the target': head(['GET /w\xe9 HTTP/1.1', host!]),
    'an asterisk target': head(['OPTIONS * HTTP/1.1', host!]),
    'an absolute target': head(['GET http://localhost/ws HTTP/1.1', host!]),
    'no target': head(['GET HTTP/1.1', host!]),
    'HTTP/1.0': head(['GET /ws HTTP/1.0', host!]),
    'HTTP/2.0': head(['GET /ws HTTP/2.0', host!]),
    'a lower-case version': head(['GET /ws http/1.1', host!]),
    'a space after the version': head(['GET /ws HTTP/1.1 ', host!]),
    'an empty line before the request line': head(['', requestLine!, host!]),
    'a bare LF ending the request line': Buffer.from(`${requestLine}\n${host}\r\n\r\n`, 'latin1'),
    'a bare LF ending a header line': Buffer.from(`${requestLine}\r\n${host}\n${value}\r\n\r\n`, 'latin1'),
    'a bare LF inside a value': head([requestLine!, host!, 'X-Value: a\nb']),
    'a bare CR inside a value': head([requestLine!, host!, 'X-Value: a\rb']),
    'a bare CR inside the request line': head(['GET /ws\r HTTP/1.1', host!]),
    'NUL inside a value': head([requestLine!, host!, 'X-Value: a\0b']),
    'a control character inside a value': head([requestLine!, host!, 'X-Value: a\x1bb']),
    'DEL inside a value': head([requestLine!, host!, 'X-Value: a\x7fb']),
    'a space before the colon': head([requestLine!, host!, 'X-Value : a']),
    'a tab before the colon': head([requestLine!, host!, 'X-Value\t: a']),
    'an empty name': head([requestLine!, host!, ': a']),
    'a name that is not a token': head([requestLine!, host!, 'X(Value): a']),
    'a name past ASCII': head([requestLine!, host!, 'X-Valu\xe9: a']),
    'a line without a colon': head([requestLine!, host!, 'X-Value']),
    'obs-fold with a space': head([requestLine!, host!, value!, ' continued']),
    'obs-fold with a tab': head([requestLine!, host!, value!, '\tcontinued']),
    'a Content-Length': head([requestLine!, host!, 'Content-Length: 0']),
    'a Transfer-Encoding in another case': head([requestLine!, host!, 'transfer-ENCODING: chunked']),
    'an Expect, which Node answers itself': head([requestLine!, host!, 'Expect: 100-continue']),
    'a Set-Cookie, an array in Node': head([requestLine!, host!, 'Set-Cookie: a=1']),
    'a __proto__ header, which Node drops': head([requestLine!, host!, '__proto__: a']),
    'no Host': head([requestLine!, value!]),
    'two Hosts': head([requestLine!, host!, 'Host: elsewhere']),
    'bytes after the blank line': Buffer.concat([head(PLAIN), Buffer.from('x')]),
    'no blank line': Buffer.from(`${requestLine}\r\n${host}\r\n`, 'latin1'),
  };
  for (const [rule, bytes] of Object.entries(cases)) assert.equal(parseRequestHead(bytes), undefined, rule);
});

test('a hundred headers parse, a hundred and one are left to Node', () => {
  const headers = (count: number): string[] => [
    'Host: localhost',
    ...Array.from({ length: count - 1 }, (_, i) => `X-${i}: ${i}`),
  ];
  assert.equal(parseRequestHead(head(['GET / HTTP/1.1', ...headers(100)]))?.headers.size, 100);
  assert.equal(parseRequestHead(head(['GET / HTTP/1.1', ...headers(101)])), undefined);
});

test("a head as long as Node's header limit is left to Node, one byte shorter parses as Node reads it", async () => {
  const filler = (length: number): Buffer =>
    head(['GET / HTTP/1.1', 'Host: localhost', `X-Filler: ${'a'.repeat(length)}`]);
  const base = filler(0).length;
  assert.equal(parseRequestHead(filler(http.maxHeaderSize - base)), undefined);
  const longest = filler(http.maxHeaderSize - 1 - base);
  const parsed = parseRequestHead(longest);
  assert.ok(parsed);
  assert.deepEqual((await nodeReads(longest)).headers, Object.fromEntries(parsed.headers));
});

test('repeated headers join as Node joins them: ", ", "; " for cookies, and the first of some alone', () => {
  const parsed = parseRequestHead(
    head([
      'GET / HTTP/1.1',
      'Host: localhost',
      'Connection: keep-alive',
      'X-Forwarded-For: 10.0.0.1',
      'Cookie: a=1',
      'User-Agent: first',
      'connection: Upgrade',
      'x-forwarded-for: 10.0.0.2',
      'COOKIE: b=2',
      'user-agent: second',
      'Origin: http://a',
      'Origin: http://b',
      'Authorization: Basic Zmlyc3Q=',
      'Authorization: Basic c2Vjb25k',
    ]),
  );
  assert.ok(parsed);
  assert.equal(parsed.headers.get('connection'), 'keep-alive, Upgrade');
  assert.equal(parsed.headers.get('x-forwarded-for'), '10.0.0.1, 10.0.0.2');
  assert.equal(parsed.headers.get('cookie'), 'a=1; b=2');
  assert.equal(parsed.headers.get('user-agent'), 'first');
  assert.equal(parsed.headers.get('origin'), 'http://a, http://b');
  assert.equal(parsed.headers.get('authorization'), 'Basic Zmlyc3Q=');
});

test('values lose outer whitespace only, may be empty, and read bytes past ASCII as latin1', () => {
  const parsed = parseRequestHead(
    head([
      'GET / HTTP/1.1',
      'Host:localhost',
      'X-Padded: \t a \t b \t ',
      'X-Empty:',
      'X-Blank: \t ',
      'X-Name: Ren\xe9\xff',
    ]),
  );
  assert.ok(parsed);
  assert.equal(parsed.headers.get('host'), 'localhost');
  assert.equal(parsed.headers.get('x-padded'), 'a \t b');
  assert.equal(parsed.headers.get('x-empty'), '');
  assert.equal(parsed.headers.get('x-blank'), '');
  assert.equal(parsed.headers.get('x-name'), 'René\u00ff');
});

test('headEnd finds the blank line however it is cut across chunks, and -1 until it comes', () => {
  const whole = Buffer.concat([head(CHROME), Buffer.from('first frame')]);
  const end = head(CHROME).length;
  assert.equal(headEnd(whole), end);
  for (let cut = end - 6; cut < end; cut++) {
    const first = whole.subarray(0, cut);
    assert.equal(headEnd(first), -1, `cut at ${cut}`);
    assert.equal(headEnd(Buffer.concat([first, whole.subarray(cut)])), end, `cut at ${cut}`);
  }
  assert.equal(headEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r')), -1);
  assert.equal(headEnd(Buffer.from('GET / HTTP/1.1\nHost: x\n\n')), -1);
  assert.equal(headEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\n\r\n\r\n')), 30);
  assert.equal(headEnd(new Uint8Array(0)), -1);
});

test('every fault of an upgrade request gets the status, words and headers ws answers with', () => {
  const valid: Record<string, string> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  };
  const check = (changes: Record<string, string | undefined>, method = 'GET') => {
    const headers: Record<string, string | undefined> = { ...valid, ...changes };
    return checkUpgrade(method, (name) => headers[name]);
  };
  const fault = (status: 400 | 405, message: string, headers = {}) => ({ status, message, headers });
  const badVersion = fault(400, 'Missing or invalid Sec-WebSocket-Version header', {
    'Sec-WebSocket-Version': '13, 8',
  });
  const badKey = fault(400, 'Missing or invalid Sec-WebSocket-Key header');
  const badProtocol = fault(400, 'Invalid Sec-WebSocket-Protocol header');

  assert.deepEqual(check({}), { key: 'dGhlIHNhbXBsZSBub25jZQ==', protocols: new Set() });
  assert.deepEqual(check({ upgrade: 'WebSocket', 'sec-websocket-version': '8' }), {
    key: 'dGhlIHNhbXBsZSBub25jZQ==',
    protocols: new Set(),
  });
  assert.deepEqual(check({}, 'POST'), fault(405, 'Invalid HTTP method'));
  assert.deepEqual(check({}, 'get'), fault(405, 'Invalid HTTP method'));
  assert.deepEqual(check({ upgrade: undefined }), fault(400, 'Invalid Upgrade header'));
  assert.deepEqual(check({ upgrade: 'h2c' }), fault(400, 'Invalid Upgrade header'));
  assert.deepEqual(check({ upgrade: 'websocket, h2c' }), fault(400, 'Invalid Upgrade header'));
  assert.deepEqual(check({ connection: undefined }), fault(400, 'Invalid Connection header'));
  assert.deepEqual(check({ connection: 'keep-alive' }), fault(400, 'Invalid Connection header'));
  assert.deepEqual(check({ connection: 'upgrades' }), fault(400, 'Invalid Connection header'));
  assert.deepEqual(check({ connection: 'upgrade\xa0' }), fault(400, 'Invalid Connection header'));
  assert.ok('key' in check({ connection: 'keep-alive,UPGRADE' }));
  assert.ok('key' in check({ connection: 'close , \tupgrade\t, x' }));
  assert.deepEqual(check({ 'sec-websocket-key': undefined }), badKey);
  for (const key of [
    'dGhlIHNhbXBsZSBub25jZQ=',
    'dGhlIHNhbXBsZSBub25jZQ===',
    'dGhlIHNhbXBsZSBub25j-Q==',
    'a'.repeat(24),
  ]) {
    assert.deepEqual(check({ 'sec-websocket-key': key }), badKey, key);
  }
  for (const version of [undefined, '', '12', '7', '13, 13', '14']) {
    assert.deepEqual(check({ 'sec-websocket-version': version }), badVersion, String(version));
  }
  // ws reads these as the number 13; RFC 6455 section 4.2.1 asks for the digits, so we do not.
  for (const version of ['13.0', '013', '0xd']) {
    assert.deepEqual(check({ 'sec-websocket-version': version }), badVersion, version);
  }
  for (const protocols of ['', ',', 'a,', ',a', 'a,,b', 'a b', 'a,a', 'a,a,b', 'a, a', ' a', 'a;b', 'caf\xe9', '"a"']) {
    assert.deepEqual(check({ 'sec-websocket-protocol': protocols }), badProtocol, protocols);
  }
  const asked = check({ 'sec-websocket-protocol': 'telnet ,\tchat,  x-1' });
  assert.deepEqual(asked, { key: 'dGhlIHNhbXBsZSBub25jZQ==', protocols: new Set(['telnet', 'chat', 'x-1']) });
  // The first fault in ws's order is the one named.
  assert.deepEqual(check({ upgrade: 'h2c', 'sec-websocket-key': undefined }, 'PUT'), fault(405, 'Invalid HTTP method'));
  assert.deepEqual(check({ 'sec-websocket-key': 'x', 'sec-websocket-version': '1' }), badKey);
  assert.deepEqual(check({ 'sec-websocket-version': '1', 'sec-websocket-protocol': ',' }), badVersion);
});

test("acceptKey gives RFC 6455's example answer", () => {
  assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('switchingProtocols is the 101 head ws sends, naming the protocol only where one was chosen', () => {
  assert.equal(
    switchingProtocols('dGhlIHNhbXBsZSBub25jZQ==', undefined),
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
  );
  assert.equal(
    switchingProtocols('dGhlIHNhbXBsZSBub25jZQ==', 'telnet'),
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: telnet\r\n\r\n',
  );
});

/** What a server read of a request, as Node's IncomingMessage has it. */
interface NodeReading {
  method: string | undefined;
  url: string | undefined;
  headers: http.IncomingHttpHeaders;
}

/** A Node HTTP server reporting what it read of the one request in flight. */
let nodeServer: http.Server;
let nodePort: number;
let reportReading: ((reading: NodeReading) => void) | undefined;

/** A ws server on its own Node HTTP server, as the websocket transport runs it. */
let wsServer: WebSocketServer;
let wsPort: number;

before(async () => {
  const report = (req: http.IncomingMessage) => {
    reportReading?.({ method: req.method, url: req.url, headers: { ...req.headers } });
  };
  nodeServer = http.createServer((req, res) => {
    report(req);
    res.end();
  });
  nodeServer.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    report(req);
    socket.destroy();
  });
  nodeServer.listen(0, '127.0.0.1');
  await once(nodeServer, 'listening');
  nodePort = (nodeServer.address() as net.AddressInfo).port;

  wsServer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wsServer, 'listening');
  wsPort = (wsServer.address() as net.AddressInfo).port;
});

after(async () => {
  nodeServer.closeAllConnections();
  nodeServer.close();
  for (const client of wsServer.clients) client.terminate();
  await new Promise((resolve) => wsServer.close(resolve));
});

/** Sends `bytes` to Node's server: what it read, or a rejection with whatever it answered instead. */
function nodeReads(bytes: Uint8Array): Promise<NodeReading> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(nodePort, '127.0.0.1');
    let answer = '';
    const report = (reading: NodeReading) => {
      reportReading = undefined;
      resolve(reading);
      socket.destroy();
    };
    reportReading = report;
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    // A reset after a refusal shows as 'close' too.
    socket.on('error', () => {});
    socket.on('close', () => {
      // This close may come after the next request has begun.
      if (reportReading === report) reportReading = undefined;
      reject(new Error(`Node did not read the request; it answered ${JSON.stringify(answer)}`));
    });
    socket.write(bytes);
  });
}

/** ws's answer to `bytes`: status, headers lower-cased, and the body. */
function wsAnswers(bytes: Uint8Array): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(wsPort, '127.0.0.1');
    let received = Buffer.alloc(0);
    const finish = () => {
      socket.destroy();
      const end = headEnd(received);
      if (end === -1) return reject(new Error(`ws answered ${JSON.stringify(received.toString('latin1'))}`));
      const [statusLine, ...lines] = received.toString('latin1', 0, end - 4).split('\r\n');
      const headers = new Map(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 2)]),
      );
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: received.toString('latin1', end) });
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // A 101 leaves the socket open; a refusal closes it after its body.
      if (received.toString('latin1', 0, 12) === 'HTTP/1.1 101' && headEnd(received) !== -1) finish();
    });
    // A reset after a refusal shows as 'close' too.
    socket.on('error', () => {});
    socket.on('close', finish);
    socket.write(bytes);
  });
}

const chars = (from: number, to: number) => fc.integer({ min: from, max: to }).map((code) => String.fromCharCode(code));
const TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const tokenChar = fc.constantFrom(...TOKEN);
/** Mostly what strict HTTP allows, now and then (one time in `odds`) what it does not. */
const seldom = <T>(odds: number, usual: fc.Arbitrary<T>, rare: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: usual, weight: odds - 1 }, { arbitrary: rare, weight: 1 });

const requestLine = fc
  .record({
    method: seldom(20, fc.constantFrom(...http.METHODS), fc.constantFrom('get', 'FETCH', 'PRI', 'G T')),
    target: fc.string({ unit: seldom(200, chars(0x21, 0x7e), fc.constantFrom(' ', '\t', '\x7f', '\x80', '\xff')) }),
    version: seldom(20, fc.constant('HTTP/1.1'), fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'http/1.1')),
  })
  .map(({ method, target, version }) => `${method} /${target} ${version}`);

/** Names Node joins, keeps the first of, or joins its own way, and names Object.prototype has: often repeated. */
const knownName = fc
  .tuple(
    fc.constantFrom(
      ...['Cookie', 'User-Agent', 'Origin', 'Upgrade', 'Connection', 'Date', 'Authorization', 'Referer'],
      ...['X-Forwarded-For', 'Sec-WebSocket-Key', 'Content-Type', 'If-Match', 'constructor', 'toString'],
    ),
    fc.constantFrom<(name: string) => string>(
      (name) => name,
      (name) => name.toLowerCase(),
      (name) => name.toUpperCase(),
    ),
  )
  .map(([name, toCase]) => toCase(name));
const headerName = fc.oneof(
  { arbitrary: knownName, weight: 20 },
  { arbitrary: fc.string({ unit: tokenChar, minLength: 1, maxLength: 10 }), weight: 10 },
  {
    arbitrary: fc.constantFrom('Host', 'Set-Cookie', 'Content-Length', 'Transfer-Encoding', 'Expect', '__proto__'),
    weight: 1,
  },
  {
    arbitrary: fc.string({ unit: fc.constantFrom('a', '-', ' ', '\t', '@', '\xe9', ':', '\r', '\n'), maxLength: 4 }),
    weight: 1,
  },
);
const whitespace = fc.constantFrom('', '', ' ', '\t', ' \t ');
const headerValue = fc.string({
  unit: seldom(
    200,
    fc.oneof(chars(0x20, 0x7e), chars(0x80, 0xff), fc.constant('\t')),
    fc.constantFrom('\0', '\x1b', '\x7f', '\r', '\n'),
  ),
  maxLength: 20,
});
const headerLine = seldom(
  100,
  fc
    .tuple(headerName, whitespace, headerValue, whitespace)
    .map(([name, before, value, behind]) => `${name}:${before}${value}${behind}`),
  fc.constantFrom(' folded', '\tfolded', 'no colon', 'Spaced : name', ''),
);

const requestHead = fc
  .tuple(
    requestLine,
    fc.array(headerLine, { maxLength: 12 }),
    fc.option(fc.nat(12), { freq: 20 }),
    seldom(20, fc.constant('\r\n'), fc.constant('\n')),
  )
  .map(([line, headers, hostAt, lineEnd]) => {
    // Not splice: fast-check shrinks from the generated array, which must stay as it was.
    const lines = hostAt === null ? headers : headers.toSpliced(hostAt, 0, 'Host: localhost:8080');
    return Buffer.from([line, ...lines].map((text) => text + lineEnd).join('') + '\r\n', 'latin1');
  });

test("whatever parseRequestHead accepts, Node's HTTP parser reads as the same method, target and headers", async () => {
  let accepted = 0;
  const runs = 200;
  await fc.assert(
    fc.asyncProperty(requestHead, async (bytes) => {
      const parsed = parseRequestHead(bytes);
      if (parsed === undefined) return;
      accepted++;
      const reading = await nodeReads(bytes);
      assert.deepEqual(
        { method: reading.method, url: reading.url, headers: reading.headers },
        { method: parsed.method, url: parsed.target, headers: Object.fromEntries(parsed.headers) },
      );
    }),
    { numRuns: runs, includeErrorInReport: true },
  );
  // A generator that drifted into refusing nearly everything would pass vacuously.
  assert.ok(accepted > runs / 4, `only ${accepted} of ${runs} heads accepted`);
});

const base64Char = fc.constantFrom(...'+/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
const upgradeRequest = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT'),
  upgrade: fc.constantFrom('websocket', 'WebSocket', 'WEBSOCKET', 'h2c', 'websockets'),
  connection: fc.constantFrom('Upgrade', 'upgrade', 'keep-alive, Upgrade'),
  key: fc.option(
    fc.oneof(
      fc.string({ unit: base64Char, minLength: 22, maxLength: 22 }).map((key) => `${key}==`),
      fc.string({ unit: fc.oneof(base64Char, fc.constantFrom('=', '-', '_')), minLength: 21, maxLength: 25 }),
    ),
  ),
  // Not "13.0" or "0xd": ws's unary plus takes them, RFC 6455 and we do not.
  version: fc.option(fc.constantFrom('13', '13', '8', '12', '7', '', 'abc', '13, 13', '14')),
  protocol: fc.option(
    fc.string({ unit: fc.constantFrom('a', 'b', 'chat', 'x-1', ',', ', ', ' ', '\t', '"', '/', '\xe9'), maxLength: 6 }),
  ),
});

test('checkUpgrade, on what parseRequestHead reads, answers as a real ws server does', async () => {
  await fc.assert(
    fc.asyncProperty(upgradeRequest, async (ask) => {
      const lines = [
        `${ask.method} /ws HTTP/1.1`,
        'Host: localhost',
        `Upgrade: ${ask.upgrade}`,
        `Connection: ${ask.connection}`,
      ];
      if (ask.key !== null) lines.push(`Sec-WebSocket-Key: ${ask.key}`);
      if (ask.version !== null) lines.push(`Sec-WebSocket-Version: ${ask.version}`);
      if (ask.protocol !== null) lines.push(`Sec-WebSocket-Protocol: ${ask.protocol}`);
      const bytes = head(lines);
      const parsed = parseRequestHead(bytes);
      assert.ok(parsed);
      const ours = checkUpgrade(parsed.method, headerOf(parsed));
      const theirs = await wsAnswers(bytes);
      if ('key' in ours) {
        assert.equal(theirs.status, 101);
        assert.equal(theirs.headers.get('sec-websocket-accept'), acceptKey(ours.key));
        assert.equal(theirs.headers.get('sec-websocket-protocol'), [...ours.protocols][0]);
      } else {
        assert.equal(theirs.status, ours.status);
        assert.equal(theirs.body, ours.message);
        for (const [name, value] of Object.entries(ours.headers))
          assert.equal(theirs.headers.get(name.toLowerCase()), value);
      }
    }),
    { numRuns: 150, includeErrorInReport: true },
  );
});
