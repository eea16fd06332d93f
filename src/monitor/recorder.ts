// Recordings: one asciicast file (v2, or v3) per session, written from the session event stream.
import { createWriteStream, constants as fsConstants } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { access, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import type { Logger } from 'pino';

import { ChurnMap } from '../churn-map.js';
import type { ApplicationConfig } from '../config/schema.js';
import { ConfigError, ServerStartError } from '../errors.js';
import type { SessionEventListener, SessionEventType, SessionInfo, TerminalSummary } from '../hub/events.js';
import type { SessionHub } from '../hub/hub.js';

/** One recording in the folder. */
export interface RecordingEntry {
  file: string;
  sessionId: string;
  /** Epoch milliseconds, to the second (as the file name gives it). */
  startedAt: number;
  bytes: number;
}

/** asciicast event codes: output, input, resize, marker. */
type EventCode = 'o' | 'i' | 'r' | 'm';

/** ES2024's String#toWellFormed, in Node since 20 (this project's lib is ES2023). */
type WellFormable = string & { toWellFormed(): string };

/**
 * `<start time, to the second, colons as dashes>-<session id>.cast`: nothing in it needs quoting,
 * and names sort by start time.
 */
const FILE_NAME = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z-([a-z2-7]{16})\.cast$/;

/** The size a recording's header gives when the client has reported none: the classic terminal's. */
const DEFAULT_COLS = 80;
const DEFAULT_ROWS = 24;

/**
 * How long a telnet recording waits for the client's window size and terminal type before it
 * writes its header: they arrive one or two round trips after the session starts, and the
 * header is the only place for the type.
 */
const HEADER_WAIT_MS = 1000;

/**
 * Bytes one recording may have waiting for the disk (or, before its header, held in memory).
 * Past it, events are dropped and counted rather than buffered: a slow disk must not grow memory.
 */
const MAX_PENDING_BYTES = 256 * 1024;

/** Kept free below record_max_bytes for the marker that says the recording was cut. */
const CUT_MARKER_ROOM = 128;

/** Recordings hold what users see and type: readable by this account only. */
const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;

/** Writes one asciicast file per session into the configured folder, bounded in size and count. */
export class Recorder {
  /** The folder recordings are written to, absolute. */
  readonly folder: string;
  #app: SessionHub;
  #config: ApplicationConfig;
  #logger: Logger;
  #recordings = new ChurnMap<string, Recording>();
  #closing = new Set<Promise<void>>();
  #pruning: Promise<void> = Promise.resolve();
  /** A retention pass is waiting to run; it will see every recording begun meanwhile. */
  #isPruneQueued = false;
  #unsubscribe: (() => void) | undefined;

  constructor(app: SessionHub, options: { config: ApplicationConfig; logger: Logger }) {
    const { config } = options;
    if (config.recordSessions === undefined) throw new ConfigError('record_sessions: no folder is set to record into');
    this.folder = resolve(config.baseDir, config.recordSessions);
    this.#app = app;
    this.#config = config;
    this.#logger = options.logger;
  }

  /** Makes sure the folder exists and can be written, then records every session that starts. */
  async start(): Promise<void> {
    if (this.#unsubscribe !== undefined) return;
    try {
      await mkdir(this.folder, { recursive: true, mode: FOLDER_MODE });
      await access(this.folder, fsConstants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ServerStartError(`record_sessions: cannot write recordings to ${this.folder} (${code})`, {
        cause: err,
      });
    }
    const listeners: { [T in SessionEventType]?: SessionEventListener<T> } = {
      'session-started': ({ session }) => this.#begin(session),
      output: ({ sessionId, text }) => this.#recordings.get(sessionId)?.output(text),
      terminal: ({ sessionId, terminal }) => this.#recordings.get(sessionId)?.resize(terminal),
      'session-ended': ({ session }) => this.#end(session.id),
    };
    // Hidden input has no text in the stream; it is left out here all the same, on purpose.
    if (this.#config.recordInput) {
      listeners.input = ({ sessionId, kind, hidden, text }) => {
        if (kind === 'line' && !hidden && text !== undefined) this.#recordings.get(sessionId)?.input(text);
      };
    }
    this.#unsubscribe = this.#app.events.subscribe(listeners);
    this.#logger.info({ folder: this.folder, format: this.#config.recordFormat }, 'recording sessions');
  }

  /** Stops recording; every open file gets what it holds and is closed. Idempotent. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const sessionId of [...this.#recordings.keys()]) this.#end(sessionId);
    await Promise.all([...this.#closing]);
    await this.#pruning;
  }

  /** The recordings in the folder, newest first. */
  async list(): Promise<RecordingEntry[]> {
    const names = await this.#ownFiles();
    const entries = await Promise.all(
      names.reverse().map(async (file): Promise<RecordingEntry | undefined> => {
        const stats = await stat(join(this.folder, file)).catch(() => undefined);
        // Deleted meanwhile, or something else under our kind of name.
        if (stats === undefined || !stats.isFile()) return undefined;
        return { file, ...parseFileName(file)!, bytes: stats.size };
      }),
    );
    return entries.filter((entry) => entry !== undefined);
  }

  /**
   * The absolute path of a recording by its file name, or undefined when `file` is not a name
   * this recorder gives (a slash, `..` or anything else). The file may have been deleted since.
   */
  pathOf(file: string): string | undefined {
    return FILE_NAME.test(file) ? join(this.folder, file) : undefined;
  }

  #begin(session: SessionInfo): void {
    const recording = new Recording(this.folder, session, {
      format: this.#config.recordFormat,
      maxBytes: this.#config.recordMaxBytes,
      logger: this.#logger,
    });
    this.#recordings.set(session.id, recording);
    this.#logger.debug({ session: session.id, file: recording.name }, 'recording started');
    // One pass at a time, and at most one waiting: a burst of new sessions costs one more pass.
    if (this.#isPruneQueued) return;
    this.#isPruneQueued = true;
    this.#pruning = this.#pruning.then(() => {
      this.#isPruneQueued = false;
      return this.#deleteOldest();
    });
  }

  #end(sessionId: string): void {
    const recording = this.#recordings.get(sessionId);
    if (recording === undefined) return;
    this.#recordings.delete(sessionId);
    const closing = recording.close();
    this.#closing.add(closing);
    void closing.then(() => this.#closing.delete(closing));
  }

  /** Deletes the oldest of our files beyond record_keep. */
  async #deleteOldest(): Promise<void> {
    try {
      const files = new Set(await this.#ownFiles());
      // A file whose stream is still opening is not listed yet, but counts.
      for (const recording of this.#recordings.values()) files.add(recording.name);
      const oldestFirst = [...files].sort();
      for (const file of oldestFirst.slice(0, Math.max(0, oldestFirst.length - this.#config.recordKeep))) {
        // A session still being recorded into a deleted file stops being recorded.
        this.#end(parseFileName(file)!.sessionId);
        await unlink(join(this.folder, file)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
    } catch (err) {
      this.#logger.warn({ err, folder: this.folder }, 'could not delete old recordings');
    }
  }

  /** Our recordings' names in the folder, oldest first; nothing else there is ever touched. */
  async #ownFiles(): Promise<string[]> {
    const names = await readdir(this.folder).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    return names.filter((name) => FILE_NAME.test(name)).sort();
  }
}

/**
 * One session's recording: a header line, then one line per event, appended through one write
 * stream. Every method returns at once; the disk catches up in the background.
 */
class Recording {
  /** The file's name in the folder. */
  readonly name: string;
  #file: string;
  #session: SessionInfo;
  #format: 'v2' | 'v3';
  #maxBytes: number;
  /** The recorder's; a child naming the session is made the first time there is something to log. */
  #parentLogger: Logger;
  #childLogger: Logger | undefined;
  #stream: WriteStream;
  #closed: Promise<void>;
  #state: 'recording' | 'ended' | 'failed' = 'recording';
  /** The clock events are timed by: monotonic, so that wall-clock jumps never reorder them. */
  #start = performance.now();
  /** Microseconds since the start of the last event written, for v3's intervals. */
  #lastAt = 0;
  #bytes = 0;
  /** The terminal as known so far; the header assumes 80x24 for a size not known by then. */
  #cols: number | undefined;
  #rows: number | undefined;
  #type: string | undefined;
  /** Events that came before the header was written; undefined once it is. */
  #held: Array<{ at: number; code: EventCode; data: string }> | undefined = [];
  #heldBytes = 0;
  #headerTimer: NodeJS.Timeout | undefined;
  /** Events dropped since the last one written, because the disk did not keep up. */
  #dropped = 0;
  #hasWarned = false;

  constructor(
    folder: string,
    session: SessionInfo,
    options: { format: 'v2' | 'v3'; maxBytes: number; logger: Logger },
  ) {
    this.name = fileName(session);
    const file = join(folder, this.name);
    this.#file = file;
    this.#session = session;
    this.#format = options.format;
    this.#maxBytes = options.maxBytes;
    this.#parentLogger = options.logger;
    ({ cols: this.#cols, rows: this.#rows, type: this.#type } = session.terminal);
    // 'wx': a recording never overwrites a file, even one that only looks like ours.
    this.#stream = createWriteStream(file, { flags: 'wx', mode: FILE_MODE });
    this.#closed = new Promise((resolve) => this.#stream.once('close', resolve));
    this.#stream.on('error', (err) => {
      this.#state = 'failed';
      this.#logger.error({ err, file }, 'recording failed; the rest of this session is not recorded');
    });
    // Their terminal is told just after the session starts: telnet's answers, SSH's pty request.
    const isNegotiating =
      session.transport === 'telnet' || session.transport === 'ws_telnet' || session.transport === 'ssh';
    if (!isNegotiating || this.#isTerminalKnown()) this.#writeHeader();
    else this.#headerTimer = setTimeout(() => this.#writeHeader(), HEADER_WAIT_MS).unref();
  }

  get #logger(): Logger {
    this.#childLogger ??= this.#parentLogger.child({ session: this.#session.id });
    return this.#childLogger;
  }

  output(text: string): void {
    this.#record('o', text);
  }

  /** A line the user entered, as the keys that typed it: the text, then Enter. */
  input(line: string): void {
    this.#record('i', `${line}\r`);
  }

  /** The client's terminal changed: a new size is a resize event (or, before the header, goes into it). */
  resize(terminal: TerminalSummary): void {
    if (this.#held !== undefined) {
      this.#cols = terminal.cols ?? this.#cols;
      this.#rows = terminal.rows ?? this.#rows;
      this.#type = terminal.type ?? this.#type;
      if (this.#isTerminalKnown()) this.#writeHeader();
      return;
    }
    const { cols, rows } = terminal;
    const isSame = cols === (this.#cols ?? DEFAULT_COLS) && rows === (this.#rows ?? DEFAULT_ROWS);
    if (cols === undefined || rows === undefined || isSame) return;
    this.#cols = cols;
    this.#rows = rows;
    this.#record('r', `${cols}x${rows}`);
  }

  /** Writes what is held and closes the file; resolves once it is closed. */
  close(): Promise<void> {
    if (this.#held !== undefined) this.#writeHeader();
    if (this.#state === 'recording' && this.#noteDropped(this.#now())) this.#finish();
    return this.#closed;
  }

  #record(code: EventCode, data: string): void {
    if (this.#state !== 'recording') return;
    // A lone surrogate cannot be encoded: the client got U+FFFD for it, and readers that decode
    // the JSON to UTF-8 (asciinema) fail on it.
    const text = (data as WellFormable).toWellFormed();
    const at = this.#now();
    if (this.#held !== undefined) {
      this.#held.push({ at, code, data: text });
      this.#heldBytes += text.length;
      if (this.#heldBytes >= MAX_PENDING_BYTES) this.#writeHeader();
      return;
    }
    this.#write(at, code, text);
  }

  #write(at: number, code: EventCode, data: string): void {
    if (this.#state !== 'recording') return;
    if (this.#stream.writableLength >= MAX_PENDING_BYTES) {
      this.#dropped++;
      if (!this.#hasWarned) {
        this.#hasWarned = true;
        this.#logger.warn({ file: this.#file }, 'recording: the disk does not keep up; events are dropped and marked');
      }
      return;
    }
    if (this.#noteDropped(at)) this.#append(at, code, data);
  }

  #writeHeader(): void {
    clearTimeout(this.#headerTimer);
    const held = this.#held ?? [];
    this.#held = undefined;
    const line = `${JSON.stringify(this.#header())}\n`;
    this.#put(line, Buffer.byteLength(line), 0);
    for (const event of held) this.#write(event.at, event.code, event.data);
  }

  #header(): object {
    const { server, transport, remoteAddress, remotePort, startedAt } = this.#session;
    const host = remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress;
    const title = `${server} (${transport}) from ${host}:${remotePort}`;
    const timestamp = Math.floor(startedAt / 1000);
    // TERM values are lower case; telnet clients usually send theirs in capitals (RFC 1091).
    const type = this.#type?.toLowerCase();
    const cols = this.#cols ?? DEFAULT_COLS;
    const rows = this.#rows ?? DEFAULT_ROWS;
    if (this.#format === 'v3') return { version: 3, term: { cols, rows, type }, timestamp, title };
    const env = type === undefined ? undefined : { TERM: type };
    return { version: 2, width: cols, height: rows, timestamp, title, env };
  }

  /** Writes the marker for events dropped before `at`, if any; false if the recording was cut there. */
  #noteDropped(at: number): boolean {
    if (this.#dropped === 0) return true;
    const count = this.#dropped;
    this.#dropped = 0;
    return this.#append(at, 'm', `${count} event${count === 1 ? '' : 's'} dropped here: the disk did not keep up`);
  }

  /**
   * Writes one event if it fits within record_max_bytes. One that does not is cut to what fits
   * (output only), followed by a marker saying so, and the file is closed: false.
   */
  #append(at: number, code: EventCode, data: string): boolean {
    const line = this.#line(at, code, data);
    const size = Buffer.byteLength(line);
    const room = this.#maxBytes - CUT_MARKER_ROOM - this.#bytes;
    if (size <= room) {
      this.#put(line, size, at);
      return true;
    }
    if (code === 'o') {
      const part = longestFitting(data, room - Buffer.byteLength(this.#line(at, code, '')));
      if (part !== '') {
        const cut = this.#line(at, code, part);
        this.#put(cut, Buffer.byteLength(cut), at);
      }
    }
    const marker = this.#line(at, 'm', `recording cut here: it reached record_max_bytes (${this.#maxBytes})`);
    this.#put(marker, Buffer.byteLength(marker), at);
    this.#finish();
    return false;
  }

  /** One event line: v2 times events from the start, v3 from the event before. */
  #line(at: number, code: EventCode, data: string): string {
    const time = this.#format === 'v3' ? at - this.#lastAt : at;
    // As JSON.stringify([time / 1e6, code, data]) writes it, without the array.
    return `[${time / 1e6},"${code}",${JSON.stringify(data)}]\n`;
  }

  #put(line: string, size: number, at: number): void {
    if (this.#state !== 'recording') return;
    this.#stream.write(line);
    this.#bytes += size;
    this.#lastAt = at;
  }

  #finish(): void {
    this.#state = 'ended';
    this.#stream.end();
  }

  #isTerminalKnown(): boolean {
    return this.#type !== undefined && this.#cols !== undefined && this.#rows !== undefined;
  }

  /** Microseconds since the recording started. */
  #now(): number {
    return Math.round((performance.now() - this.#start) * 1000);
  }
}

/** The file name of `session`'s recording. */
function fileName(session: SessionInfo): string {
  const start = new Date(session.startedAt).toISOString().slice(0, 19).replaceAll(':', '-');
  return `${start}Z-${session.id}.cast`;
}

/** The session and start time in one of our file names, or undefined for any other name. */
function parseFileName(file: string): { sessionId: string; startedAt: number } | undefined {
  const match = FILE_NAME.exec(file);
  if (match === null) return undefined;
  const [, date, hours, minutes, seconds, sessionId] = match;
  return { sessionId: sessionId!, startedAt: Date.parse(`${date}T${hours}:${minutes}:${seconds}Z`) };
}

/**
 * The longest start of `text` whose JSON string body takes at most `bytes` bytes in UTF-8,
 * never ending between the halves of a surrogate pair. Linear: it runs once per cut recording,
 * but on the session's turn.
 */
function longestFitting(text: string, bytes: number): string {
  let used = 0;
  let i = 0;
  while (i < text.length) {
    const unit = text.charCodeAt(i);
    const isPair = unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length;
    const size = isPair ? 4 : jsonBytes(unit);
    if (used + size > bytes) break;
    used += size;
    i += isPair ? 2 : 1;
  }
  return text.slice(0, i);
}

/** Bytes JSON.stringify writes for one UTF-16 unit (not a surrogate), in UTF-8. */
function jsonBytes(unit: number): number {
  if (unit === 0x22 || unit === 0x5c) return 2;
  // \b \t \n \f \r have two-character escapes; other controls are \u00XX.
  if (unit < 0x20) return unit === 0x08 || unit === 0x09 || unit === 0x0a || unit === 0x0c || unit === 0x0d ? 2 : 6;
  if (unit < 0x80) return 1;
  return unit < 0x800 ? 2 : 3;
}
