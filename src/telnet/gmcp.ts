// GMCP, the Generic Mud Communication Protocol (telnet option 201): "Package.Message <JSON>" in a subnegotiation.

import { OPT_GMCP } from './constants.js';
import { subnegotiation } from './encoder.js';

/** One GMCP message as a client sent it. */
export interface GmcpMessage {
  /** The message name, e.g. "Core.Hello" or "Char.Vitals". */
  message: string;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when there is none. */
  data: unknown;
  /** The body as sent ("" for none). */
  text: string;
  /** Whether the body was JSON (true also for no body). */
  isJson: boolean;
}

/** What a client told us of itself with Core.Hello. */
export interface GmcpClientInfo {
  client: string | undefined;
  version: string | undefined;
}

/** Package names: dot-separated words, as Core.Supports lists them; no spaces or control bytes. */
const MESSAGE_NAME = /^[^\s\x00-\x1f\x7f]+$/;
/** Packages a client may list, bounding what a client can make us keep. */
const MAX_SUPPORTED_PACKAGES = 256;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** IAC SB GMCP <message> SP <JSON> IAC SE; no body when `data` is undefined. Throws a TypeError on a bad name. */
export function encodeGmcp(message: string, data?: unknown): Buffer {
  return subnegotiation(OPT_GMCP, Buffer.from(gmcpText(message, data), 'utf8'));
}

/** "<message> <JSON>", the text of a GMCP message without telnet framing (also a WebSocket text frame). */
export function gmcpText(message: string, data?: unknown): string {
  if (!MESSAGE_NAME.test(message)) {
    throw new TypeError(`GMCP message name must be non-empty without spaces, got ${JSON.stringify(message)}`);
  }
  if (data === undefined) return message;
  const json = JSON.stringify(data);
  // JSON.stringify gives undefined for functions and symbols: sending the name alone would hide the mistake.
  if (json === undefined) throw new TypeError(`GMCP ${message}: data cannot be sent as JSON`);
  return `${message} ${json}`;
}

/** Reads a GMCP payload (telnet-unescaped, or a WebSocket text frame's bytes); never throws. */
export function parseGmcp(payload: Uint8Array | string): GmcpMessage | undefined {
  const whole = typeof payload === 'string' ? payload : utf8.decode(payload);
  const space = whole.search(/\s/);
  const message = space === -1 ? whole : whole.slice(0, space);
  if (message === '') return undefined;
  const text = space === -1 ? '' : whole.slice(space + 1).trim();
  if (text === '') return { message, data: undefined, text, isJson: true };
  try {
    return { message, data: JSON.parse(text) as unknown, text, isJson: true };
  } catch {
    // Clients send bare words too (Mudlet's "Core.Ping"-style bodies, hand-typed tests): the handler decides.
    return { message, data: text, text, isJson: false };
  }
}

/**
 * What a client said of itself in the Core package: its name (Core.Hello) and the packages it
 * supports (Core.Supports.Set/Add/Remove), compared without regard to case as GMCP asks.
 */
export class GmcpCore {
  #client: GmcpClientInfo = { client: undefined, version: undefined };
  /** Package name in lower case to its version. */
  #packages = new Map<string, number>();

  get client(): GmcpClientInfo {
    return this.#client;
  }

  /** Supported packages as "Name version", as the client last listed them. */
  get packages(): string[] {
    return [...this.#packages].map(([name, version]) => `${name} ${version}`);
  }

  /** Applies a Core message; returns whether it was one this class tracks. */
  apply(message: GmcpMessage): boolean {
    switch (message.message.toLowerCase()) {
      case 'core.hello': {
        const data = isRecord(message.data) ? message.data : {};
        this.#client = { client: stringOf(data['client']), version: stringOf(data['version']) };
        return true;
      }
      case 'core.supports.set':
        this.#packages.clear();
        this.#add(message.data);
        return true;
      case 'core.supports.add':
        this.#add(message.data);
        return true;
      case 'core.supports.remove':
        for (const entry of listOf(message.data)) this.#packages.delete(parsePackage(entry)[0]);
        return true;
      default:
        return false;
    }
  }

  /** Whether the client listed `name` ("Char") or a package above it ("Char" for "Char.Vitals"). */
  supports(name: string): boolean {
    const parts = name.toLowerCase().split('.');
    for (let length = parts.length; length > 0; length--) {
      if (this.#packages.has(parts.slice(0, length).join('.'))) return true;
    }
    return false;
  }

  #add(data: unknown): void {
    for (const entry of listOf(data)) {
      const [name, version] = parsePackage(entry);
      if (name === '' || (this.#packages.size >= MAX_SUPPORTED_PACKAGES && !this.#packages.has(name))) continue;
      this.#packages.set(name, version);
    }
  }
}

/** "Char.Skills 1" → ["char.skills", 1]; a missing or bad version counts as 1. */
function parsePackage(entry: string): [string, number] {
  const [name = '', version] = entry.trim().split(/\s+/);
  const number = Number(version);
  return [name.toLowerCase(), Number.isInteger(number) && number > 0 ? number : 1];
}

function listOf(data: unknown): string[] {
  return Array.isArray(data) ? data.filter((entry): entry is string => typeof entry === 'string') : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}
