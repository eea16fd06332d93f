// Guess Who's rules and board, without a server: every question for every secret, limits, guesses, layout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { describeCharacters, describeGame, drawBoard } from './board.js';
import { ask, findQuestion, guess, newGame, parseGameData, questionsLeft, seededRandom } from './game.js';
import type { Game, GameData } from './game.js';

const RAW: unknown = JSON.parse(readFileSync(new URL('./guess-who-data.json', import.meta.url), 'utf8'));
const DATA = parseGameData(RAW);
const NAMES = DATA.characters.map((character) => character.name);

/** Who answers Yes to each question, read off the data file by hand: the rules must agree. */
const YES: Record<string, string[]> = {
  'is it a man?': NAMES.filter((name) => !['Anita', 'Anne', 'Claire', 'Maria', 'Susan'].includes(name)),
  'is it a woman?': ['Anita', 'Anne', 'Claire', 'Maria', 'Susan'],
  'do they have glasses?': ['Claire', 'Joe', 'Paul', 'Sam', 'Tom'],
  'do they have a hat?': ['Bernard', 'Eric', 'George', 'Maria'],
  'do they have facial hair?': ['Alfred', 'Bernard', 'Bill', 'Charles', 'David', 'Max', 'Philip', 'Richard'],
  'do they have black hair?': ['Alex', 'Anne', 'Max', 'Philip'],
  'do they have blonde hair?': ['Anita', 'Charles', 'David', 'Eric', 'Joe'],
  'do they have brown hair?': ['Bernard', 'Maria', 'Robert'],
  'do they have red hair?': ['Claire', 'Frans'],
  'do they have white hair?': ['George', 'Paul', 'Peter', 'Susan'],
  'are they bald?': ['Alfred', 'Bill', 'Herman', 'Richard', 'Sam', 'Tom'],
  'do they have short hair?': NAMES.filter(
    (name) => !['Alfred', 'Bill', 'Herman', 'Richard', 'Sam', 'Tom', 'Anita', 'Maria', 'Susan'].includes(name),
  ),
  'do they have long hair?': ['Anita', 'Maria', 'Susan'],
};

/** A game whose secret is `name`: the injected random number picks its index. */
function gameWith(name: string, data: GameData = DATA): Game {
  const index = data.characters.findIndex((character) => character.name === name);
  assert.ok(index >= 0, name);
  return newGame(data, () => (index + 0.5) / data.characters.length);
}

function answered(game: Game, question: string) {
  const outcome = ask(game, question);
  assert.equal(outcome.type, 'answered', question);
  return outcome as Extract<typeof outcome, { type: 'answered' }>;
}

const names = (characters: readonly { name: string }[]): string[] => characters.map((character) => character.name);

test('the data file holds the seed game: 24 characters, the 13 questions as listed, 10 questions a game', () => {
  assert.equal(DATA.characters.length, 24);
  assert.deepEqual(DATA.questions, Object.keys(YES));
  assert.equal(DATA.maxQuestions, 10);
});

test('every question is answered right for every secret, and flips down exactly those who differ', () => {
  for (const secret of NAMES) {
    for (const [question, yes] of Object.entries(YES)) {
      const outcome = answered(gameWith(secret), question);
      const answer = yes.includes(secret);
      assert.equal(outcome.answer, answer, `${question} for ${secret}`);
      const fits = NAMES.filter((name) => yes.includes(name) === answer);
      assert.deepEqual(names(outcome.game.standing), fits, `${question} for ${secret}`);
      assert.deepEqual(
        names(outcome.flippedDown),
        NAMES.filter((name) => !fits.includes(name)),
      );
      assert.ok(names(outcome.game.standing).includes(secret), 'the secret is never flipped down');
      assert.deepEqual(outcome.game.asked, [{ question, answer }]);
    }
  }
});

