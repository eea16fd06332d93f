// The README's handler: questions in a flow, a hidden password, and a message to everyone.
import { TelnetHandler } from 'chuk-protocol-server';

export class Greeter extends TelnetHandler {
  name = 'stranger';

  override async onConnect(): Promise<void> {
    this.name = (await this.readLine('Your name? ')).trim() || this.name;
    await this.readLine('Password? ', { echo: false }); // hidden as it is typed; checking it is up to you
    await this.sendLine(`Welcome, ${this.name}! Try: who, say <text>, quit`);
    await this.showPrompt();
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'who') await this.sendLine(`Online: ${this.server.sessions.size}`);
    else if (command.startsWith('say ')) await this.server.sendGlobalMessage(`${this.name}: ${command.slice(4)}`);
    else await this.sendLine(`Unknown command: ${command}`);
  }
}
