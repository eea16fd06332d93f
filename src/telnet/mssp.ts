// MSSP, the Mud Server Status Protocol (telnet option 70), and its plain-text form for crawlers that do not negotiate.

import { MSSP_VAL, MSSP_VAR, OPT_MSSP } from './constants.js';
import { subnegotiation } from './encoder.js';

/** MSSP variables by name; a list sends one VAL per item (e.g. several PORTs). */
export type MsspVariables = Record<string, string | number | boolean | readonly (string | number)[]>;

/** What a crawler that does not negotiate types to ask for the plain-text reply. */
export const MSSP_REQUEST = 'MSSP-REQUEST';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** IAC SB MSSP <VAR name VAL value …> IAC SE. Throws a TypeError on text holding MSSP's marker bytes. */
export function encodeMssp(variables: MsspVariables): Buffer {
  const out: number[] = [];
  for (const [name, value] of Object.entries(variables)) {
    out.push(MSSP_VAR, ...textBytes(name));
    for (const item of valuesOf(value)) out.push(MSSP_VAL, ...textBytes(item));
  }
  return subnegotiation(OPT_MSSP, Uint8Array.from(out));
}

/** Reads an MSSP payload into variables, each with its list of values; never throws. */
export function parseMssp(payload: Uint8Array): Record<string, string[]> {
  const variables = Object.create(null) as Record<string, string[]>;
  let name: string | undefined;
  let i = 0;
  while (i < payload.length) {
    const marker = payload[i++]!;
    let end = i;
    while (end < payload.length && payload[end] !== MSSP_VAR && payload[end] !== MSSP_VAL) end++;
    const text = utf8.decode(payload.subarray(i, end));
    i = end;
    if (marker === MSSP_VAR) {
      name = text;
      variables[name] ??= [];
    } else if (marker === MSSP_VAL && name !== undefined) {
      variables[name]!.push(text);
    }
  }
  return variables;
}

/** The plain-text reply to MSSP-REQUEST: a line per variable, name and values separated by tabs. */
export function msspPlainText(variables: MsspVariables): string {
  const lines = Object.entries(variables).map(([name, value]) => [name, ...valuesOf(value)].join('\t'));
  return `\r\nMSSP-REPLY-START\r\n${lines.join('\r\n')}\r\nMSSP-REPLY-END\r\n`;
}

function valuesOf(value: MsspVariables[string]): string[] {
  if (Array.isArray(value)) return (value as readonly (string | number)[]).map(String);
  if (typeof value === 'boolean') return [value ? '1' : '0'];
  return [String(value)];
}

function textBytes(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.includes(MSSP_VAR) || bytes.includes(MSSP_VAL) || bytes.includes(0)) {
    throw new TypeError(`MSSP text may not contain bytes 0-2: ${JSON.stringify(text)}`);
  }
  return bytes;
}
