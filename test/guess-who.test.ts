// The Guess Who sample from its config file: a player who deduces wins on every transport; nc sees no escape byte.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

import { loadConfig } from '../src/index.js';
import type { TransportName } from '../src/index.js';
import { connect } from './support/clients.js';
import type { ClientOptions, TestClient } from './support/clients.js';
import { quiet, startLaunch } from './support/servers.js';

// Each session's games follow this seed. Its first secret is Bill, whom no question tells from
// Alfred and Richard: a player who deduces loses the first game on a coin toss and wins the second.
process.env['GUESS_WHO_SEED'] = '29';

const CONFIG = join(import.meta.dirname, '..', 'examples', 'guess-who', 'config.yaml');
const ESC = '\x1b';
const CROSSED_OUT = '\x1b[2;9m';
const CHROMIUM = '/usr/bin/chromium';

/** The sample's config, on 127.0.0.1 and free ports: its servers' ports by server name. */
async function launchSample(): Promise<Record<TransportName, number>> {
  const config = await loadConfig(CONFIG);
  for (const server of config.servers) {
    server.host = '127.0.0.1';
    server.port = 0;
  }
  const launch = await startLaunch(config, { logger: quiet });
  return Object.fromEntries(launch.servers.map((server) => [server.name, server.address!.port])) as Record<
    TransportName,
    number
  >;
}

let ports: Record<TransportName, number>;
before(async () => {
  ports = await launchSample();
});

/** How each transport's client connects: terminals that agree to everything; ws_telnet on the seed's /ws. */
const CLIENTS: Record<TransportName, ClientOptions> = {
  telnet: { telnet: 'terminal' },
  tcp: {},
  websocket: {},
  ws_telnet: { telnet: 'terminal', path: '/ws' },
  ssh: {},
};

/** Sends a line and resolves with everything the server answered, up to its next prompt. */
async function command(client: TestClient, line: string): Promise<string> {
  const from = client.text.length;
  client.send(line);
  await client.waitFor(/\r\n> $/, { from });
  return client.text.slice(from);
}

