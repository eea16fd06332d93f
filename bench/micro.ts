// Microbenchmarks of the input path, in one process: the telnet decoder (src/telnet/decoder.ts), TelnetLayer.receive
// (decoder, key reader and negotiation), the line editor in character mode, and lines through a whole
// session to the echo sample's handler over an in-memory connection. Run by run.ts, or alone:
// node --import tsx bench/micro.ts [--quick]
import { performance } from 'node:perf_hooks';
import pino from 'pino';

import {
  DO,
  DONT,
  IAC,
  OPT_CHARSET,
  OPT_ECHO,
  OPT_EOR,
  OPT_NAWS,
  OPT_SGA,
  OPT_TTYPE,
  SB,
  SE,
  TTYPE_IS,
  WILL,
} from '../src/telnet/constants.js';
import { TelnetDecoder } from '../src/telnet/decoder.js';
import type { TelnetSink } from '../src/telnet/decoder.js';
import { KeyReader } from '../src/session/key-reader.js';
import type { InputToken } from '../src/session/key-reader.js';
import { LineEditor } from '../src/session/line-editor.js';
import { TelnetLayer } from '../src/session/telnet-layer.js';
import { TelnetHandler } from '../src/handlers/telnet-handler.js';
import { InProcessHub } from '../src/hub/hub.js';
import { Metrics } from '../src/monitor/metrics.js';
import { Monitor } from '../src/monitor/monitor.js';
import { PlainLayer } from '../src/session/plain-layer.js';
import { Session, sessionControl } from '../src/session/session.js';
import { READY } from '../src/transports/connection.js';
import type { Connection } from '../src/transports/connection.js';
import { ByteConnection } from '../test/support/byte-connection.js';

/** One microbenchmark's fastest round, and every round's rate. */
export interface MicroResult {
  key: string;
  label: string;
  unit: 'MB/s' | 'keys/s' | 'lines/s';
  value: number;
  rounds: number[];
}

/** A socket read's size: what net.Socket hands 'data' listeners under load. */
const READ_SIZE = 64 * 1024;
const LINE = 'the quick brown fox jumps over the lazy dog, 0123456789 times\r\n';
/** Reads a session microbenchmark cycles through, each of other lines. */
const CHUNKS = 64;

/** A terminal's answers to the server's opening negotiation, all at once: character mode, 80x24, xterm. */
const TERMINAL_ANSWERS = Buffer.from([
  ...[IAC, WILL, OPT_TTYPE, IAC, WILL, OPT_NAWS, IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE],
  ...[IAC, DONT, OPT_EOR, IAC, DONT, OPT_CHARSET, IAC, DO, OPT_SGA],
  ...[IAC, SB, OPT_TTYPE, TTYPE_IS, ...Buffer.from('xterm-256color', 'latin1'), IAC, SE, IAC, DO, OPT_ECHO],
]);

const isQuick = process.argv.includes('--quick');
const ROUNDS = isQuick ? 1 : 3;
const ROUND_MS = isQuick ? 100 : 200;

/** An in-memory connection that counts the prompts written to it rather than keeping its output. */
class CountingConnection extends ByteConnection {
  #waiting = 0;
  #answered: (() => void) | undefined;

