// Guess Who, the rules only: characters, yes/no questions, flipping down, guessing. No I/O, no clock.

/** One face on the board. */
export interface Character {
  readonly name: string;
  readonly gender: 'male' | 'female';
  /** "black", "blonde", "brown", "red", "white", or "none" for the bald. */
  readonly hairColor: string;
  /** "short", "long" or "bald". */
  readonly hairType: string;
  readonly glasses: boolean;
  readonly facialHair: boolean;
  readonly hat: boolean;
}

/** The cast, the questions a player may ask (as they are typed) and how many a game allows. */
export interface GameData {
  readonly characters: readonly Character[];
  readonly questions: readonly string[];
  readonly maxQuestions: number;
}

/** A number in [0, 1), as Math.random gives: the game's only source of chance. */
export type Random = () => number;

/** A question asked in a game and its answer. */
export interface AskedQuestion {
  readonly question: string;
  readonly answer: boolean;
}

/** One game, never changed in place: every move returns the next game. */
export interface Game {
  readonly data: GameData;
  readonly secret: Character;
  /** Characters still standing, in board order; the secret is always among them. */
  readonly standing: readonly Character[];
  readonly asked: readonly AskedQuestion[];
  readonly status: 'playing' | 'won' | 'lost';
}

/** What asking a question did. */
export type AskOutcome =
  | { type: 'answered'; game: Game; answer: boolean; flippedDown: readonly Character[] }
  | { type: 'repeated'; answer: boolean }
  | { type: 'unknown-question' }
  | { type: 'no-questions-left' }
  | { type: 'game-over' };

/** What a guess did. */
export type GuessOutcome =
  { type: 'right' | 'wrong'; game: Game; secret: Character } | { type: 'unknown-name' } | { type: 'game-over' };

/** How each question of the seed's list is answered for a character. */
const TRAITS: Readonly<Record<string, (character: Character) => boolean>> = {
  'is it a man?': (c) => c.gender === 'male',
  'is it a woman?': (c) => c.gender === 'female',
  'do they have glasses?': (c) => c.glasses,
  'do they have a hat?': (c) => c.hat,
  'do they have facial hair?': (c) => c.facialHair,
  'do they have black hair?': (c) => c.hairColor === 'black',
  'do they have blonde hair?': (c) => c.hairColor === 'blonde',
  'do they have brown hair?': (c) => c.hairColor === 'brown',
  'do they have red hair?': (c) => c.hairColor === 'red',
  'do they have white hair?': (c) => c.hairColor === 'white',
  'are they bald?': (c) => c.hairType === 'bald',
  'do they have short hair?': (c) => c.hairType === 'short',
  'do they have long hair?': (c) => c.hairType === 'long',
};

/** Checks the seed's JSON (snake_case keys) and returns it as GameData; throws naming the bad field. */
export function parseGameData(raw: unknown): GameData {
  const root = record(raw, 'data');
  const characters = list(root['characters'], 'characters').map((item, i) => {
    const at = `characters[${i}]`;
    const c = record(item, at);
    const gender = text(c['gender'], `${at}.gender`);
    if (gender !== 'male' && gender !== 'female') throw new Error(`${at}.gender: expected male or female`);
    return {
      name: text(c['name'], `${at}.name`),
      gender,
      hairColor: text(c['hair_color'], `${at}.hair_color`),
      hairType: text(c['hair_type'], `${at}.hair_type`),
      glasses: flag(c['glasses'], `${at}.glasses`),
      facialHair: flag(c['facial_hair'], `${at}.facial_hair`),
      hat: flag(c['hat'], `${at}.hat`),
    } satisfies Character;
  });
  if (characters.length === 0) throw new Error('characters: expected at least one');
  const names = new Set(characters.map((c) => c.name.toLowerCase()));
  if (names.size !== characters.length) throw new Error('characters: two share a name');
  const questions = list(root['questions'], 'questions').map((item, i) => {
    const question = text(item, `questions[${i}]`);
    if (TRAITS[normalize(question)] === undefined) throw new Error(`questions[${i}]: no rule answers "${question}"`);
    return question;
  });
  const maxQuestions = root['max_questions'];
  if (typeof maxQuestions !== 'number' || !Number.isInteger(maxQuestions) || maxQuestions < 1) {
    throw new Error('max_questions: expected a whole number from 1');
  }
  return { characters, questions, maxQuestions };
}

