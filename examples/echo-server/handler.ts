// The echo sample: greets, echoes each line, and answers help, info and quit.
import { TelnetHandler } from 'chuk-protocol-server';

export class EchoTelnetHandler extends TelnetHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine(this.welcomeMessage ?? 'Welcome to the Echo Server!');
    await this.sendLine('-'.repeat(40));
    await this.sendLine("Type 'help' for available commands.");
    await this.sendLine("Type 'quit' to disconnect.");
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    switch (command.trim().toLowerCase()) {
      case 'help':
        await this.sendLine('Available commands:');
        await this.sendLine('  help  - show this list');
        await this.sendLine('  info  - show details of this connection');
        await this.sendLine('  quit  - disconnect (also exit, q)');
        return;
      case 'info':
        await this.sendLine(`Connected from: ${this.remoteAddress}`);
        await this.sendLine(`Transport: ${this.transport}`);
        for (const line of this.describeTerminal()) await this.sendLine(line);
        return;
      default:
        await this.sendLine(`Echo: ${command}`);
    }
  }
}