  /** Resolves once `count` more prompts have been written. */
  prompts(count: number): Promise<void> {
    this.#waiting = count;
    return new Promise((resolve) => (this.#answered = resolve));
  }

  override write(data: Uint8Array | string): Promise<void> {
    if (data === '> ' && --this.#waiting === 0) this.#answered?.();
    return READY;
  }
}

const SESSION_CASES: Array<[key: string, label: string, setup: SessionSetup]> = [
  [
    'session-lines',
    'session + echo handler, 16 lines per read (tcp)',
    { transport: 'tcp', linesPerRead: 16, isObserved: false },
  ],
  [
    'session-line',
    'session + echo handler, a line per read (tcp)',
    { transport: 'tcp', linesPerRead: 1, isObserved: false },
  ],
  [
    'session-line-observed',
    '  the same, monitor and metrics on',
    { transport: 'tcp', linesPerRead: 1, isObserved: true },
  ],
  [
    'session-lines-telnet',
    'session + echo handler, 16 lines per read (telnet)',
    { transport: 'telnet', linesPerRead: 16, isObserved: false },
  ],
  [
    'session-line-telnet',
    'session + echo handler, a line per read (telnet)',
    { transport: 'telnet', linesPerRead: 1, isObserved: false },
  ],
];

const results: MicroResult[] = [
  measure('decoder-plain', 'telnet decoder, plain text, 64 KiB reads', 'MB/s', decoderLoop(plainText(READ_SIZE))),
  measure('decoder-plain-small', 'telnet decoder, plain text, 64-byte reads', 'MB/s', decoderLoop(plainText(64))),
  measure('decoder-iac', 'telnet decoder, IAC IAC every 16 bytes', 'MB/s', decoderLoop(escapedText(READ_SIZE))),
  measure('decoder-negotiation', 'telnet decoder, negotiation-heavy', 'MB/s', decoderLoop(negotiation(READ_SIZE))),
  measure('layer-plain', 'decoder + key reader (TelnetLayer.receive), plain', 'MB/s', layerLoop(plainText(READ_SIZE))),
  measure('layer-storm', 'TelnetLayer.receive, a DO/WILL storm', 'MB/s', layerLoop(storm(READ_SIZE))),
  measure('editor-keys', 'line editor, character mode', 'keys/s', editorLoop(false)),
  measure('editor-reader-keys', 'key reader + line editor, a key per read', 'keys/s', editorLoop(true)),
];

for (const [key, label, setup] of SESSION_CASES)
  results.push(await measureAsync(key, label, 'lines/s', await sessionLoop(setup)));

if (process.send !== undefined) process.send(results);
else for (const result of results) console.log(`${result.label.padEnd(52)} ${Math.round(result.value)} ${result.unit}`);

/**
 * Runs `step` (which returns the units it did) for ROUND_MS per round after a warm-up round. The
 * fastest round is the code's speed: other processes on the core can only slow a round down.
 */
function measure(key: string, label: string, unit: MicroResult['unit'], step: () => number): MicroResult {
  const round = (): number => {
    let done = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      done += step();
      elapsed = performance.now() - started;
    }
    return (done / elapsed) * 1000;
  };
  round();
  const rounds = Array.from({ length: ROUNDS }, round);
  const perSecond = Math.max(...rounds);
  const scale = unit === 'MB/s' ? 1e6 : 1;
  return { key, label, unit, value: perSecond / scale, rounds: rounds.map((rate) => rate / scale) };
}

/** As measure, for a step that needs the event loop (promise jobs) to finish its work. */
async function measureAsync(
  key: string,
  label: string,
  unit: MicroResult['unit'],
  step: () => Promise<number>,
): Promise<MicroResult> {
  const round = async (): Promise<number> => {
    let done = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < ROUND_MS) {
      done += await step();
      elapsed = performance.now() - started;
    }
    return (done / elapsed) * 1000;
  };
  await round();
  const rounds: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
  return { key, label, unit, value: Math.max(...rounds), rounds };
}

/** How a session microbenchmark's session is set up and fed. */
interface SessionSetup {
  /** `tcp`: line mode, no telnet. `telnet`: character mode as a terminal negotiates it, the server echoing. */
  transport: 'tcp' | 'telnet';
  linesPerRead: number;
  /** The session monitor and metrics watch the application, as the echo sample's config has them. */
  isObserved: boolean;
}

/**
 * A session as a server makes it, with the echo sample's handler, fed `linesPerRead` lines per
 * read; a step ends when the last line's prompt is written and the turn is over (so that output
 * held for the turn's end is counted). What the session, its input discipline, the line editor,
 * the handler base classes and, where observed, the monitor's recording cost a line, with no
 * socket.
 */
async function sessionLoop(setup: SessionSetup): Promise<() => Promise<number>> {
  class EchoHandler extends TelnetHandler {
    override onCommandSubmitted(command: string): Promise<void> {
      return this.sendLine(`Echo: ${command}`);
    }
  }
  const connection = new CountingConnection();
  const app = new InProcessHub();
  const logger = pino({ level: 'silent' });
  if (setup.isObserved) {
    const monitor = new Monitor(app, { notice: false, logger });
    monitor.start();
    new Metrics(app, { monitor, version: 'bench' }).start();
  }
  const session = new Session(connection, {
    createLayer: (layerConnection, events, layerLogger) =>
      setup.transport === 'telnet'
        ? new TelnetLayer(layerConnection, {
            preferredMode: 'character',
            keepaliveInterval: 0,
            events,
            logger: layerLogger,
          })
        : new PlainLayer({ messageFraming: false, serverEchoes: false }),
    handlerClass: EchoHandler,
    server: {
      name: 'bench',
      transport: setup.transport,
      welcomeMessage: 'Welcome',
      sessions: new Set(),
      sendGlobalMessage: async () => {},
    },
    app,
    logger,
    limits: { idleTimeout: 0, maxSessionTime: 0, maxLineLength: 1024, resumeGrace: 0 },
  });
  void sessionControl.start(session);
  if (setup.transport === 'telnet') {
    await nextTurn();
    connection.receive(TERMINAL_ANSWERS);
    await nextTurn();
    if (session.mode !== 'character') throw new Error(`telnet session in ${session.mode} mode, not character mode`);
  }
  const lines = setup.linesPerRead;
  // Every line another, as the load generator's are: a line repeating the one before does not go
  // into the history again, and would leave its cost out.
  let sequence = 0;
  const chunks = Array.from({ length: CHUNKS }, () =>
    Buffer.from(Array.from({ length: lines }, () => `${sequence++} ${LINE}`).join('')),
  );
  let next = 0;
  return async () => {
    const answered = connection.prompts(lines);
    connection.receive(chunks[next++ % CHUNKS]!);
    await answered;
    await nextTurn();
    return lines;
  };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Decodes `chunk` once per step into a sink that only counts; returns bytes decoded. */
function decoderLoop(chunk: Uint8Array): () => number {
  const decoder = new TelnetDecoder();
  let seen = 0;
  const sink: TelnetSink = {
    onData: (bytes) => void (seen += bytes.length),
    onCommand: () => void seen++,
    onNegotiate: () => void seen++,
    onSubnegotiation: (_option, payload) => void (seen += payload.length),
    onOverflow: () => void seen++,
  };
  return () => {
    decoder.decode(chunk, sink);
    return chunk.length;
  };
}

/** TelnetLayer.receive itself, on a connection that takes its replies and drops them. */
function layerLoop(chunk: Uint8Array): () => number {
  const connection = { write: () => Promise.resolve() } as unknown as Connection;
  const events = { changed: () => undefined, option: () => undefined };
  const layer = new TelnetLayer(connection, {
    preferredMode: 'character',
    keepaliveInterval: 0,
    events,
    logger: pino({ level: 'silent' }),
  });
  return () => {
    layer.receive(chunk);
    return chunk.length;
  };
}

/** A line typed key by key, with one typo taken back, then Enter; on an 80-column terminal as NAWS reports it. */
function editorLoop(throughReader: boolean): () => number {
  const typed = `${LINE.slice(0, 30)}x`;
  const keys: string[] = [...typed, '\x7f', '\r'];
  const tokens: InputToken[] = [
    ...[...typed].map((text): InputToken => ({ type: 'text', text })),
    { type: 'key', name: 'backspace', sequence: '\x7f' },
    { type: 'key', name: 'enter', sequence: '\r' },
  ];
  const bytes = keys.map((key) => Buffer.from(key, 'utf8'));
  const editor = new LineEditor();
  editor.width = 80;
  editor.prompt = '> ';
  const reader = new KeyReader();
  return () => {
    if (throughReader) {
      for (const key of bytes) for (const token of reader.push(key)) editor.feed(token);
    } else {
      for (const token of tokens) editor.feed(token);
    }
    return keys.length;
  };
}

function plainText(size: number): Uint8Array {
  return Buffer.from(LINE.repeat(Math.ceil(size / LINE.length)).slice(0, size), 'latin1');
}

/** Text in which byte 255 (ÿ in Latin-1, sent binary) comes every 16 bytes, doubled as RFC 854 requires. */
function escapedText(size: number): Uint8Array {
  const out = Buffer.from(plainText(size));
  for (let i = 15; i + 1 < size; i += 16) {
    out[i - 1] = IAC;
    out[i] = IAC;
  }
  return out;
}

/** Back-to-back negotiation as a client's opening burst: WILL/DO, a window size, a terminal type. */
function negotiation(size: number): Uint8Array {
  const burst = Buffer.from([
    ...[IAC, WILL, OPT_TTYPE, IAC, WILL, OPT_NAWS, IAC, DO, OPT_SGA],
    ...[IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE],
    ...[IAC, SB, OPT_TTYPE, TTYPE_IS, ...Buffer.from('XTERM-256COLOR', 'latin1'), IAC, SE],
  ]);
  const whole = Math.floor(size / burst.length);
  return Buffer.concat(Array.from({ length: whole }, () => burst));
}

/** A client asking for every option over and over, DO and WILL alike: most get refused, each time. */
function storm(size: number): Uint8Array {
  const out = Buffer.alloc(size - (size % 3));
  for (let at = 0, n = 0; at < out.length; at += 3, n++) out.set([IAC, n % 2 === 0 ? DO : WILL, n % 256], at);
  return out;
}
