// LineHandler: a handler that works in whole lines; telnet clients keep their own line editing.
import { BaseHandler } from './base-handler.js';

/**
 * Line-at-a-time handler: override processLine (or onCommandSubmitted).
 * On telnet the client edits and echoes the line itself, as for a shell over telnet.
 */
export class LineHandler extends BaseHandler {
  static override readonly inputMode = 'line' as const;
}
