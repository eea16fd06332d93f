// The chat sample: one room for everyone on every transport, reached through the application's sessions.
import { TelnetHandler } from 'chuk-protocol-server';
import type { SessionInfo } from 'chuk-protocol-server';

const NICKNAME = /^[A-Za-z0-9_-]+$/;
const MAX_NICKNAME_LENGTH = 16;

/** Why `nickname` cannot be used, or undefined when it can (whoever else holds it aside). */
export function nicknameProblem(nickname: string): string | undefined {
  if (nickname === '') return 'A nickname needs at least one character.';
  if (nickname.length > MAX_NICKNAME_LENGTH) return `A nickname has at most ${MAX_NICKNAME_LENGTH} characters.`;
  if (!NICKNAME.test(nickname)) return 'A nickname may only use letters, digits, _ and -.';
  return undefined;
}

/**
 * A chat room member. The room is the application: every session that has chosen a nickname
 * (its `session.user`), whichever server and transport it came in through.
 */
export class ChatHandler extends TelnetHandler {
  #commands: Record<string, { usage: string; run(args: string): Promise<boolean | void> }> = {
    who: { usage: '/who                 who is here, and how they are connected', run: () => this.#who() },
    nick: { usage: '/nick <name>         change your nickname', run: (name) => this.#renameTo(name) },
    me: { usage: '/me <action>         tell the room what you do', run: (action) => this.#me(action) },
    msg: { usage: '/msg <nick> <text>   a private message', run: (args) => this.#message(args) },
    quit: { usage: '/quit                leave the room', run: () => this.#quit() },
    help: { usage: '/help                this list', run: () => this.#help() },
  };

  get nickname(): string | undefined {
    return this.session.user;
  }

  override async onConnect(): Promise<void> {
    await this.sendLine(this.welcomeMessage ?? 'Welcome to the chat!');
    let nickname: string | undefined;
    while (nickname === undefined) {
      const typed = (await this.readLine('Nickname? ')).trim();
      const problem = await this.#nicknameRefusal(typed);
      if (problem === undefined) nickname = typed;
      else await this.sendLine(problem);
    }
    // Set before anyone hears of it: from here on this session is in the room and in listings.
    this.session.user = nickname;
    await this.#tellRoom(`* ${nickname} joined (${this.transport})`, { exceptMe: true });
    const others = (await this.#members()).filter((member) => member.id !== this.sessionId);
    const here = others.length === 0 ? 'You are the first one here.' : `Here: ${others.map((m) => m.user).join(', ')}.`;
    await this.sendLine(`Hello ${nickname}! ${here} Type /help for the commands.`);
    await this.showPrompt();
  }

  override async onDisconnect(): Promise<void> {
    // The session has left the application already: everyone listed is someone else.
    if (this.nickname !== undefined) await this.#tellRoom(`* ${this.nickname} left`);
  }

  /** A /command, or a line for everyone; unlike the default, a plain "quit" is just something said. */
  override async processLine(line: string): Promise<boolean> {
    const text = line.trim();
    if (text.startsWith('/')) {
      const [, name = '', args = ''] = /^\/(\S*)\s*(.*)$/.exec(text) ?? [];
      const command = this.#commands[name.toLowerCase()];
      if (command === undefined) await this.sendLine(`Unknown command /${name}: type /help for the commands.`);
      else if ((await command.run(args.trim())) === false) return false;
    } else if (text !== '') {
      await this.#tellRoom(`<${this.nickname}> ${text}`);
    }
    await this.showPrompt();
    return true;
  }

  async #who(): Promise<void> {
    const members = await this.#members();
    const width = Math.max(...members.map((member) => member.user!.length)) + 2;
    const lines = members.map((member) => {
      const you = member.id === this.sessionId ? ' (you)' : '';
      return `  ${member.user!.padEnd(width)}${member.transport}${you}`;
    });
    await this.sendLine([`In the room (${members.length}):`, ...lines].join('\n'));
  }

  async #renameTo(nickname: string): Promise<void> {
    const old = this.nickname!;
    const problem = await this.#nicknameRefusal(nickname);
    if (problem !== undefined) {
      await this.sendLine(problem);
      return;
    }
    if (nickname === old) return;
    this.session.user = nickname;
    await this.#tellRoom(`* ${old} is now known as ${nickname}`);
  }

  async #me(action: string): Promise<void> {
    if (action === '') await this.sendLine('Usage: /me <action>');
    else await this.#tellRoom(`* ${this.nickname} ${action}`);
  }

  async #message(args: string): Promise<void> {
    const [, to = '', text = ''] = /^(\S*)\s*(.*)$/.exec(args) ?? [];
    if (to === '' || text === '') {
      await this.sendLine('Usage: /msg <nick> <text>');
      return;
    }
    const member = await this.#find(to);
    // Sent to that one session by id: nobody else's screen ever has it.
    if (member === undefined || !(await this.app.send(member.id, `*${this.nickname}* ${text}`))) {
      await this.sendLine(`No one called ${to} is here.`);
      return;
    }
    await this.sendLine(`-> *${member.user}* ${text}`);
  }

  async #quit(): Promise<boolean> {
    await this.endSession('Goodbye!');
    return false;
  }

  async #help(): Promise<void> {
    const usages = Object.values(this.#commands).map((command) => `  ${command.usage}`);
    await this.sendLine(['Type a line to say it to everyone, or a command:', ...usages].join('\n'));
  }

  /** Everyone in the room: the application's sessions that have a nickname. */
  async #members(): Promise<SessionInfo[]> {
    return (await this.app.list()).filter((session) => session.user !== undefined);
  }

  /** The member called `nickname`, in any case. */
  async #find(nickname: string): Promise<SessionInfo | undefined> {
    const wanted = nickname.toLowerCase();
    return (await this.#members()).find((member) => member.user!.toLowerCase() === wanted);
  }

  /** Why this session cannot take `nickname`: invalid, or someone else's in any case. */
  async #nicknameRefusal(nickname: string): Promise<string | undefined> {
    const problem = nicknameProblem(nickname);
    if (problem !== undefined) return problem;
    const holder = await this.#find(nickname);
    if (holder !== undefined && holder.id !== this.sessionId) return `${holder.user} is taken: choose another.`;
    return undefined;
  }

  /** A line to every member (not to sessions still choosing a nickname); `exceptMe` leaves this one out. */
  async #tellRoom(text: string, options: { exceptMe?: boolean } = {}): Promise<void> {
    const outside = (await this.app.list())
      .filter((session) => session.user === undefined || (options.exceptMe === true && session.id === this.sessionId))
      .map((session) => session.id);
    await this.app.broadcast(text, { except: outside });
  }
}
