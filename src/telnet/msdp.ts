// MSDP, the Mud Server Data Protocol (telnet option 69): typeless variables, tables and arrays.

import {
  MSDP_ARRAY_CLOSE,
  MSDP_ARRAY_OPEN,
  MSDP_TABLE_CLOSE,
  MSDP_TABLE_OPEN,
  MSDP_VAL,
  MSDP_VAR,
  OPT_MSDP,
} from './constants.js';
import { subnegotiation } from './encoder.js';

/** An MSDP value: text (numbers and booleans are sent as text), an array, or a table. */
export type MsdpValue = string | number | boolean | readonly MsdpValue[] | { readonly [name: string]: MsdpValue };

/** Variables by name; what a client sends arrives as strings, arrays and tables only. */
export type MsdpVariables = Record<string, MsdpValue>;

/** The commands a client sends as MSDP variables (MSDP specification, "Commands"). */
export const MSDP_COMMANDS = ['LIST', 'REPORT', 'RESET', 'SEND', 'UNREPORT'] as const;
export type MsdpCommand = (typeof MSDP_COMMANDS)[number];

/** Tables and arrays nested deeper than this are dropped: a peer cannot make parsing recurse without end. */
const MAX_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** IAC SB MSDP <VAR name VAL value …> IAC SE. Throws a TypeError on a value MSDP cannot carry. */
export function encodeMsdp(variables: MsdpVariables): Buffer {
  const out: number[] = [];
  for (const [name, value] of Object.entries(variables)) {
    out.push(MSDP_VAR, ...textBytes(name, name));
    out.push(MSDP_VAL);
    writeValue(value, out, name, 0);
  }
  return subnegotiation(OPT_MSDP, Uint8Array.from(out));
}

/**
 * Reads an MSDP payload (telnet-unescaped) into variables; a VAR with several VALs becomes an
 * array, as commands such as REPORT send them. Never throws; malformed parts are skipped.
 */
export function parseMsdp(payload: Uint8Array): MsdpVariables {
  const reader = new Reader(payload);
  const variables = emptyTable();
  reader.readPairs(variables, undefined, 0);
  return variables;
}

/** The commands among `variables` with their arguments, e.g. REPORT ["HEALTH", "MANA"]. */
export function msdpCommands(variables: MsdpVariables): { command: MsdpCommand; names: string[] }[] {
  const found: { command: MsdpCommand; names: string[] }[] = [];
  for (const command of MSDP_COMMANDS) {
    if (!Object.hasOwn(variables, command)) continue;
    const value = variables[command]!;
    const list = Array.isArray(value) ? (value as readonly MsdpValue[]) : [value];
    found.push({ command, names: list.filter((name): name is string => typeof name === 'string' && name !== '') });
  }
  return found;
}

function writeValue(value: MsdpValue, out: number[], at: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new TypeError(`MSDP ${at}: nested deeper than ${MAX_DEPTH}`);
  if (typeof value === 'string') {
    out.push(...textBytes(value, at));
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`MSDP ${at}: ${value} is not a finite number`);
    out.push(...textBytes(String(value), at));
  } else if (typeof value === 'boolean') {
    out.push(value ? 0x31 : 0x30);
  } else if (Array.isArray(value)) {
    out.push(MSDP_ARRAY_OPEN);
    for (const item of value as readonly MsdpValue[]) {
      out.push(MSDP_VAL);
      writeValue(item, out, at, depth + 1);
    }
    out.push(MSDP_ARRAY_CLOSE);
  } else if (value !== null && typeof value === 'object') {
    out.push(MSDP_TABLE_OPEN);
    for (const [name, item] of Object.entries(value)) {
      out.push(MSDP_VAR, ...textBytes(name, `${at}.${name}`), MSDP_VAL);
      writeValue(item, out, `${at}.${name}`, depth + 1);
    }
    out.push(MSDP_TABLE_CLOSE);
  } else {
    throw new TypeError(`MSDP ${at}: cannot send ${value === null ? 'null' : typeof value}`);
  }
}

function textBytes(text: string, at: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  // Bytes 1-6 are MSDP's own markers and NUL ends strings in most MUD clients.
  for (const byte of bytes) {
    if (byte <= MSDP_ARRAY_CLOSE) throw new TypeError(`MSDP ${at}: text may not contain bytes 0-6`);
  }
  return bytes;
}

/** Names come from the peer, so no prototype: "__proto__" must stay a plain key. */
function emptyTable(): Record<string, MsdpValue> {
  return Object.create(null) as Record<string, MsdpValue>;
}

class Reader {
  #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** VAR name VAL value … into `table`, up to `close` (or the end; none at the top level). */
  readPairs(table: Record<string, MsdpValue>, close: number | undefined, depth: number): void {
    const bytes = this.#bytes;
    while (this.#at < bytes.length) {
      const byte = bytes[this.#at]!;
      if (byte === close) {
        this.#at++;
        return;
      }
      if (byte !== MSDP_VAR) {
        this.#skipOne(depth);
        continue;
      }
      this.#at++;
      const name = this.#text();
      const values: MsdpValue[] = [];
      while (bytes[this.#at] === MSDP_VAL) {
        this.#at++;
        const value = this.#value(depth);
        if (value !== undefined) values.push(value);
      }
      table[name] = values.length === 0 ? '' : values.length === 1 ? values[0]! : values;
    }
  }

  #value(depth: number): MsdpValue | undefined {
    const byte = this.#bytes[this.#at];
    if (byte === MSDP_TABLE_OPEN || byte === MSDP_ARRAY_OPEN) {
      this.#at++;
      if (depth >= MAX_DEPTH) {
        this.#skipNested();
        return undefined;
      }
      if (byte === MSDP_TABLE_OPEN) {
        const table = emptyTable();
        this.readPairs(table, MSDP_TABLE_CLOSE, depth + 1);
        return table;
      }
      return this.#array(depth + 1);
    }
    return this.#text();
  }

  #array(depth: number): MsdpValue[] {
    const bytes = this.#bytes;
    const items: MsdpValue[] = [];
    while (this.#at < bytes.length) {
      const byte = bytes[this.#at]!;
      if (byte === MSDP_ARRAY_CLOSE) {
        this.#at++;
        break;
      }
      if (byte !== MSDP_VAL) {
        this.#skipOne(depth);
        continue;
      }
      this.#at++;
      const value = this.#value(depth);
      if (value !== undefined) items.push(value);
    }
    return items;
  }

  /** Text up to the next marker byte. */
  #text(): string {
    const bytes = this.#bytes;
    const start = this.#at;
    while (this.#at < bytes.length && bytes[this.#at]! > MSDP_ARRAY_CLOSE) this.#at++;
    return utf8.decode(bytes.subarray(start, this.#at));
  }

  /** Steps over a byte out of place: a stray close, VAL, or text. */
  #skipOne(depth: number): void {
    const byte = this.#bytes[this.#at]!;
    if (byte === MSDP_TABLE_OPEN || byte === MSDP_ARRAY_OPEN) {
      this.#value(depth);
      return;
    }
    this.#at++;
    if (byte > MSDP_ARRAY_CLOSE) this.#text();
  }

  /** Steps over a table or array opened too deep, counting opens and closes. */
  #skipNested(): void {
    const bytes = this.#bytes;
    let level = 1;
    while (this.#at < bytes.length && level > 0) {
      const byte = bytes[this.#at++]!;
      if (byte === MSDP_TABLE_OPEN || byte === MSDP_ARRAY_OPEN) level++;
      else if (byte === MSDP_TABLE_CLOSE || byte === MSDP_ARRAY_CLOSE) level--;
    }
  }
}
