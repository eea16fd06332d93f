// A tiny MUD: two rooms, a rat and a vitals bar that MUD clients get as GMCP (Char.Vitals,
// Room.Info) and MSDP (HEALTH, ROOM_NAME); other clients see the same game as text.
import { LineHandler } from 'chuk-protocol-server';
import type { MsdpCommand, MsdpVariables } from 'chuk-protocol-server';

interface Room {
  name: string;
  description: string;
  exits: Record<string, string>;
}

const ROOMS: Record<string, Room> = {
  gate: {
    name: 'The Town Gate',
    description: 'A worn stone arch. A muddy road leads north into the cellar of an inn.',
    exits: { north: 'cellar' },
  },
  cellar: {
    name: 'A Damp Cellar',
    description: 'Barrels line the walls. Something small scratches in the dark. The gate is south.',
    exits: { south: 'gate' },
  },
};

const MAX_HP = 20;
/** What `LIST REPORTABLE_VARIABLES` answers and REPORT may ask for. */
const REPORTABLE = ['HEALTH', 'HEALTH_MAX', 'ROOM_NAME'];

export class MudHandler extends LineHandler {
  override prompt = '> ';
  #room = 'gate';
  #hp = MAX_HP;

  override async onConnect(): Promise<void> {
    await this.sendLine('Welcome to Tiny MUD. Commands: look, north, south, fight, rest, quit.');
    await this.#look();
    await this.showPrompt();
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    const [word = '', ...rest] = command.trim().split(/\s+/);
    const verb = word.toLowerCase();
    const room = ROOMS[this.#room]!;
    if (verb === 'look' || verb === 'l') {
      await this.#look();
    } else if (room.exits[verb] !== undefined) {
      this.#room = room.exits[verb]!;
      await this.#look();
    } else if (verb === 'fight') {
      if (this.#room === 'cellar') {
        this.#hp = Math.max(1, this.#hp - 3);
        await this.sendLine('You swing at the rat. It bites you back!');
        this.#vitals();
      } else {
        await this.sendLine('There is nothing here to fight.');
      }
    } else if (verb === 'rest') {
      this.#hp = MAX_HP;
      await this.sendLine('You rest a while and feel better.');
      this.#vitals();
    } else if (verb === 'say') {
      await this.sendLine(`You say: ${rest.join(' ')}`);
    } else if (verb !== '') {
      await this.sendLine(`You cannot ${verb} here.`);
    }
    await this.sendLine(`[HP ${this.#hp}/${MAX_HP}]`);
  }

  override async onGmcp(message: string, data: unknown): Promise<void> {
    this.session.logger.debug({ message, data }, 'GMCP from client');
    // GMCP is agreed after onConnect has run: a client's Core.Supports.Set is the moment to send what it missed.
    if (message === 'Core.Supports.Set') this.#roomInfo();
    if (message === 'Core.Ping') this.gmcp.send('Core.Ping');
  }

  override async onMsdpCommand(command: MsdpCommand, names: string[]): Promise<void> {
    if (command === 'LIST' && names.includes('REPORTABLE_VARIABLES')) {
      this.msdp.send({ REPORTABLE_VARIABLES: REPORTABLE });
    } else if (command === 'SEND' || command === 'REPORT') {
      const values = this.#msdpValues();
      this.msdp.send(Object.fromEntries(names.filter((name) => name in values).map((name) => [name, values[name]!])));
    } else {
      await super.onMsdpCommand(command, names);
    }
  }

  async #look(): Promise<void> {
    const room = ROOMS[this.#room]!;
    await this.sendLine(room.name);
    await this.sendLine(`  ${room.description}`);
    await this.sendLine(`Exits: ${Object.keys(room.exits).join(', ')}`);
    this.#roomInfo();
  }

  #roomInfo(): void {
    const room = ROOMS[this.#room]!;
    this.gmcp.send('Room.Info', { num: this.#room, name: room.name, exits: room.exits });
    this.msdp.update({ ROOM_NAME: room.name });
    this.#vitals();
  }

  /** The vitals bar: GMCP Char.Vitals, and MSDP HEALTH to clients that asked to have it reported. */
  #vitals(): void {
    this.gmcp.send('Char.Vitals', { hp: this.#hp, maxhp: MAX_HP });
    this.msdp.update(this.#msdpValues());
  }

  #msdpValues(): MsdpVariables {
    return { HEALTH: this.#hp, HEALTH_MAX: MAX_HP, ROOM_NAME: ROOMS[this.#room]!.name };
  }
}