test('answers narrow the board question after question; the original game is left as it was', () => {
  const start = gameWith('Claire');
  const women = answered(start, 'is it a woman?');
  const glasses = answered(women.game, 'do they have glasses?');
  assert.deepEqual(names(women.game.standing), ['Anita', 'Anne', 'Claire', 'Maria', 'Susan']);
  assert.deepEqual(names(glasses.game.standing), ['Claire']);
  assert.deepEqual(names(glasses.flippedDown), ['Anita', 'Anne', 'Maria', 'Susan']);
  assert.equal(questionsLeft(glasses.game), 8);
  assert.equal(start.standing.length, 24);
  assert.equal(start.asked.length, 0);
});

test('questions match in any case and spacing, with or without the question mark; others are unknown', () => {
  assert.equal(findQuestion(DATA, 'IS IT A MAN?'), 'is it a man?');
  assert.equal(findQuestion(DATA, '  do  they have   a hat '), 'do they have a hat?');
  assert.equal(findQuestion(DATA, 'is it a man??'), 'is it a man?');
  assert.equal(findQuestion(DATA, 'is it a dog?'), undefined);
  assert.equal(answered(gameWith('Maria'), 'Do They Have A Hat?').answer, true);
  assert.deepEqual(ask(gameWith('Maria'), 'is it a dog?'), { type: 'unknown-question' });
});

test('at most 10 questions a game; asking one again repeats its answer without using a question', () => {
  let game = gameWith('Anne');
  for (const question of DATA.questions.slice(0, 10)) {
    game = answered(game, question).game;
    const again = ask(game, question.toUpperCase());
    assert.deepEqual(again, { type: 'repeated', answer: YES[question]!.includes('Anne') });
  }
  assert.equal(questionsLeft(game), 0);
  assert.deepEqual(ask(game, DATA.questions[10]!), { type: 'no-questions-left' });
  assert.equal(ask(game, DATA.questions[0]!).type, 'repeated');
  assert.equal(game.asked.length, 10);
  // Questions run out, the guess does not.
  assert.equal(guess(game, 'Anne').type, 'right');
});

test('a right guess wins, a wrong one loses and tells who it was, names in any case', () => {
  const right = guess(gameWith('Alex'), 'aLeX');
  assert.equal(right.type, 'right');
  assert.equal(right.type === 'right' && right.game.status, 'won');
  const wrong = guess(gameWith('Alex'), 'BILL');
  assert.equal(wrong.type, 'wrong');
  assert.equal(wrong.type === 'wrong' && wrong.secret.name, 'Alex');
  assert.equal(wrong.type === 'wrong' && wrong.game.status, 'lost');
  // Guessing someone already flipped down is allowed, and wrong.
  const narrowed = answered(gameWith('Anne'), 'is it a woman?').game;
  assert.equal(guess(narrowed, 'alex').type, 'wrong');
});

test('a name nobody has is no guess; a finished game takes neither questions nor guesses', () => {
  const game = gameWith('Tom');
  assert.deepEqual(guess(game, 'Zaphod'), { type: 'unknown-name' });
  const over = guess(game, 'tom');
  assert.ok(over.type === 'right');
  assert.deepEqual(ask(over.game, 'is it a man?'), { type: 'game-over' });
  assert.deepEqual(guess(over.game, 'tom'), { type: 'game-over' });
});

test('the secret is drawn by the injected random source, from the whole cast', () => {
  assert.equal(newGame(DATA, () => 0).secret.name, 'Alex');
  assert.equal(newGame(DATA, () => 0.999999).secret.name, 'Tom');
  const first = seededRandom(29);
  const second = seededRandom(29);
  const drawn = Array.from({ length: 200 }, () => newGame(DATA, first).secret.name);
  assert.deepEqual(
    drawn,
    Array.from({ length: 200 }, () => newGame(DATA, second).secret.name),
    'the same seed draws the same secrets',
  );
  assert.equal(new Set(drawn).size, 24, 'every character comes up');
  const random = seededRandom(7);
  for (let i = 0; i < 1000; i++) {
    const value = random();
    assert.ok(value >= 0 && value < 1, String(value));
  }
});

