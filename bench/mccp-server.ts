// A telnet server for the MCCP bench: `burst N` answers N lines of MUD-like output and END.
// node --import tsx bench/mccp-server.ts PORT (plain|mccp2)
import { pino } from 'pino';

import { LineHandler, ProtocolServer, parseConfig } from '../src/index.js';

const ROOMS = [
  '\x1b[1;36mThe Town Gate\x1b[0m\r\n  A worn stone arch. A muddy road leads north into the cellar of an inn.\r\n\x1b[33mExits: north\x1b[0m',
  '\x1b[1;36mA Damp Cellar\x1b[0m\r\n  Barrels line the walls. Something small scratches in the dark.\r\n\x1b[33mExits: south\x1b[0m',
  '\x1b[1;31mA rat bites you!\x1b[0m You take 3 damage. \x1b[32m[HP 17/20 MP 9/10 MV 40/40]\x1b[0m',
  '\x1b[35mAda gossips, "anyone up for the crypt run tonight? need a healer"\x1b[0m',
];

class BurstHandler extends LineHandler {
  override async processLine(line: string): Promise<boolean> {
    const [command, count] = line.trim().split(' ');
    if (command !== 'burst') return true;
    const lines: string[] = [];
    for (let i = 0; i < Number(count); i++) lines.push(`${ROOMS[i % ROOMS.length]!} (${i})`);
    // Written in turns of 100 lines, as a game writes a tick's output.
    for (let i = 0; i < lines.length; i += 100) await this.session.write(`${lines.slice(i, i + 100).join('\r\n')}\r\n`);
    await this.session.write('END\r\n');
    return true;
  }

  override async onConnect(): Promise<void> {
    await this.sendLine('ready');
  }
}

const [port, mode] = process.argv.slice(2);
const config = parseConfig(
  {
    transport: 'telnet',
    host: '127.0.0.1',
    port: Number(port),
    max_connections: 20_000,
    ...(mode === 'mccp2' ? { telnet_options: ['mccp2'] } : {}),
  },
  process.cwd(),
  { requireHandlerClass: false },
).servers[0]!;
await new ProtocolServer(config, BurstHandler, { logger: pino({ level: 'warn' }) }).start();
