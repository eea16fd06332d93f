// Test support: a scripted MUD client over telnet or ws_telnet that agrees to GMCP, MSDP, MSSP,
// MCCP2 and MCCP3 as asked, inflates what the server compresses and compresses what it sends.
import net from 'node:net';
import tls from 'node:tls';
import { constants, createDeflate, createInflate } from 'node:zlib';
import type { Deflate, Inflate } from 'node:zlib';

import { WebSocket } from 'ws';

import {
  DO,
  DONT,
  OPT_GMCP,
  OPT_MCCP2,
  OPT_MCCP3,
  OPT_MSDP,
  OPT_MSSP,
  OPT_TTYPE,
  TTYPE_IS,
  WILL,
  WONT,
} from '../../src/telnet/constants.js';
import { TelnetDecoder } from '../../src/telnet/decoder.js';
import type { TelnetSink } from '../../src/telnet/decoder.js';
import { escapeIac, negotiate, subnegotiation } from '../../src/telnet/encoder.js';
import { parseGmcp } from '../../src/telnet/gmcp.js';
import type { GmcpMessage } from '../../src/telnet/gmcp.js';
import { parseMsdp } from '../../src/telnet/msdp.js';
import type { MsdpVariables } from '../../src/telnet/msdp.js';
import { parseMssp } from '../../src/telnet/mssp.js';
import { until } from './received-text.js';

/** The MUD options a scripted client agrees to when the server offers them. */
export type MudOption = 'gmcp' | 'msdp' | 'mssp' | 'mccp2' | 'mccp3';

const OPTIONS: Record<MudOption, number> = {
  gmcp: OPT_GMCP,
  msdp: OPT_MSDP,
  mssp: OPT_MSSP,
  mccp2: OPT_MCCP2,
  mccp3: OPT_MCCP3,
};

/** Characters of the latest text kept for waitForEnding. */
const TAIL_KEPT = 64;

export interface MudClientOptions {
  transport: 'telnet' | 'ws_telnet';
  port: number;
  path?: string;
  accept: readonly MudOption[];
  /** The terminal type sent when asked; a MUD client name keeps echo with the client. */
  terminalType?: string;
  /** Telnet over TLS (telnets). */
  isTls?: boolean;
  /** Keep the text received in `text` (default); a bench counts it and keeps only the tail. */
  keepText?: boolean;
}

/** A scripted MUD client: what it received, decoded, and ways to send. */
export class MudClient implements TelnetSink {
  text = '';
  /** Bytes of text received (after inflating), counted even when `text` is not kept. */
  textBytes = 0;
  /** The last bytes of text received, for waiting on an ending without scanning `text`. */
  #tail = '';
  readonly gmcp: GmcpMessage[] = [];
  readonly msdp: MsdpVariables[] = [];
  readonly mssp: Record<string, string[]>[] = [];
  /** Options the server offered (WILL), by number. */
  readonly offered = new Set<number>();
  /** Whether the server's output is being inflated (it started MCCP2). */
  isInflating = false;
  /** Raw bytes received before and after inflating, for the compression ratio. */
  wireBytes = 0;
  closed = false;
  readonly #options: MudClientOptions;
  readonly #decoder = new TelnetDecoder();
  #inflate: Inflate | undefined;
  #deflate: Deflate | undefined;
  #send!: (bytes: Uint8Array) => void;
  #close!: () => void;

  private constructor(options: MudClientOptions) {
    this.#options = options;
  }

  static async connect(options: MudClientOptions): Promise<MudClient> {
    const client = new MudClient(options);
    await client.#open();
    return client;
  }

  /** Types a line (compressed once MCCP3 has started). */
  sendLine(line: string): void {
    this.#write(escapeIac(Buffer.from(`${line}\r\n`, 'utf8')));
  }

  sendGmcp(text: string): void {
    this.#write(subnegotiation(OPT_GMCP, Buffer.from(text, 'utf8')));
  }

  sendMsdp(payload: Uint8Array): void {
    this.#write(subnegotiation(OPT_MSDP, payload));
  }

  /** Sends raw bytes, past any compression: to corrupt the stream on purpose. */
  sendRaw(bytes: Uint8Array): void {
    this.#send(bytes);
  }

