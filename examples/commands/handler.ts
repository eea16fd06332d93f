// The original package's CommandHandler: a LineHandler with a table of commands, their
// arguments, and Tab completion of command names where the server edits the line.
import { LineHandler } from 'chuk-protocol-server';

/** One command: what it does with the words after its name, and a line of help. */
interface Command {
  usage: string;
  run(args: string[]): Promise<void>;
}

const STARTED_AT = Date.now();

export class CommandHandler extends LineHandler {
  readonly #commands: Record<string, Command> = {
    help: { usage: 'help [command]   list the commands, or explain one', run: (args) => this.#help(args) },
    status: { usage: 'status           the server and this connection', run: () => this.#status() },
    uptime: { usage: 'uptime           how long the server has been running', run: () => this.#uptime() },
    echo: { usage: 'echo <text...>   say it back', run: (args) => this.sendLine(args.join(' ')) },
    quit: { usage: 'quit             disconnect (also exit)', run: () => this.endSession('Goodbye!') },
  };

  override async onConnect(): Promise<void> {
    await this.sendLine(this.welcomeMessage ?? 'Command processor. Type help for the commands.');
    await this.showPrompt();
  }

  override async processLine(line: string): Promise<boolean> {
    const [name = '', ...args] = line.trim().split(/\s+/);
    if (name === '') {
      await this.showPrompt();
      return true;
    }
    const command = this.#commands[name.toLowerCase() === 'exit' ? 'quit' : name.toLowerCase()];
    if (command === undefined) await this.sendLine(`Unknown command: ${name} (try help)`);
    else await command.run(args);
    if (this.session.isClosed) return false;
    await this.showPrompt();
    return true;
  }

  /** Command names for the first word; for help's argument, command names again. */
  override completeWord(word: string, line: string): readonly string[] {
    const isFirstWord = line.trimStart() === word;
    return isFirstWord || /^help\s+\S*$/i.test(line.trimStart()) ? Object.keys(this.#commands) : [];
  }

  async #help(args: string[]): Promise<void> {
    const wanted = args[0]?.toLowerCase();
    if (wanted !== undefined) {
      const command = this.#commands[wanted];
      await this.sendLine(command === undefined ? `No such command: ${wanted}` : command.usage);
      return;
    }
    await this.sendLine('Commands:');
    for (const command of Object.values(this.#commands)) await this.sendLine(`  ${command.usage}`);
  }

  async #status(): Promise<void> {
    const sessions = await this.app.list();
    await this.sendLine('Server status: OK');
    await this.sendLine(`Sessions: ${sessions.length} (you are on ${this.transport} from ${this.remoteAddress})`);
  }

  async #uptime(): Promise<void> {
    await this.sendLine(`Server uptime: ${describeDuration(Date.now() - STARTED_AT)}`);
  }
}

/** "3 days, 4 hours, 5 minutes, 6 seconds", leaving out the leading zero units. */
export function describeDuration(ms: number): string {
  const units: Array<[string, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1000],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [name, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || (name === 'second' && parts.length === 0)) parts.push(`${count} ${name}${count === 1 ? '' : 's'}`);
  }
  return parts.join(', ');
}
