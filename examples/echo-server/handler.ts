// The echo sample: greets, echoes each line, and answers help, info and quit.
import { TelnetHandler } from 'chuk-protocol-server';

const HELP = [
  'Available commands:',
  '  help  - show this list',
  '  info  - show details of this connection',
  '  quit  - disconnect (also exit, q)',
].join('\n');

// Each answer is one sendLine (newlines in it become CR LF), returned rather than awaited: the
// session waits for it all the same, and a line whose answer is written at once costs no
// promise of its own (docs/performance.md). An async method with awaits works just as well.
export class EchoTelnetHandler extends TelnetHandler {
  override sendWelcome(): Promise<void> {
    const welcome = this.welcomeMessage ?? 'Welcome to the Echo Server!';
    return this.sendLine(
      [welcome, '-'.repeat(40), "Type 'help' for available commands.", "Type 'quit' to disconnect."].join('\n'),
    );
  }

  override onCommandSubmitted(command: string): Promise<void> {
    switch (command.trim().toLowerCase()) {
      case 'help':
        return this.sendLine(HELP);
      case 'info': {
        const details = [`Connected from: ${this.remoteAddress}`, `Transport: ${this.transport}`];
        return this.sendLine([...details, ...this.describeTerminal()].join('\n'));
      }
      default:
        return this.sendLine(`Echo: ${command}`);
    }
  }
}