test('bad data is refused naming what is wrong', () => {
  const raw = RAW as { characters: object[]; questions: string[]; max_questions: number };
  assert.throws(() => parseGameData({ ...raw, questions: ['is it a dog?'] }), /questions\[0\]: no rule answers/);
  assert.throws(() => parseGameData({ ...raw, max_questions: 0 }), /max_questions/);
  assert.throws(
    () => parseGameData({ ...raw, characters: [{ ...raw.characters[0], glasses: 'no' }] }),
    /characters\[0\]\.glasses/,
  );
  assert.throws(() => parseGameData({ ...raw, characters: [raw.characters[0], raw.characters[0]] }), /share a name/);
});

const ESC = '\x1b';
/** What a terminal shows of a line: its text without SGR sequences. */
const visible = (line: string): string => line.replace(/\x1b\[[\d;]*m/g, '');

test('the ANSI board is a 6 by 4 grid in 80 columns, the flipped down dimmed and crossed out in place', () => {
  const game = answered(gameWith('Claire'), 'is it a woman?').game;
  const lines = drawBoard(game, { isAnsi: true, cols: 80 });
  assert.equal(visible(lines[0]!), 'Guess Who: 5 of 24 standing, 9 of 10 questions left');
  assert.equal(lines.length, 5);
  assert.equal(visible(lines[1]!), '  Alex      Alfred    Anita     Anne      Bernard   Bill');
  for (const line of lines) assert.ok(visible(line).length <= 80, line);
  assert.ok(lines[1]!.includes(`${ESC}[2;9mAlex${ESC}[0m`), 'flipped down: dim, crossed out');
  assert.ok(lines[1]!.includes(`${ESC}[1mAnita${ESC}[0m`), 'standing: bold');
  const crossed = lines.join('\n').match(/\x1b\[2;9m/g) ?? [];
  assert.equal(crossed.length, 19);
});

test('the board fits narrower terminals: fewer names a row, the heading on two lines', () => {
  for (const cols of [20, 30, 40, 52, 61]) {
    const lines = drawBoard(gameWith('Anne'), { isAnsi: true, cols });
    for (const line of lines) assert.ok(visible(line).length <= cols, `${cols}: ${JSON.stringify(line)}`);
    const grid = lines.filter((line) => line.startsWith('  '));
    const shown = grid.flatMap((line) => visible(line).trim().split(/\s+/));
    assert.deepEqual(shown, NAMES, `${cols}: every name once, in order`);
  }
  const forty = drawBoard(gameWith('Anne'), { isAnsi: true, cols: 40 });
  assert.deepEqual(forty.slice(0, 2), ['Guess Who: 24 of 24 standing', '10 of 10 questions left']);
  assert.equal(visible(forty[2]!), '  Alex      Alfred    Anita     Anne');
});

test('the plain board has no escape byte and shows only those still standing', () => {
  const game = answered(gameWith('Claire'), 'is it a woman?').game;
  const lines = drawBoard(game, { isAnsi: false, cols: 80 });
  assert.ok(!lines.join('\n').includes(ESC));
  assert.deepEqual(lines, [
    'Guess Who: 5 of 24 standing, 9 of 10 questions left',
    '  Anita     Anne      Claire    Maria     Susan',
  ]);
});

test('list shows each standing character with its features, then the questions asked', () => {
  const game = answered(answered(gameWith('Maria'), 'is it a woman?').game, 'do they have a hat?').game;
  assert.deepEqual(describeGame(game), [
    'Still standing (1):',
    '  Maria    woman, long brown hair, hat',
    'Questions asked (2 of 10):',
    '  is it a woman? Yes',
    '  do they have a hat? Yes',
  ]);
  assert.deepEqual(describeCharacters(DATA, DATA.characters.slice(4, 6)), [
    '  Bernard  man, short brown hair, facial hair, hat',
    '  Bill     man, bald, facial hair',
  ]);
  assert.deepEqual(describeGame(gameWith('Sam')).slice(-2), ['Questions asked (0 of 10):', '  none yet']);
});
