// The README's handler: questions in a flow, a hidden password, and the application's other users.
import { TelnetHandler } from 'chuk-protocol-server';

export class Greeter extends TelnetHandler {
  name = 'stranger';

  override async onConnect(): Promise<void> {
    this.name = (await this.readLine('Your name? ')).trim() || this.name;
    await this.readLine('Password? ', { echo: false }); // hidden as it is typed; checking it is up to you
    this.session.user = this.name; // shown in session listings
    await this.sendLine(`Welcome, ${this.name}! Try: who, say <text>, quit`);
    await this.showPrompt();
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'who') {
      // Every user of the application, whichever server and transport they came in through.
      const users = await this.app.list();
      await this.sendLine(
        `Online (${users.length}): ${users.map((user) => `${user.user ?? 'someone'} (${user.transport})`).join(', ')}`,
      );
    } else if (command.startsWith('say ')) {
      await this.app.broadcast(`${this.name}: ${command.slice(4)}`);
    } else {
      await this.sendLine(`Unknown command: ${command}`);
    }
  }
}