/** A new game with a secret character drawn by `random`, everyone standing and no questions asked. */
export function newGame(data: GameData, random: Random): Game {
  const index = Math.min(Math.floor(random() * data.characters.length), data.characters.length - 1);
  return { data, secret: data.characters[index]!, standing: data.characters, asked: [], status: 'playing' };
}

/** The question of the list that `typed` is (any case and spacing, the "?" optional), if any. */
export function findQuestion(data: GameData, typed: string): string | undefined {
  const wanted = normalize(typed);
  return data.questions.find((question) => normalize(question) === wanted);
}

/** Yes or no for `character`; undefined for a question that is not in the game's list. */
export function answerFor(data: GameData, question: string, character: Character): boolean | undefined {
  const listed = findQuestion(data, question);
  return listed === undefined ? undefined : TRAITS[normalize(listed)]!(character);
}

/** Answers `typed` about the secret and flips down everyone whose answer differs. */
export function ask(game: Game, typed: string): AskOutcome {
  if (game.status !== 'playing') return { type: 'game-over' };
  const question = findQuestion(game.data, typed);
  if (question === undefined) return { type: 'unknown-question' };
  const earlier = game.asked.find((asked) => asked.question === question);
  // Asking again costs nothing: the player only hears the answer they already have.
  if (earlier !== undefined) return { type: 'repeated', answer: earlier.answer };
  if (questionsLeft(game) === 0) return { type: 'no-questions-left' };
  const answer = answerFor(game.data, question, game.secret)!;
  const fits = (character: Character): boolean => answerFor(game.data, question, character) === answer;
  return {
    type: 'answered',
    answer,
    flippedDown: game.standing.filter((character) => !fits(character)),
    game: { ...game, standing: game.standing.filter(fits), asked: [...game.asked, { question, answer }] },
  };
}

/** Names the secret (any case); the game ends either way, unless no one has that name. */
export function guess(game: Game, name: string): GuessOutcome {
  if (game.status !== 'playing') return { type: 'game-over' };
  const guessed = findCharacter(game.data, name);
  if (guessed === undefined) return { type: 'unknown-name' };
  const isRight = guessed === game.secret;
  return {
    type: isRight ? 'right' : 'wrong',
    secret: game.secret,
    game: { ...game, status: isRight ? 'won' : 'lost' },
  };
}

/** The character called `name`, in any case. */
export function findCharacter(data: GameData, name: string): Character | undefined {
  const wanted = name.trim().toLowerCase();
  return data.characters.find((character) => character.name.toLowerCase() === wanted);
}

export function questionsLeft(game: Game): number {
  return game.data.maxQuestions - game.asked.length;
}

/** Whether `character` has been flipped down. */
export function isFlippedDown(game: Game, character: Character): boolean {
  return !game.standing.includes(character);
}

/**
 * A generator of numbers in [0, 1) from a 32-bit seed (mulberry32): the same seed, the same
 * games, for tests and for replaying a game someone reports.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lower case, single spaces, one trailing "?": how typed questions are compared. */
function normalize(question: string): string {
  return `${question
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/\s*\?*$/, '')}?`;
}

function record(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${at}: expected an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${at}: expected a list`);
  return value;
}

function text(value: unknown, at: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${at}: expected text`);
  return value;
}

function flag(value: unknown, at: string): boolean {
  if (typeof value !== 'boolean') throw new Error(`${at}: expected true or false`);
  return value;
}
