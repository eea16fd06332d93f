// Microbenchmarks of the input path, in one process: the telnet decoder (src/telnet/decoder.ts), TelnetLayer.receive
// (decoder, key reader and negotiation), and the line editor in character mode. Run by run.ts, or alone:
// node --import tsx bench/micro.ts [--quick]
import { performance } from 'node:perf_hooks';
import pino from 'pino';

import { DO, IAC, OPT_NAWS, OPT_SGA, OPT_TTYPE, SB, SE, TTYPE_IS, WILL } from '../src/telnet/constants.js';
import { TelnetDecoder } from '../src/telnet/decoder.js';
import type { TelnetSink } from '../src/telnet/decoder.js';
import { KeyReader } from '../src/session/key-reader.js';
import type { InputToken } from '../src/session/key-reader.js';
import { LineEditor } from '../src/session/line-editor.js';
import { TelnetLayer } from '../src/session/telnet-layer.js';
import type { Connection } from '../src/transports/connection.js';

/** One microbenchmark's fastest round, and every round's rate. */
export interface MicroResult {
  key: string;
  label: string;
  unit: 'MB/s' | 'keys/s';
  value: number;
  rounds: number[];
}

/** A socket read's size: what net.Socket hands 'data' listeners under load. */
const READ_SIZE = 64 * 1024;
const LINE = 'the quick brown fox jumps over the lazy dog, 0123456789 times\r\n';

const isQuick = process.argv.includes('--quick');
const ROUNDS = isQuick ? 1 : 5;
const ROUND_MS = isQuick ? 100 : 200;

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
