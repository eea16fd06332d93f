// The Guess Who sample: the seed's one-player game on every transport, its board drawn for the terminal at hand.
import { readFileSync } from 'node:fs';

import { TelnetHandler } from 'chuk-protocol-server';

import { describeCharacters, describeGame, drawBoard } from './board.js';
import type { Screen } from './board.js';
import { ask, findCharacter, findQuestion, guess, newGame, parseGameData, seededRandom } from './game.js';
import type { Game, Random } from './game.js';

const DATA = parseGameData(JSON.parse(readFileSync(new URL('./guess-who-data.json', import.meta.url), 'utf8')));

/** Terminal types (RFC 1091 names, any case) that show escape sequences as junk. */
const PLAIN_TERMINALS = new Set(['dumb', 'unknown', 'network']);
/** The width assumed when the terminal never said, and the least we lay out for. */
const DEFAULT_COLS = 80;
const MIN_COLS = 20;

/** One player's games: start, ask, list, guess; quit (or exit, q) leaves. */
export class GuessWhoHandler extends TelnetHandler {
  #random: Random = randomSource();
  #game: Game | undefined;

  override async sendWelcome(): Promise<void> {
    await this.sendLine(
      [
        this.welcomeMessage ?? 'Welcome to Guess Who!',
        '-'.repeat(40),
        `I pick someone in secret: ask up to ${DATA.maxQuestions} yes/no questions, then guess who.`,
        "Type 'start' to play, 'help' for the commands and questions, 'quit' to leave.",
      ].join('\n'),
    );
  }

  override async onCommandSubmitted(command: string): Promise<void> {
    const line = command.trim();
    const [word = '', ...rest] = line.split(/\s+/);
    switch (word.toLowerCase()) {
      case '':
        return;
      case 'start':
        return this.#start();
      case 'list':
        return this.#list();
      case 'help':
        return this.#help();
      case 'guess':
        return this.#guess(rest.join(' '));
      default:
        return this.#ask(line);
    }
  }

  async #start(): Promise<void> {
    this.#game = newGame(DATA, this.#random);
    await this.sendLine(['I have picked someone. Ask away!', ...drawBoard(this.#game, this.#screen())].join('\n'));
  }

  async #ask(line: string): Promise<void> {
    const game = this.#game;
    const outcome = game === undefined ? undefined : ask(game, line);
    if (outcome === undefined || outcome.type === 'game-over') {
      const isQuestion = findQuestion(DATA, line) !== undefined;
      await this.sendLine(isQuestion ? 'No game in play: type start to begin one.' : unknownQuestion(line));
      return;
    }
    switch (outcome.type) {
      case 'unknown-question':
        return this.sendLine(unknownQuestion(line));
      case 'repeated':
        return this.sendLine(`You asked that already: ${outcome.answer ? 'Yes' : 'No'}.`);
      case 'no-questions-left':
        return this.sendLine('No questions left: make your guess with guess <name>.');
      case 'answered': {
        const next = (this.#game = outcome.game);
        const lines = [outcome.answer ? 'Yes.' : 'No.', ...drawBoard(next, this.#screen())];
        const [last] = next.standing;
        if (next.standing.length === 1 && last !== undefined)
          lines.push(`Only ${last.name} is left: guess ${last.name}?`);
        else if (next.asked.length === DATA.maxQuestions) {
          lines.push('That was your last question: make your guess with guess <name>.');
        }
        return this.sendLine(lines.join('\n'));
      }
    }
  }

  async #guess(name: string): Promise<void> {
    if (this.#game === undefined || this.#game.status !== 'playing') {
      await this.sendLine('No game in play: type start to begin one.');
      return;
    }
    if (name === '') {
      await this.sendLine('Guess who? Type guess <name>.');
      return;
    }
    const outcome = guess(this.#game, name);
    if (outcome.type === 'unknown-name') {
      await this.sendLine(`No one on the board is called ${name}: type list to see who is.`);
      return;
    }
    if (outcome.type === 'game-over') return;
    this.#game = outcome.game;
    const { secret } = outcome;
    const asked = outcome.game.asked.length;
    const verdict =
      outcome.type === 'right'
        ? `Right! It was ${secret.name}, found with ${asked} question${asked === 1 ? '' : 's'}.`
        : `Wrong: not ${findCharacter(DATA, name)!.name}. It was ${secret.name}.`;
    await this.sendLine(`${verdict}\nType start to play again.`);
  }

  async #list(): Promise<void> {
    const lines =
      this.#game === undefined
        ? ['No game yet; everyone on the board:', ...describeCharacters(DATA, DATA.characters), 'Type start to play.']
        : describeGame(this.#game);
    await this.sendLine(lines.join('\n'));
  }

  async #help(): Promise<void> {
    await this.sendLine(
      [
        'Commands:',
        '  start          pick a secret character and show the board',
        '  list           who is still standing, their features, the questions asked',
        '  guess <name>   say who it is (this ends the game)',
        '  help           this list',
        '  quit           leave',
        `Questions (answered Yes or No, ${DATA.maxQuestions} a game), typed as written here:`,
        ...DATA.questions.map((question) => `  ${question}`),
      ].join('\n'),
    );
  }

  /**
   * How to draw for this user. A terminal that told us its type (telnet and ws_telnet clients,
   * the browser page among them) gets ANSI unless the type is a dumb one. Without a type: plain
   * text for tcp (nc, scripts) and for telnet clients that never said, ANSI on the text WebSocket,
   * whose usual client is the browser page, an xterm.js terminal (`?ansi=off` in the URL for websocat).
   */
  #screen(): Screen {
    const cols = Math.max(MIN_COLS, this.terminal.cols ?? DEFAULT_COLS);
    const type = this.terminal.type?.toLowerCase();
    if (type !== undefined) return { isAnsi: !PLAIN_TERMINALS.has(type), cols };
    return { isAnsi: this.transport === 'websocket' && this.session.query.get('ansi') !== 'off', cols };
  }
}

function unknownQuestion(line: string): string {
  return `I don't know "${line}": type help for the commands and the questions you can ask.`;
}

/** GUESS_WHO_SEED=<number> makes each session's games repeatable (tests, bug reports); unset, they are random. */
function randomSource(): Random {
  const seed = process.env['GUESS_WHO_SEED'];
  return seed === undefined || seed === '' ? Math.random : seededRandom(Number(seed));
}
