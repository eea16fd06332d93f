// The load generator's clients: each transport spoken as its real client speaks it (nc, a telnet terminal,
// the browser page in text or telnet mode, `ssh -tt`), reduced to the text a screen would show.
import net from 'node:net';

import ssh2 from 'ssh2';

import { WebSocket } from 'ws';
import type { RawData } from 'ws';

import {
  DO,
  DONT,
  OPT_ECHO,
  OPT_NAWS,
  OPT_SGA,
  OPT_TTYPE,
  TTYPE_IS,
  TTYPE_SEND,
  WILL,
  WONT,
} from '../src/telnet/constants.js';
import { TelnetDecoder } from '../src/telnet/decoder.js';
import { negotiate, subnegotiation } from '../src/telnet/encoder.js';
import type { TelnetSink } from '../src/telnet/decoder.js';
import type { TargetAddress } from './load-requests.js';

/** A connected client: lines out, and `onText` for everything the server shows. */
export interface BenchClient {
  /** Sends lines as the client would on Enter: one write for tcp and telnet, one message per line on WebSocket. */
  sendLines(lines: readonly string[]): void;
  close(): void;
}

export interface ClientEvents {
  onText(text: string): void;
  /** The connection ended without `close()`: an error, or the server closed it. */
  onLost(error: Error | undefined): void;
}

const HOST = '127.0.0.1';
const TERMINAL_TYPE = 'xterm-256color';
const WINDOW = { cols: 80, rows: 24 };

/** Connects; resolves once the transport is open (TCP connected, WebSocket upgraded). */
export function connectClient(target: TargetAddress, events: ClientEvents): Promise<BenchClient> {
  if (target.protocol === 'ssh') return connectSsh(target, events);
  return target.protocol === 'tcp' || target.protocol === 'telnet'
    ? connectSocket(target, events)
    : connectWebSocket(target, events);
}

/** As OpenSSH's `ssh -tt` with no login (the bench's servers let everyone in): a terminal, a shell, Enter's CR. */
function connectSsh(target: TargetAddress, events: ClientEvents): Promise<BenchClient> {
  const client = new ssh2.Client();
  let isOpen = false;
  let isClosing = false;
  return new Promise((resolve, reject) => {
    client.on('error', (error) => {
      if (!isOpen) reject(error);
      else if (!isClosing) events.onLost(error);
      isClosing = true;
    });
    client.on('close', () => {
      if (!isOpen) reject(new Error('closed before the shell opened'));
      else if (!isClosing) events.onLost(undefined);
      isClosing = true;
    });
    client.on('ready', () => {
      client.shell({ term: TERMINAL_TYPE, ...WINDOW, height: 0, width: 0 }, (err, stream) => {
        if (err !== undefined && err !== null) {
          reject(err);
          return;
        }
        isOpen = true;
        stream.on('data', (chunk: Buffer) => events.onText(chunk.toString('latin1')));
        resolve({
          sendLines: (lines) => void stream.write(`${lines.join('\r')}\r`, 'latin1'),
          close: () => {
            isClosing = true;
            client.destroy();
          },
        });
      });
    });
    // Its own socket, for TCP_NODELAY as OpenSSH sets it: ssh2's would leave Nagle on, 40 ms a round trip.
    const sock = net.connect({ port: target.port, host: HOST, noDelay: true });
    client.connect({ sock, username: 'bench', readyTimeout: 10_000 });
  });
}

function connectSocket(target: TargetAddress, events: ClientEvents): Promise<BenchClient> {
  const terminal = target.protocol === 'telnet' ? new TerminalAnswers() : undefined;
  const socket = net.connect({ port: target.port, host: HOST, noDelay: true });
  let isOpen = false;
  let isClosing = false;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      if (terminal === undefined) {
        events.onText(chunk.toString('latin1'));
        return;
      }
      const { text, reply } = terminal.receive(chunk);
      if (reply !== undefined) socket.write(reply);
      if (text !== '') events.onText(text);
    });
    socket.on('error', (error) => {
      if (!isOpen) reject(error);
      else if (!isClosing) events.onLost(error);
      isClosing = true;
    });
    socket.on('close', () => {
      if (isOpen && !isClosing) events.onLost(undefined);
      isClosing = true;
    });
    socket.once('connect', () => {
      isOpen = true;
      resolve({
        sendLines: (lines) => void socket.write(`${lines.join('\r\n')}\r\n`, 'latin1'),
        close: () => {
          isClosing = true;
          socket.destroy();
        },
      });
    });
  });
}

