// TelnetHandler: the full-terminal handler; character mode with server echo where the client allows.
import { CharacterHandler } from './character-handler.js';

/**
 * A handler for terminal clients: on telnet it negotiates character mode, echo and window
 * size, and edits the line on the server; on other transports it falls back to line input.
 */
export class TelnetHandler extends CharacterHandler {
  /** Terminal type, window size and echo as a few human-readable lines (for `info` commands). */
  describeTerminal(): string[] {
    const { terminal } = this.session;
    const size =
      terminal.cols !== undefined && terminal.rows !== undefined ? `${terminal.cols}x${terminal.rows}` : 'unknown';
    return [
      `Mode: ${this.session.mode === 'character' ? 'character mode' : 'line mode'}`,
      `Terminal type: ${terminal.type ?? 'unknown'}`,
      `Window size: ${size}`,
      `Server echo: ${this.session.serverEchoes ? 'yes' : 'no'}`,
    ];
  }
}
