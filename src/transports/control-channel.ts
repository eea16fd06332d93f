// The control channel of our own WebSocket subprotocols: JSON messages beside the session's data
// (docs/transports.md, "The control channel"). Pure: no sockets.
import type { ControlMessage, TerminalFacts } from './connection.js';

/** Plain text in text messages, as plain.mudstandards.org, and control in binary messages. */
export const TEXT_CONTROL_SUBPROTOCOL = 'text.chuk-protocol-server';
/** Telnet in binary messages, as telnet.mudstandards.org, and control in text messages. */
export const TELNET_CONTROL_SUBPROTOCOL = 'telnet.chuk-protocol-server';

/** The query parameter of the WebSocket URL that carries a resume token; it never reaches the session's query. */
export const RESUME_PARAMETER = 'resume';

/** Largest window a client may report, as NAWS can carry it. */
const MAX_SIZE = 0xffff;

/** The message type that carries control under `protocol` (the one its data does not use); undefined for none. */
export function controlMessageType(protocol: string): 'text' | 'binary' | undefined {
  if (protocol === TEXT_CONTROL_SUBPROTOCOL) return 'binary';
  if (protocol === TELNET_CONTROL_SUBPROTOCOL) return 'text';
  return undefined;
}

/** A control message as it goes on the wire. */
export function encodeControl(message: ControlMessage): string {
  return JSON.stringify(message);
}

/**
 * What a client's control message tells of its terminal. Unknown types and malformed messages
 * are ignored rather than ending the session: a newer page may send what this server does not know.
 */
export function parseControl(text: string): TerminalFacts | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null) return undefined;
  const { type, cols, rows } = message as Record<string, unknown>;
  if (type === 'size' && isSize(cols) && isSize(rows)) return { cols, rows };
  return undefined;
}

function isSize(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) <= MAX_SIZE;
}
