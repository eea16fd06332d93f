// TinTin++, a real MUD client, against the mud sample under tmux: MCCP2 and MCCP3 on, MSSP read, its own echo kept.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startConfigFile } from './support/servers.js';
import { TmuxPane } from './support/tmux.js';

const CONFIG = join(import.meta.dirname, '..', 'examples', 'mud', 'config.yaml');
const TIMEOUT = { timeout: 30_000 };
/** Debian installs it in /usr/games, which root's PATH leaves out. */
const DEBIAN_TINTIN = '/usr/games/tt++';

/** The tt++ binary; fails (never skips) when it is missing: .ci/run installs tintin++. */
function tintin(): string {
  const found = spawnSync('sh', ['-c', 'command -v tt++'], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  assert.ok(existsSync(DEBIAN_TINTIN), 'tt++ is not installed (.ci/run installs tintin++)');
  return DEBIAN_TINTIN;
}

function requireTmux(): void {
  assert.equal(spawnSync('sh', ['-c', 'command -v tmux']).status, 0, 'tmux is not installed (.ci/run installs it)');
}

test('tt++ and tmux are installed', () => {
  tintin();
  requireTmux();
});

describe('TinTin++ in tmux against the mud sample', () => {
  const pane = new TmuxPane();
  let port: number;

  before(async () => {
    const binary = tintin();
    requireTmux();
    const launch = await startConfigFile(CONFIG);
    port = launch.servers.find((server) => server.name === 'telnet')!.address!.port;
    await pane.start(binary, 120, 50);
    await pane.waitForScreen('TinTin++ to start', (lines) => lines.some((line) => line.includes('T I N T I N')));
  });

  after(() => pane.kill());

  /** Types a line into TinTin++ and presses Enter. */
  async function enter(line: string): Promise<void> {
    await pane.type(line);
    await pane.sendKeys('Enter');
  }

  test('it connects with compression both ways, reads MSSP, and the text is intact', TIMEOUT, async () => {
    // TinTin++ prints the telnet it sends and receives, and where compression starts.
    await enter('#config {debug telnet} {on}');
    await enter(`#session mud 127.0.0.1 ${port}`);
    const lines = await pane.waitForScreen(
      'the room, MCCP2, MSSP, and the terminal type and environment told',
      // Typed while negotiation goes on, a line would land among its debug lines, not after the prompt.
      (lines) =>
        lines.includes('Exits: north') &&
        lines.includes('INFO MCCP2 INITIALIZED') &&
        lines.some((line) => /^RCVD IAC SB MSSP VAR UPTIME/.test(line)) &&
        lines.some((line) => line.startsWith('SENT IAC SB NEW-ENVIRON IS VAR TERMINAL_TYPE')),
      10_000,
    );
    assert.ok(lines.includes('INFO MCCP3 INITIALIZED'), 'TinTin++ compresses what it sends too');
    assert.ok(
      lines.some((line) => /^RCVD IAC SB MSSP VAR NAME +VAL Tiny MUD$/.test(line)),
      'MSSP names the configured NAME',
    );
    assert.ok(lines.includes('The Town Gate'));
    assert.ok(lines.includes('  A worn stone arch. A muddy road leads north into the cellar of an inn.'));
    // A MUD client echoes its own input line: the server must never claim echo (WILL ECHO).
    assert.ok(!lines.some((line) => line.includes('RCVD IAC WILL ECHO')), 'the server never takes over echo');

    // Typed while both directions are compressed: the command reaches the game, the answer reads whole.
    await enter('north');
    await pane.waitForScreen('the cellar', (lines) =>
      lines.includes('  Barrels line the walls. Something small scratches in the dark. The gate is south.'),
    );
    await enter('fight');
    const after = await pane.waitForScreen('the fight', (lines) => lines.includes('[HP 17/20]'));
    assert.ok(after.includes('You swing at the rat. It bites you back!'));
    // TinTin++ shows what was typed after the prompt, once: its own echo, none from the server.
    assert.equal(after.filter((line) => line === '> fight').length, 1, after.join('\n'));
  });
});
