// Test support: handlers that several test files serve.
import { LineHandler, TelnetHandler } from '../../src/index.js';

/**
 * A terminal handler: the welcome, then `Echo: <line>`; `say <text>` to everyone, `who` counts
 * the application, `fail` throws, `info` describes the terminal.
 */
export class EchoHandler extends TelnetHandler {
  override async sendWelcome(): Promise<void> {
    await this.sendLine(this.welcomeMessage ?? 'Welcome!');
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    if (command === 'fail') throw new Error('handler failure on purpose');
    if (command.startsWith('say ')) await this.server.sendGlobalMessage(`${this.transport} says ${command.slice(4)}`);
    else if (command === 'who') await this.sendLine(`Online: ${(await this.app.list()).length}`);
    else if (command === 'info') for (const line of this.describeTerminal()) await this.sendLine(line);
    else await this.sendLine(`Echo: ${command}`);
  }
}

/** Asks a name and a hidden password in onConnect, then echoes lines. */
export class LoginHandler extends LineHandler {
  override async onConnect(): Promise<void> {
    const name = await this.readLine('Name? ');
    const password = await this.readLine('Password? ', { echo: false });
    await this.sendLine(`Hello ${name}, your password has ${password.length} characters.`);
    await this.showPrompt();
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(`Echo: ${command}`);
  }
}