function connectWebSocket(target: TargetAddress, events: ClientEvents): Promise<BenchClient> {
  const terminal = target.protocol === 'ws_telnet' ? new TerminalAnswers() : undefined;
  const ws = new WebSocket(`ws://${HOST}:${target.port}${target.path}`, { perMessageDeflate: false });
  let isOpen = false;
  let isClosing = false;
  return new Promise((resolve, reject) => {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = toBuffer(data);
      if (terminal === undefined || !isBinary) {
        events.onText(bytes.toString(isBinary ? 'latin1' : 'utf8'));
        return;
      }
      const { text, reply } = terminal.receive(bytes);
      if (reply !== undefined) ws.send(reply);
      if (text !== '') events.onText(text);
    });
    ws.on('error', (error) => {
      if (!isOpen) reject(error);
      else if (!isClosing) events.onLost(error);
      isClosing = true;
    });
    ws.on('close', () => {
      if (isOpen && !isClosing) events.onLost(undefined);
      isClosing = true;
    });
    ws.once('open', () => {
      isOpen = true;
      resolve({
        // As web/terminal.js sends: a text message per line, or in telnet mode the line's bytes and CR LF, binary.
        sendLines:
          terminal === undefined
            ? (lines) => {
                for (const line of lines) ws.send(line);
              }
            : (lines) => {
                for (const line of lines) ws.send(Buffer.from(`${line}\r\n`, 'latin1'));
              },
        close: () => {
          isClosing = true;
          ws.terminate();
        },
      });
    });
  });
}

function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/**
 * A terminal's side of telnet negotiation, as xterm's telnet answers (RFC 1073, 1091, 1143): it
 * reports an 80x24 window and its type, lets the server echo and suppress go-ahead, and refuses
 * every other option. A request already in effect gets no answer, so nothing loops.
 *
 * The decoder calls it back directly (no list of events), and plain text costs one string: a load
 * generator slower than the raw servers' clients would cap the ratio it measures.
 */
class TerminalAnswers implements TelnetSink {
  #decoder = new TelnetDecoder();
  /** Options this client performs. */
  #local = new Set<number>();
  /** Options the server performs with this client's agreement. */
  #remote = new Set<number>();
  #text = '';
  #replies: Buffer[] | undefined;

  receive(bytes: Buffer): { text: string; reply: Buffer | undefined } {
    this.#decoder.decode(bytes, this);
    const text = this.#text;
    const replies = this.#replies;
    this.#text = '';
    this.#replies = undefined;
    return { text, reply: replies === undefined ? undefined : Buffer.concat(replies) };
  }

  onData(bytes: Uint8Array): void {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    this.#text = this.#text === '' ? text : this.#text + text;
  }

  onNegotiate(verb: number, option: number): void {
    const answers = this.#answer(verb, option);
    if (answers.length > 0) (this.#replies ??= []).push(...answers);
  }

  onSubnegotiation(option: number, payload: Uint8Array): void {
    if (option !== OPT_TTYPE || payload[0] !== TTYPE_SEND) return;
    const type = subnegotiation(OPT_TTYPE, Buffer.from([TTYPE_IS, ...Buffer.from(TERMINAL_TYPE, 'latin1')]));
    (this.#replies ??= []).push(type);
  }

  onCommand(): void {}

  onOverflow(): void {}

  #answer(verb: number, option: number): Buffer[] {
    switch (verb) {
      case DO:
        if (this.#local.has(option)) return [];
        if (option !== OPT_NAWS && option !== OPT_TTYPE && option !== OPT_SGA) return [negotiate(WONT, option)];
        this.#local.add(option);
        if (option !== OPT_NAWS) return [negotiate(WILL, option)];
        // RFC 1073: the size follows the WILL at once.
        return [negotiate(WILL, option), subnegotiation(OPT_NAWS, [0, WINDOW.cols, 0, WINDOW.rows])];
      case DONT:
        return this.#local.delete(option) ? [negotiate(WONT, option)] : [];
      case WILL:
        if (this.#remote.has(option)) return [];
        if (option !== OPT_ECHO && option !== OPT_SGA) return [negotiate(DONT, option)];
        this.#remote.add(option);
        return [negotiate(DO, option)];
      case WONT:
        return this.#remote.delete(option) ? [negotiate(DONT, option)] : [];
      default:
        return [];
    }
  }
}