/** The names on the board in an answer: those still standing, and those shown flipped down. */
function readBoard(answer: string): { standing: string[]; down: string[] } {
  const lines = answer.slice(answer.lastIndexOf('Guess Who: ')).split('\r\n');
  // The heading (a line or two), then the grid: every row indented.
  const first = lines.findIndex((line) => line.startsWith('  '));
  const end = lines.findIndex((line, i) => i > first && !line.startsWith('  '));
  const grid = first === -1 ? [] : lines.slice(first, end === -1 ? undefined : end);
  const standing: string[] = [];
  const down: string[] = [];
  for (const line of grid) {
    for (const [, style, name] of line.matchAll(/(?:\x1b\[([\d;]+)m)?([A-Z][a-z]+)/g)) {
      (style === '2;9' ? down : standing).push(name!);
    }
  }
  return { standing, down };
}

/** The features `list` gives each character: "man", "short black hair", "glasses", … */
function readCast(answer: string): Map<string, string[]> {
  const cast = new Map<string, string[]>();
  for (const [, name, features] of answer.matchAll(/^ {2}([A-Z][a-z]+) +(.+)$/gm)) {
    cast.set(name!, features!.trimEnd().split(', '));
  }
  return cast;
}

/** What a player makes of a question, from the features `list` shows: would `features` answer Yes? */
function wouldSayYes(features: string[], question: string): boolean {
  const [gender, hair = ''] = features;
  if (question === 'is it a man?') return gender === 'man';
  if (question === 'is it a woman?') return gender === 'woman';
  if (question === 'are they bald?') return hair === 'bald';
  const trait = /^do they have (?:a )?(.+)\?$/.exec(question)?.[1] ?? '';
  const hairWord = /^(\w+) hair$/.exec(trait)?.[1];
  if (hairWord !== undefined && trait !== 'facial hair') return hair.split(' ').includes(hairWord);
  return features.slice(2).includes(trait);
}

/** The question that splits the candidates most evenly; undefined when none splits them at all. */
function bestQuestion(
  questions: string[],
  asked: Set<string>,
  candidates: string[],
  cast: Map<string, string[]>,
): string | undefined {
  let best: { question: string; smaller: number } | undefined;
  for (const question of questions.filter((q) => !asked.has(q))) {
    const yes = candidates.filter((name) => wouldSayYes(cast.get(name)!, question)).length;
    const smaller = Math.min(yes, candidates.length - yes);
    if (smaller > 0 && (best === undefined || smaller > best.smaller)) best = { question, smaller };
  }
  return best?.question;
}

/**
 * Plays like a person: reads the questions from `help` and the faces from `list`, asks the question
 * that halves the board best, checks the board against its own reasoning, and guesses the one left
 * (the first of those no question tells apart). Plays again after a loss; returns each game's end.
 */
async function playUntilWon(client: TestClient): Promise<Array<{ outcome: 'won' | 'lost'; secret: string }>> {
  const help = await command(client, 'help');
  const questions = [...help.matchAll(/^ {2}((?:is|do|are) .+\?)$/gm)].map((match) => match[1]!);
  assert.equal(questions.length, 13, help);
  const games: Array<{ outcome: 'won' | 'lost'; secret: string }> = [];
  while (games.at(-1)?.outcome !== 'won') {
    assert.ok(games.length < 5, `no win in ${games.length} games: ${JSON.stringify(games)}`);
    const board = readBoard(await command(client, 'start'));
    const cast = readCast(await command(client, 'list'));
    assert.equal(cast.size, 24);
    assert.deepEqual(board.standing, [...cast.keys()], 'everyone stands at the start');
    let candidates = [...cast.keys()];
    const asked = new Set<string>();
    for (;;) {
      const question = candidates.length > 1 ? bestQuestion(questions, asked, candidates, cast) : undefined;
      if (question === undefined || asked.size === 10) break;
      asked.add(question);
      const answer = await command(client, question);
      const yes = /(?:^|\r\n)(Yes|No)\.\r\n/.exec(answer)?.[1];
      assert.ok(yes !== undefined, answer);
      candidates = candidates.filter((name) => wouldSayYes(cast.get(name)!, question) === (yes === 'Yes'));
      assert.deepEqual(readBoard(answer).standing, candidates, `the board after ${question} ${yes}`);
      if (candidates.length === 1) assert.ok(answer.includes(`Only ${candidates[0]} is left`), answer);
    }
    const verdict = await command(client, `guess ${candidates[0]!.toLowerCase()}`);
    const won = /Right! It was (\w+)/.exec(verdict);
    const lost = /Wrong: not (\w+)\. It was (\w+)\./.exec(verdict);
    assert.ok(won !== null || lost !== null, verdict);
    assert.ok(verdict.includes('Type start to play again.'), verdict);
    if (won !== null) {
      assert.equal(won[1], candidates[0]);
      games.push({ outcome: 'won', secret: won[1]! });
    } else {
      // Lost only on a coin toss: the secret was one of the faces no question could tell apart.
      assert.equal(lost![1], candidates[0]);
      assert.ok(candidates.includes(lost![2]!), `${lost![2]} was flipped down wrongly`);
      games.push({ outcome: 'lost', secret: lost![2]! });
    }
  }
  return games;
}

for (const transport of ['telnet', 'tcp', 'websocket', 'ws_telnet'] as const) {
  test(`a player who deduces wins a whole game over ${transport}`, async () => {
    const client = await connect(transport, ports[transport], CLIENTS[transport]);
    await client.waitFor("Type 'start' to play, 'help' for the commands and questions, 'quit' to leave.\r\n> ");
    const games = await playUntilWon(client);
    assert.deepEqual(games, [
      { outcome: 'lost', secret: 'Bill' },
      { outcome: 'won', secret: 'Anne' },
    ]);
    if (transport === 'tcp') assert.ok(!client.text.includes(ESC), 'nc gets no escape byte');
    else assert.ok(client.text.includes(CROSSED_OUT), 'a terminal sees flipped-down names crossed out');
    client.send('quit');
    await client.waitFor('Goodbye!');
    await client.closed;
  });
}

test('over nc: help, an unknown question, any case, list with the questions used, at most 10 questions', async () => {
  const client = await connect('tcp', ports.tcp);
  await client.waitFor('> ');
  assert.match(await command(client, 'is it a man?'), /No game in play: type start to begin one\./);
  assert.match(await command(client, 'guess alex'), /No game in play/);
  assert.match(
    await command(client, 'list'),
    /No game yet; everyone on the board:\r\n {2}Alex {5}man, short black hair\r\n/,
  );
  await command(client, 'start');
  assert.match(await command(client, 'is it a dog?'), /I don't know "is it a dog\?": type help for the commands/);
  assert.match(
    await command(client, 'IS IT A WOMAN?'),
    /^No\.\r\nGuess Who: 19 of 24 standing, 9 of 10 questions left\r\n/,
  );
  assert.match(await command(client, 'is it a woman?'), /You asked that already: No\./);
  const list = await command(client, 'list');
  assert.match(
    list,
    /Still standing \(19\):\r\n {2}Alex {5}man, short black hair\r\n {2}Alfred {3}man, bald, facial hair\r\n/,
  );
  assert.match(list, /Questions asked \(1 of 10\):\r\n {2}is it a woman\? No\r\n/);
  const others = [
    'is it a man?',
    'do they have glasses?',
    'do they have a hat?',
    'do they have facial hair?',
    'do they have black hair?',
    'do they have blonde hair?',
    'do they have brown hair?',
    'do they have red hair?',
  ];
  for (const question of others) await command(client, question);
  const tenth = await command(client, 'do they have white hair?');
  assert.match(tenth, /0 of 10 questions left/);
  assert.ok(/That was your last question|Only \w+ is left/.test(tenth), tenth);
  assert.match(await command(client, 'are they bald?'), /No questions left: make your guess with guess <name>\./);
  assert.match(await command(client, 'guess zaphod'), /No one on the board is called zaphod/);
  assert.match(await command(client, 'guess'), /Guess who\? Type guess <name>\./);
  assert.ok(!client.text.includes(ESC));
  client.send('quit');
  await client.closed;
});

test('plain text for a telnet client that never names its terminal, and on websocket with ?ansi=off', async () => {
  const telnet = await connect('telnet', ports.telnet, { telnet: 'refuse' });
  const websocket = await connect('websocket', ports.websocket, { path: '/ws?ansi=off' });
  for (const client of [telnet, websocket]) {
    await client.waitFor('> ');
    await command(client, 'start');
    const answer = await command(client, 'do they have a hat?');
    assert.equal(readBoard(answer).down.length, 0);
    assert.ok(!client.text.includes(ESC), JSON.stringify(client.text));
  }
});

test('a 40-column telnet terminal gets a board 40 columns wide', async () => {
  const client = await connect('telnet', ports.telnet, { telnet: 'terminal', size: [40, 24] });
  await client.waitFor('> ');
  const answer = await command(client, 'start');
  const board = answer.slice(answer.indexOf('Guess Who: ')).split('\r\n').slice(0, -1);
  assert.deepEqual(board.slice(0, 2), ['Guess Who: 24 of 24 standing', '10 of 10 questions left']);
  assert.equal(board.length, 2 + 6, 'four names a row');
  for (const line of board) assert.ok(line.replace(/\x1b\[[\d;]*m/g, '').length <= 40, JSON.stringify(line));
});

describe('in the browser terminal', { skip: !existsSync(CHROMIUM) && `${CHROMIUM} is not installed` }, () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  });
  after(() => browser?.close());

  for (const transport of ['websocket', 'ws_telnet'] as const) {
    test(`the ${transport} page shows the board, the flipped down crossed out`, async () => {
      const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
      await page.goto(`http://127.0.0.1:${ports[transport]}/`);
      await waitForScreen(page, "Type 'start' to play");
      await page.keyboard.type('start\r');
      await waitForScreen(page, 'Guess Who: 24 of 24 standing');
      await page.keyboard.type('is it a woman?\r');
      await waitForScreen(page, 'Guess Who: 19 of 24 standing');
      const cells = await page.evaluate(() => {
        const { buffer } = (globalThis as unknown as { term: XtermGlobals }).term;
        const found: Record<string, { strike: boolean; dim: boolean }> = {};
        for (let y = 0; y < buffer.active.length; y++) {
          const line = buffer.active.getLine(y)!;
          const text = line.translateToString(true);
          for (const name of ['Anita', 'Alex']) {
            const x = text.indexOf(`  ${name} `);
            if (x === -1) continue;
            const cell = line.getCell(x + 2)!;
            found[name] = { strike: cell.isStrikethrough() !== 0, dim: cell.isDim() !== 0 };
          }
        }
        return found;
      });
      // The seed's secret is Bill, a man: on the last board a woman's name is crossed out, a man's stands.
      assert.deepEqual(cells, { Anita: { strike: true, dim: true }, Alex: { strike: false, dim: false } });
      await page.close();
    });
  }
});

/** What the page exposes of xterm.js as `window.term`. */
interface XtermGlobals {
  buffer: {
    active: {
      length: number;
      getLine(y: number):
        | {
            translateToString(trim: boolean): string;
            getCell(x: number): { isStrikethrough(): number; isDim(): number } | undefined;
          }
        | undefined;
    };
  };
}

async function waitForScreen(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const { buffer } = (globalThis as unknown as { term?: XtermGlobals }).term ?? {};
      for (let y = 0; y < (buffer?.active.length ?? 0); y++) {
        if (buffer!.active.getLine(y)?.translateToString(true).includes(wanted)) return true;
      }
      return false;
    },
    text,
    { timeout: 5000 },
  );
}
