// Guess Who on a text screen: the board as a grid of names, and the list of who is left. Pure text.
import { isFlippedDown, questionsLeft } from './game.js';
import type { Character, Game, GameData } from './game.js';

/** How the screen draws: ANSI styles or plain text, and how many columns it has. */
export interface Screen {
  /** Whether SGR styles (bold, dim, crossed out) show as styles rather than as stray bytes. */
  isAnsi: boolean;
  /** Columns of the terminal; 80 when it never said. */
  cols: number;
}

/** Names per board row when the screen is wide enough: 24 faces make a 6 by 4 board. */
const MAX_PER_ROW = 6;
const INDENT = '  ';
const STANDING = '\x1b[1m';
/** Dim and crossed out (SGR 2 and 9); terminals without crossed-out still dim. */
const FLIPPED_DOWN = '\x1b[2;9m';
const RESET = '\x1b[0m';

/**
 * The board: a heading, then the names in a grid that fits `screen.cols`. With ANSI, flipped-down
 * names stay in place, dimmed and crossed out; in plain text only the names still standing are shown.
 */
export function drawBoard(game: Game, screen: Screen): string[] {
  const { data } = game;
  const heading = [
    `Guess Who: ${game.standing.length} of ${data.characters.length} standing`,
    `${questionsLeft(game)} of ${data.maxQuestions} questions left`,
  ];
  const lines = fitLine(heading, screen.cols);
  const shown = screen.isAnsi ? data.characters : game.standing;
  const cell = Math.max(...data.characters.map((c) => c.name.length)) + 3;
  const perRow = Math.max(1, Math.min(MAX_PER_ROW, Math.floor((screen.cols - INDENT.length + 3) / cell)));
  for (let start = 0; start < shown.length; start += perRow) {
    const row = shown.slice(start, start + perRow).map((character, i, all) => {
      const padding = i === all.length - 1 ? '' : ' '.repeat(cell - character.name.length);
      if (!screen.isAnsi) return character.name + padding;
      const style = isFlippedDown(game, character) ? FLIPPED_DOWN : STANDING;
      return `${style}${character.name}${RESET}${padding}`;
    });
    lines.push(INDENT + row.join(''));
  }
  return lines;
}

/** `list`: every character still standing with its features, then the questions asked so far. */
export function describeGame(game: Game): string[] {
  const lines = [`Still standing (${game.standing.length}):`, ...describeCharacters(game.data, game.standing)];
  lines.push(`Questions asked (${game.asked.length} of ${game.data.maxQuestions}):`);
  if (game.asked.length === 0) lines.push(`${INDENT}none yet`);
  for (const { question, answer } of game.asked) lines.push(`${INDENT}${question} ${answer ? 'Yes' : 'No'}`);
  return lines;
}

/** One line per character: name, then man or woman, hair, and glasses, facial hair or a hat. */
export function describeCharacters(data: GameData, characters: readonly Character[]): string[] {
  const width = Math.max(...data.characters.map((c) => c.name.length)) + 2;
  return characters.map((character) => {
    const features = [
      character.gender === 'male' ? 'man' : 'woman',
      character.hairType === 'bald' ? 'bald' : `${character.hairType} ${character.hairColor} hair`,
    ];
    if (character.glasses) features.push('glasses');
    if (character.facialHair) features.push('facial hair');
    if (character.hat) features.push('hat');
    return `${INDENT}${character.name.padEnd(width)}${features.join(', ')}`;
  });
}

/** The parts joined by commas on as few lines as fit in `cols`; a part too long for a line is wrapped. */
function fitLine(parts: string[], cols: number): string[] {
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + 2 + part.length <= cols) lines[last] += `, ${part}`;
    else lines.push(...wrapWords(part, cols));
  }
  return lines;
}

/** Words on lines of at most `cols` characters (a longer word has a line of its own). */
function wrapWords(text: string, cols: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last]!.length + 1 + word.length <= cols) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}
