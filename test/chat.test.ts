// The chat sample from its config file: telnet, nc, WebSocket and browser users in one room.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, before, test } from 'node:test';

import { loadConfig } from '../src/index.js';
import type { Launch, TransportName } from '../src/index.js';
import { nicknameProblem } from '../examples/chat/handler.js';
import { launchChromium, skipWithoutChromium, waitForScreen } from './support/browser.js';
import { command, enterRoom } from './support/chat.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { until } from './support/received-text.js';
import { quiet, startLaunch } from './support/servers.js';

const CONFIG = join(import.meta.dirname, '..', 'examples', 'chat', 'config.yaml');

let ports: Record<TransportName, number>;
let launch: Launch;
before(async () => {
  const config = await loadConfig(CONFIG);
  for (const server of config.servers) {
    server.host = '127.0.0.1';
    server.port = 0;
  }
  launch = await startLaunch(config, { logger: quiet });
  ports = Object.fromEntries(launch.servers.map((server) => [server.name, server.address!.port])) as Record<
    TransportName,
    number
  >;
});

// A test that failed half way must not leave its nicknames taken for the next one.
afterEach(async () => {
  for (const session of await launch.app.list()) await launch.app.kick(session.id);
  await until(() => launch.app.localCount === 0, 'every session to end');
});

/** Disconnects every client, then waits until the room is empty, so that the next test's nicknames are free. */
async function leave(...clients: TestClient[]): Promise<void> {
  for (const client of clients) {
    client.end();
    await client.closed;
  }
  await until(() => launch.app.localCount === 0, 'every session to end');
}

test('four users, one per transport, hear each other join, talk, and see each other in /who', async () => {
  const ada = await enterRoom('telnet', ports.telnet, 'Ada');
  assert.match(ada.text, /Hello Ada! You are the first one here\./);
  const bob = await enterRoom('tcp', ports.tcp, 'Bob');
  const cy = await enterRoom('websocket', ports.websocket, 'Cy');
  const dee = await enterRoom('ws_telnet', ports.ws_telnet, 'Dee');
  assert.match(dee.text, /Hello Dee! Here: Ada, Bob, Cy\./);
  await ada.waitFor('* Bob joined (tcp)');
  await ada.waitFor('* Cy joined (websocket)');
  await ada.waitFor('* Dee joined (ws_telnet)');
  await cy.waitFor('* Dee joined (ws_telnet)');
  assert.ok(!bob.text.includes('* Bob joined'), 'nobody is told of their own arrival');

  const users = { Ada: ada, Bob: bob, Cy: cy, Dee: dee };
  for (const [nickname, speaker] of Object.entries(users)) {
    speaker.send(`hello from ${nickname}`);
    for (const listener of Object.values(users)) await listener.waitFor(`<${nickname}> hello from ${nickname}\r\n`);
  }
  // Said to the room, a plain "quit" is just a word.
  bob.send('quit');
  await dee.waitFor('<Bob> quit\r\n');

  const who = await command(bob, '/who');
  assert.match(who, /In the room \(4\):\r\n/);
  assert.match(who, / {2}Ada {2}telnet\r\n/);
  assert.match(who, / {2}Bob {2}tcp \(you\)\r\n/);
  assert.match(who, / {2}Cy {3}websocket\r\n/);
  assert.match(who, / {2}Dee {2}ws_telnet\r\n/);

  cy.send('/me waves');
  for (const listener of Object.values(users)) await listener.waitFor('* Cy waves\r\n');
  await leave(ada, bob, cy, dee);
});

test('nicknames: 1-16 letters, digits, _ or -, unique in any case; asked again with the reason', async () => {
  assert.equal(nicknameProblem('Ada_2-x'), undefined);
  assert.equal(nicknameProblem('x'.repeat(16)), undefined);
  assert.equal(nicknameProblem(''), 'A nickname needs at least one character.');
  assert.equal(nicknameProblem('x'.repeat(17)), 'A nickname has at most 16 characters.');
  for (const bad of ['a b', 'Zoë', 'ada!', '<ada>']) {
    assert.equal(nicknameProblem(bad), 'A nickname may only use letters, digits, _ and -.', bad);
  }

  const ada = await enterRoom('tcp', ports.tcp, 'Ada');
  const newcomer = await connect('websocket', ports.websocket);
  await newcomer.waitFor('Nickname? ');
  const asks = (): number => newcomer.text.split('Nickname? ').length - 1;
  for (const [typed, reason] of [
    ['ADA', 'Ada is taken: choose another.'],
    ['', 'A nickname needs at least one character.'],
    ['a b', 'A nickname may only use letters, digits, _ and -.'],
    ['x'.repeat(17), 'A nickname has at most 16 characters.'],
  ] as const) {
    const before = asks();
    const from = newcomer.text.length;
    newcomer.send(typed);
    await newcomer.waitFor(`${reason}\r\nNickname? `, { from });
    assert.equal(asks(), before + 1);
  }
  // Someone still choosing a name is not in the room yet: the room's talk does not reach them.
  ada.send('only for the room');
  await ada.waitFor('<Ada> only for the room');
  newcomer.send('Eve');
  await newcomer.waitFor('Hello Eve! Here: Ada.');
  assert.ok(!newcomer.text.includes('only for the room'));
  await ada.waitFor('* Eve joined (websocket)');

  // /nick follows the same rules, and the room hears of the change.
  assert.match(await command(ada, '/nick eve'), /Eve is taken: choose another\./);
  assert.match(await command(ada, '/nick no way'), /A nickname may only use letters, digits, _ and -\./);
  const renamed = await command(ada, '/nick Ann');
  assert.match(renamed, /\* Ada is now known as Ann\r\n/);
  await newcomer.waitFor('* Ada is now known as Ann\r\n');
  assert.match(await command(newcomer, '/who'), / {2}Ann {2}tcp\r\n {2}Eve {2}websocket \(you\)\r\n/);
  newcomer.send('hi Ann');
  await ada.waitFor('<Eve> hi Ann');
  await leave(ada, newcomer);
});

