// NAWS window size payload parsing (RFC 1073).

/** Window size reported by the client; 0 in a field means the client does not know it. */
export interface WindowSize {
  cols: number;
  rows: number;
}

/** Reads IAC SB NAWS <w16> <h16> IAC SE from its unescaped payload; undefined unless exactly 4 bytes. */
export function parseNaws(payload: Uint8Array): WindowSize | undefined {
  if (payload.length !== 4) return undefined;
  return { cols: (payload[0]! << 8) | payload[1]!, rows: (payload[2]! << 8) | payload[3]! };
}
