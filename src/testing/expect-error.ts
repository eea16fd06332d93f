// The error of a test client's expect(): what was awaited, why it failed, and what did arrive.
import { ProtocolServerError } from '../errors.js';

/** Why an expect() failed: its time ran out, or the connection closed first. */
export type ExpectFailure = 'timeout' | 'closed';

/** How much of what arrived a message shows: the tail, where the answer usually is. */
const SHOWN_CHARACTERS = 600;

/**
 * An expect() that failed; the message shows, escaped, exactly what arrived since the last
 * match (its tail when long). `code` is ERR_EXPECT_TIMEOUT or ERR_EXPECT_CLOSED.
 */
export class ExpectError extends ProtocolServerError {
  override readonly code: string;

  constructor(
    readonly pattern: string | RegExp,
    readonly failure: ExpectFailure,
    /** Everything that arrived since the last match, and had no match. */
    readonly received: string,
    context: { transport: string; timeoutMs: number; closeCode?: number | undefined },
  ) {
    const awaited = `expect(${typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern)})`;
    const why =
      failure === 'timeout'
        ? `timed out after ${context.timeoutMs} ms on the ${context.transport} client`
        : `failed: the ${context.transport} connection closed${context.closeCode === undefined ? '' : ` (code ${context.closeCode})`} before it arrived`;
    super(`${awaited} ${why}; received since the last match: ${describeReceived(received)}`);
    this.code = failure === 'timeout' ? 'ERR_EXPECT_TIMEOUT' : 'ERR_EXPECT_CLOSED';
  }
}

/** `text` escaped as a JSON string, cut to its tail when long. */
function describeReceived(text: string): string {
  if (text === '') return 'nothing';
  if (text.length <= SHOWN_CHARACTERS) return JSON.stringify(text);
  return `${text.length} characters, the last ${SHOWN_CHARACTERS}: …${JSON.stringify(text.slice(-SHOWN_CHARACTERS))}`;
}
