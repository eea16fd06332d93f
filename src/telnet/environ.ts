// NEW-ENVIRON subnegotiation: SEND request out, IS/INFO variable lists in (RFC 1572).

import { ENV_ESC, ENV_INFO, ENV_IS, ENV_SEND, ENV_USERVAR, ENV_VALUE, ENV_VAR, OPT_NEW_ENVIRON } from './constants.js';
import { subnegotiation } from './encoder.js';

/** Variables a client reported: 'is' answers our SEND, 'info' is an unprompted update. */
export interface EnvironmentReport {
  kind: 'is' | 'info';
  /** Defined variables by name (VAR and USERVAR alike); a variable sent without VALUE is left out. */
  vars: Record<string, string>;
}

// RFC 1572's well-known variables, then the ones terminals commonly export.
const WELL_KNOWN_VARS = ['USER', 'DISPLAY', 'SYSTEMTYPE'];
const COMMON_USERVARS = ['LANG', 'LC_ALL', 'LC_CTYPE', 'TERM', 'COLORTERM'];

/**
 * IAC SB NEW-ENVIRON SEND <names> VAR USERVAR IAC SE: the variables by name, then (a bare VAR and
 * USERVAR, RFC 1572 section 2) any others the client wants to give. `withUser: false` leaves USER
 * out, for Microsoft's telnet.exe, which crashes when asked for it.
 */
export function requestEnvironment(withUser = true): Buffer {
  const payload = [ENV_SEND];
  for (const name of WELL_KNOWN_VARS) if (withUser || name !== 'USER') payload.push(ENV_VAR, ...Buffer.from(name));
  for (const name of COMMON_USERVARS) payload.push(ENV_USERVAR, ...Buffer.from(name));
  payload.push(ENV_VAR, ENV_USERVAR);
  return subnegotiation(OPT_NEW_ENVIRON, payload);
}

/**
 * Whether terminal-type names are Microsoft's telnet.exe, which answers ANSI then VT100
 * (telnetlib3 issue 24); asking it for the environment must wait for the second name.
 */
export function isWindowsTelnet(names: readonly string[]): boolean | undefined {
  const [first, second] = names.map((name) => name.toUpperCase());
  if (first !== 'ANSI') return false;
  return second === undefined ? undefined : second === 'VT100';
}

/** Reads IS or INFO with its VAR/USERVAR/VALUE list, ESC-quoted bytes included; undefined if malformed. */
export function parseEnvironment(payload: Uint8Array): EnvironmentReport | undefined {
  const kind = payload[0] === ENV_IS ? 'is' : payload[0] === ENV_INFO ? 'info' : undefined;
  if (kind === undefined) return undefined;
  // Names come from the peer, so no prototype: "__proto__" must stay a plain key.
  const vars = Object.create(null) as Record<string, string>;
  const decoder = new TextDecoder();
  let name: number[] | undefined;
  let value: number[] | undefined;
  const flush = (): void => {
    if (name !== undefined && value !== undefined) {
      vars[decoder.decode(Uint8Array.from(name))] = decoder.decode(Uint8Array.from(value));
    }
  };
  for (let i = 1; i < payload.length; i++) {
    let byte = payload[i]!;
    if (byte === ENV_VAR || byte === ENV_USERVAR) {
      flush();
      name = [];
      value = undefined;
      continue;
    }
    if (byte === ENV_VALUE) {
      if (name === undefined || value !== undefined) return undefined;
      value = [];
      continue;
    }
    if (byte === ENV_ESC) {
      // ESC quotes the next byte so names and values may contain VAR, VALUE, ESC, USERVAR.
      if (i + 1 >= payload.length) return undefined;
      byte = payload[++i]!;
    }
    if (name === undefined) return undefined;
    (value ?? name).push(byte);
  }
  flush();
  return { kind, vars };
}