test('/msg reaches one user only; an unknown nickname is told so', async () => {
  const ada = await enterRoom('telnet', ports.telnet, 'Ada');
  const bob = await enterRoom('tcp', ports.tcp, 'Bob');
  const cy = await enterRoom('websocket', ports.websocket, 'Cy');
  assert.match(await command(ada, '/msg BOB meet me at noon'), /-> \*Bob\* meet me at noon\r\n/);
  await bob.waitFor('*Ada* meet me at noon\r\n');
  assert.match(await command(ada, '/msg Zed hello?'), /No one called Zed is here\./);
  assert.match(await command(ada, '/msg Bob'), /Usage: \/msg <nick> <text>/);
  assert.match(await command(ada, '/frobnicate'), /Unknown command \/frobnicate: type \/help for the commands\./);
  assert.match(await command(ada, '/help'), /\/msg <nick> <text> {3}a private message\r\n/);
  // Everything above reached the room, or nothing did: a later public line arrives after it.
  ada.send('lunch?');
  await cy.waitFor('<Ada> lunch?');
  await bob.waitFor('<Ada> lunch?');
  assert.ok(!cy.text.includes('noon'), 'a private message never reaches anyone else');
  assert.ok(!cy.text.includes('Zed') && !bob.text.includes('Zed'));
  await leave(ada, bob, cy);
});

test('leaving is announced: a client that disconnects, and /quit', async () => {
  const ada = await enterRoom('telnet', ports.telnet, 'Ada');
  const bob = await enterRoom('tcp', ports.tcp, 'Bob');
  const cy = await enterRoom('websocket', ports.websocket, 'Cy');
  const dee = await enterRoom('ws_telnet', ports.ws_telnet, 'Dee');
  cy.destroy();
  await ada.waitFor('* Cy left\r\n');
  await bob.waitFor('* Cy left\r\n');
  dee.send('/quit');
  await dee.waitFor('Goodbye!\r\n');
  await dee.closed;
  await ada.waitFor('* Dee left\r\n');
  await bob.waitFor('* Dee left\r\n');
  bob.end();
  await ada.waitFor('* Bob left\r\n');
  assert.match(await command(ada, '/who'), /In the room \(1\):\r\n {2}Ada {2}telnet \(you\)\r\n/);
  await leave(ada);
});

test('a message that arrives while a telnet user has half a line typed: the line is drawn again after it', async () => {
  for (const transport of ['telnet', 'ws_telnet'] as const) {
    const ada = await enterRoom(transport, ports[transport], 'Ada');
    const bob = await enterRoom('tcp', ports.tcp, 'Bob');
    const from = ada.text.length;
    ada.type('hel');
    await ada.waitFor('hel', { from });
    bob.send('ping');
    // The typed line is cleared (CR, which telnet sends as CR NUL, and erase to the end of the screen),
    // the message takes its place,
    // and the prompt comes back with the same three letters after it.
    await ada.waitFor(/\r\0?\x1b\[J<Bob> ping\r\n> hel$/, { from });
    ada.type('lo\r');
    await bob.waitFor('<Ada> hello\r\n');
    await ada.waitFor('<Ada> hello\r\n');
    await leave(ada, bob);
  }
});

test('the browser terminal joins the room', { skip: skipWithoutChromium }, async () => {
  const browser = await launchChromium();
  try {
    const ada = await enterRoom('telnet', ports.telnet, 'Ada');
    for (const [transport, nickname] of [
      ['websocket', 'Page1'],
      ['ws_telnet', 'Page2'],
    ] as const) {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${ports[transport]}/`);
      await waitForScreen(page, 'Nickname?');
      await page.keyboard.type(`${nickname}\r`);
      await ada.waitFor(`* ${nickname} joined (${transport})`);
      await page.keyboard.type('hello from the page\r');
      await ada.waitFor(`<${nickname}> hello from the page`);
      ada.send(`welcome ${nickname}`);
      await waitForScreen(page, `<Ada> welcome ${nickname}`);
      await page.close();
      await ada.waitFor(`* ${nickname} left`);
    }
    await leave(ada);
  } finally {
    await browser.close();
  }
});