  async waitForText(text: string, timeoutMs = 5000): Promise<void> {
    try {
      await until(() => this.text.includes(text), `text ${JSON.stringify(text)}`, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; received: ${JSON.stringify(this.text)}`);
    }
  }

  /** Waits until the text received so far ends with `ending` (the text itself need not be kept). */
  async waitForEnding(ending: string, timeoutMs = 5000): Promise<void> {
    await until(() => this.#tail.endsWith(ending), `text ending ${JSON.stringify(ending)}`, timeoutMs);
  }

  async waitForGmcp(message: string, timeoutMs = 5000): Promise<GmcpMessage> {
    await until(() => this.gmcp.some((found) => found.message === message), `GMCP ${message}`, timeoutMs);
    return this.gmcp.findLast((found) => found.message === message)!;
  }

  async waitUntil(what: string, isDone: () => boolean, timeoutMs = 5000): Promise<void> {
    await until(isDone, what, timeoutMs);
  }

  close(): void {
    this.#close();
  }

  onData(bytes: Uint8Array): void {
    const text = Buffer.from(bytes).toString('utf8');
    this.textBytes += bytes.length;
    this.#tail = (this.#tail + text).slice(-TAIL_KEPT);
    if (this.#options.keepText !== false) this.text += text;
  }

  onCommand(): void {}

  onNegotiate(verb: number, option: number): void {
    if (verb === WILL) {
      this.offered.add(option);
      const wanted = Object.entries(OPTIONS).some(
        ([name, number]) => number === option && this.#options.accept.includes(name as MudOption),
      );
      this.#write(negotiate(wanted ? DO : DONT, option));
      if (wanted && option === OPT_MCCP3) {
        // MCCP3: the client's stream starts after its own IAC SB MCCP3 IAC SE.
        this.#write(subnegotiation(OPT_MCCP3, []));
        this.#deflate = createDeflate();
        this.#deflate.on('data', (chunk: Buffer) => this.#send(chunk));
      }
    } else if (verb === DO) {
      this.#write(negotiate(option === OPT_TTYPE && this.#options.terminalType !== undefined ? WILL : WONT, option));
    }
  }

  onSubnegotiation(option: number, payload: Uint8Array): void {
    if (option === OPT_TTYPE && this.#options.terminalType !== undefined) {
      this.#write(subnegotiation(OPT_TTYPE, [TTYPE_IS, ...Buffer.from(this.#options.terminalType)]));
    } else if (option === OPT_GMCP) {
      const message = parseGmcp(payload);
      if (message !== undefined) this.gmcp.push(message);
    } else if (option === OPT_MSDP) {
      this.msdp.push({ ...parseMsdp(payload) });
    } else if (option === OPT_MSSP) {
      this.mssp.push({ ...parseMssp(payload) });
    } else if (option === OPT_MCCP2 && this.#inflate === undefined) {
      this.#decoder.stop();
      this.isInflating = true;
    }
  }

  onOverflow(): void {}

  #write(bytes: Uint8Array): void {
    if (this.#deflate === undefined) {
      this.#send(bytes);
      return;
    }
    this.#deflate.write(bytes);
    this.#deflate.flush(constants.Z_SYNC_FLUSH);
  }

  #receive(bytes: Uint8Array): void {
    this.wireBytes += bytes.length;
    if (this.#inflate !== undefined) {
      this.#inflate.write(bytes);
      return;
    }
    this.#decode(bytes);
  }

  #decode(bytes: Uint8Array): void {
    const read = this.#decoder.decode(bytes, this);
    if (!this.isInflating) return;
    // The server's IAC SB MCCP2 IAC SE: everything after it is one zlib stream.
    this.#inflate = createInflate();
    this.#inflate.on('data', (chunk: Buffer) => this.#decoder.decode(chunk, this));
    this.#inflate.on('error', () => undefined);
    this.#inflate.write(bytes.subarray(read));
  }

  async #open(): Promise<void> {
    const { transport, port } = this.#options;
    if (transport === 'telnet') {
      const isTls = this.#options.isTls === true;
      const socket = isTls
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
        : net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) =>
        socket.once(isTls ? 'secureConnect' : 'connect', resolve).once('error', reject),
      );
      socket.on('data', (bytes) => this.#receive(bytes));
      socket.on('close', () => (this.closed = true));
      socket.on('error', () => undefined);
      this.#send = (bytes) => void socket.write(bytes);
      this.#close = () => socket.destroy();
      return;
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}${this.#options.path ?? '/ws_telnet'}`);
    // Frames can arrive with the handshake's answer, before an await after 'open' resumes.
    ws.on('message', (data: Buffer) => this.#receive(data));
    ws.on('close', () => (this.closed = true));
    this.#send = (bytes) => ws.send(bytes, { binary: true });
    this.#close = () => ws.terminate();
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.on('error', () => undefined);
  }
}
