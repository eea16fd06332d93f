// Fault suite: clients at the byte level — raw WebSocket upgrades and frames (RFC 6455), a telnet terminal (RFC 854).
import { randomBytes } from 'node:crypto';
import net from 'node:net';

import { DO, IAC, OPT_NAWS, OPT_TTYPE, SB, SE, TTYPE_IS, WILL, WONT } from '../../src/telnet/constants.js';
import { TelnetDecoder } from '../../src/telnet/decoder.js';
import { negotiate, subnegotiation } from '../../src/telnet/encoder.js';

/** WebSocket opcodes (RFC 6455 section 5.2). */
export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** How to build one frame; every field may be wrong on purpose. */
export interface FrameOptions {
  opcode?: number;
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (4 = RSV1). */
  rsv?: number;
  /** Client frames must be masked (section 5.3); false sends one unmasked. */
  mask?: boolean;
  /** The payload length the header announces, when it should differ from the payload sent. */
  announcedLength?: bigint;
}

/** One WebSocket frame as a client sends it. */
export function wsFrame(payload: Uint8Array | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const { opcode = OPCODE.text, fin = true, rsv = 0, mask = true } = options;
  const length = options.announcedLength ?? BigInt(data.length);
  const maskBit = mask ? 0x80 : 0;
  let header: Buffer;
  if (length < 126n) {
    header = Buffer.from([0, maskBit | Number(length)]);
  } else if (length < 65536n) {
    header = Buffer.alloc(4);
    header[1] = maskBit | 126;
    header.writeUInt16BE(Number(length), 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(length, 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) masked[i] = data[i]! ^ key[i & 3]!;
  return Buffer.concat([header, key, masked]);
}

/** A frame the server sent. */
export interface ServerFrame {
  opcode: number;
  fin: boolean;
  payload: Buffer;
}

/** Splits the server's byte stream into frames; a frame cut between chunks waits for the rest. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ServerFrame[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: ServerFrame[] = [];
    for (;;) {
      const buffer = this.#pending;
      if (buffer.length < 2) break;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      // Servers never mask (section 5.1); a masked frame would be a server bug, read it anyway.
      if (buffer[1]! & 0x80) offset += 4;
      if (buffer.length < offset + length) break;
      frames.push({
        opcode: buffer[0]! & 0xf,
        fin: (buffer[0]! & 0x80) !== 0,
        payload: buffer.subarray(offset, offset + length),
      });
      this.#pending = buffer.subarray(offset + length);
    }
    return frames;
  }
}

/** The status code of a close frame's payload; undefined when it carries none. */
export function closeCode(frame: ServerFrame): number | undefined {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
}

/** A socket upgraded to WebSocket by hand, and whatever the server sent after its 101 response. */
export interface Upgraded {
  socket: net.Socket;
  rest: Buffer;
}

/**
 * Connects to 127.0.0.1:`port` and upgrades `path` with a hand-written request, so that
 * frames after it can be anything. Rejects on any status but 101, or after `timeoutMs`.
 */
export function upgrade(port: number, path: string, timeoutMs = 5000): Promise<Upgraded> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(new Error(`no upgrade response from port ${port} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.on('error', fail);
    socket.once('close', () => fail(new Error(`port ${port} closed during the upgrade`)));
    socket.once('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) return;
      const status = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(status)) return fail(new Error(`upgrade refused: ${status}`));
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.removeAllListeners('close');
      // The caller adds its own listeners; until then nothing may be lost.
      socket.pause();
      resolve({ socket, rest: received.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
}

/**
 * A telnet client that answers like a terminal: it agrees to what the server offers, reports
 * XTERM-256COLOR and its window size, and refuses the rest. Text comes out decoded.
 */
export class TelnetTerminal {
  #decoder = new TelnetDecoder();
  #text = new TextDecoder();
  #size: [number, number];

  constructor(size: [number, number] = [80, 24]) {
    this.#size = size;
  }

  /** Decodes server bytes: the text they carry, and the replies to send back. */
  push(bytes: Uint8Array): { text: string; replies: Buffer[] } {
    let text = '';
    const replies: Buffer[] = [];
    for (const event of this.#decoder.push(bytes)) {
      if (event.type === 'data') text += this.#text.decode(event.bytes, { stream: true });
      else if (event.type === 'negotiate') replies.push(...this.#answer(event.verb, event.option));
      else if (event.type === 'subnegotiation' && event.option === OPT_TTYPE) {
        replies.push(subnegotiation(OPT_TTYPE, Uint8Array.of(TTYPE_IS, ...Buffer.from('XTERM-256COLOR'))));
      }
    }
    return { text, replies };
  }

  #answer(verb: number, option: number): Buffer[] {
    if (verb === DO && option === OPT_NAWS) {
      const [cols, rows] = this.#size;
      return [negotiate(WILL, option), Buffer.from([IAC, SB, OPT_NAWS, 0, cols, 0, rows, IAC, SE])];
    }
    if (verb === DO && option === OPT_TTYPE) return [negotiate(WILL, option)];
    if (verb === DO) return [negotiate(WONT, option)];
    // The server performs echo and the rest itself: a terminal lets it.
    if (verb === WILL) return [negotiate(DO, option)];
    // DONT and WONT only confirm what was refused or switched off: nothing to say back.
    return [];
  }
}
