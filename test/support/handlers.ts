// Test support: handlers that several test files serve.
import { LineHandler, TelnetHandler } from '../../src/index.js';
import type { BaseHandler } from '../../src/index.js';
import type { TestClient } from './clients.js';

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

/** LoginHandler's questions: a name, then a hidden password. */
async function logIn(handler: BaseHandler): Promise<void> {
  const name = await handler.readLine('Name? ');
  const password = await handler.readLine('Password? ', { echo: false });
  await handler.sendLine(`Hello ${name}, your password has ${password.length} characters.`);
  await handler.showPrompt();
}

/** Asks a name and a hidden password in onConnect, then echoes lines. */
export class LoginHandler extends LineHandler {
  override async onConnect(): Promise<void> {
    await logIn(this);
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(`Echo: ${command}`);
  }
}

/** LoginHandler in character mode: the server echoes each key, and none of the password's. */
export class CharacterLoginHandler extends TelnetHandler {
  override async onConnect(): Promise<void> {
    await logIn(this);
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    await this.sendLine(`Echo: ${command}`);
  }
}

/** What a user of LoginHandler types: Ada, the password "sesame", then `hello` and `quit`. */
export async function logInAndQuit(client: TestClient): Promise<void> {
  await client.waitFor('Name? ');
  client.send('Ada');
  await client.waitFor('Password? ');
  client.send('sesame');
  await client.waitFor('your password has 6 characters');
  client.send('hello');
  await client.waitFor('Echo: hello');
  client.send('quit');
  await client.closed;
}
