// TelnetHandler: the full-terminal handler; character mode with server echo where the client allows.
import { CharacterHandler } from './character-handler.js';

/**
 * A handler for terminal clients: on telnet it negotiates character mode, echo and window
 * size, and edits the line on the server; on other transports it falls back to line input.
 */
export class TelnetHandler extends CharacterHandler {
  /** Terminal type, window size, echo and what else was negotiated, as lines for `info` commands. */
  describeTerminal(): string[] {
    const { terminal } = this.session;
    const size =
      terminal.cols !== undefined && terminal.rows !== undefined ? `${terminal.cols}x${terminal.rows}` : 'unknown';
    const lines = [
      `Mode: ${this.session.mode === 'character' ? 'character mode' : 'line mode'}`,
      `Terminal type: ${terminal.type ?? 'unknown'}`,
      `Window size: ${size}`,
      `Server echo: ${this.session.serverEchoes ? 'yes' : 'no'}`,
    ];
    // Only what the client actually told us: a plain client gets just the four lines above.
    if (terminal.clientName !== undefined && terminal.clientName !== terminal.type) {
      lines.push(`Client: ${terminal.clientName}`);
    }
    if (terminal.mtts !== undefined) lines.push(`MTTS capabilities: ${terminal.mtts}`);
    if (terminal.options.some((option) => option.startsWith('CHARSET'))) lines.push(`Charset: ${terminal.charset}`);
    if (terminal.options.length > 0) lines.push(`Telnet options: ${terminal.options.join(', ')}`);
    const variables = Object.entries(terminal.environment).map(([name, value]) => `${name}=${value}`);
    if (variables.length > 0) lines.push(`Environment: ${variables.join(' ')}`);
    return lines;
  }
}
