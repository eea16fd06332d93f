// Tests of LineEditor: what the user sees on a virtual terminal line, and the lines that come out.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import xterm from '@xterm/headless';
import fc from 'fast-check';
import { eastAsianWidth } from 'get-east-asian-width';
import { KeyReader } from './key-reader.js';
import type { InputToken, KeyName } from './key-reader.js';
import { LineEditor } from './line-editor.js';
import type { EditResult } from './line-editor.js';

/** The right half of a wide character's two cells. */
const CONTINUATION = '';

/**
 * One terminal line as a VT100 would show it: printable characters (wide ones in two
 * cells, combining marks on the cell before), \b, \r, \n, ESC[nD, ESC[nC and ESC[K.
 * Anything else throws, so unexpected output fails the test.
 */
class VirtualLine {
  cells: string[] = [];
  column = 0;
  scrolled: string[] = [];

  write(output: string): void {
    for (const [whole, count, command] of output.matchAll(/\x1b\[(\d*)([A-Za-z])|\x1b|[\s\S]/gu)) {
      const n = Number(count || '1');
      if (command === 'D') this.column = Math.max(0, this.column - n);
      else if (command === 'C') this.column += n;
      else if (command === 'K') this.cells.length = Math.min(this.cells.length, this.column);
      else if (command !== undefined || whole === '\x1b')
        throw new Error(`unexpected sequence ${JSON.stringify(whole)}`);
      else if (whole === '\b') this.column = Math.max(0, this.column - 1);
      else if (whole === '\r') this.column = 0;
      else if (whole === '\n') {
        this.scrolled.push(this.text);
        this.cells = [];
      } else if (/\p{Cc}/u.test(whole)) throw new Error(`unexpected control ${JSON.stringify(whole)}`);
      else this.#put(whole);
    }
  }

  /** The line as seen, trailing blanks dropped. */
  get text(): string {
    return Array.from(this.cells, (cell) => cell ?? ' ')
      .join('')
      .trimEnd();
  }

  #put(char: string): void {
    const width = /^[\p{Mn}\p{Me}\p{Cf}]$/u.test(char) ? 0 : eastAsianWidth(char.codePointAt(0)!);
    if (width === 0) {
      let base = this.column - 1;
      if (this.cells[base] === CONTINUATION) base--;
      if (base >= 0) this.cells[base] += char;
      return;
    }
    this.#unsplit(this.column);
    if (width === 2) this.#unsplit(this.column + 1);
    this.cells[this.column] = char;
    if (width === 2) this.cells[this.column + 1] = CONTINUATION;
    this.column += width;
  }

  /** Overwriting half of a wide character blanks its other half, as terminals do. */
  #unsplit(column: number): void {
    if (this.cells[column] === CONTINUATION) this.cells[column - 1] = ' ';
    else if (this.cells[column + 1] === CONTINUATION) this.cells[column + 1] = ' ';
  }
}

function text(value: string): InputToken {
  return { type: 'text', text: value };
}

function key(name: KeyName): InputToken {
  return { type: 'key', name, sequence: '' };
}

/** Feeds tokens to the editor, showing every echo on the screen; returns the last result. */
function type(editor: LineEditor, screen: VirtualLine, ...tokens: InputToken[]): EditResult {
  let result: EditResult = { echo: '' };
  for (const token of tokens) {
    result = editor.feed(token);
    screen.write(result.echo);
  }
  return result;
}

function setup(options?: ConstructorParameters<typeof LineEditor>[0]): {
  editor: LineEditor;
  screen: VirtualLine;
} {
  return { editor: new LineEditor(options), screen: new VirtualLine() };
}

function columnsOf(value: string): number {
  let columns = 0;
  for (const char of value) {
    columns += /^[\p{Mn}\p{Me}\p{Cf}]$/u.test(char) ? 0 : eastAsianWidth(char.codePointAt(0)!);
  }
  return columns;
}

test('typing at the end echoes the text itself', () => {
  const { editor } = setup();
  assert.deepEqual(editor.feed(text('hello')), { echo: 'hello' });
  assert.equal(editor.buffer, 'hello');
  assert.equal(editor.cursor, 5);
});

test('a typo fixed with backspace shows and returns the fixed line', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('hellp'));
  assert.equal(editor.feed(key('backspace')).echo, '\b \b');
  screen.write('\b \b');
  type(editor, screen, text('o'));
  assert.equal(screen.text, 'hello');
  const result = type(editor, screen, key('enter'));
  assert.deepEqual(result, { echo: '\r\n', line: 'hello' });
  assert.deepEqual(screen.scrolled, ['hello']);
  assert.equal(editor.buffer, '');
  assert.equal(editor.cursor, 0);
});

test('inserting in the middle redraws the tail and puts the cursor back', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('helo, world'), key('home'), key('right'), key('right'), key('right'));
  const result = type(editor, screen, text('l'));
  assert.equal(result.echo, 'lo, world\x1b[8D');
  assert.equal(screen.text, 'hello, world');
  assert.equal(screen.column, 4);
  assert.equal(editor.buffer, 'hello, world');
  assert.equal(editor.cursor, 4);
});

test('backspace and delete in the middle close the gap', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('abXcYd'), key('left'), key('left'), key('backspace'));
  assert.equal(screen.text, 'abXYd');
  type(editor, screen, key('delete'));
  assert.equal(screen.text, 'abXd');
  assert.equal(screen.column, 3);
  type(editor, screen, key('home'), key('right'), key('right'), key('delete'));
  assert.equal(screen.text, 'abd');
  assert.equal(screen.column, 2);
  assert.deepEqual(type(editor, screen, key('enter')).line, 'abd');
});

test('nothing to erase gives no output', () => {
  const { editor } = setup();
  assert.deepEqual(editor.feed(key('backspace')), { echo: '' });
  editor.feed(text('ab'));
  assert.deepEqual(editor.feed(key('delete')), { echo: '' });
  editor.feed(key('home'));
  assert.deepEqual(editor.feed(key('backspace')), { echo: '' });
  assert.deepEqual(editor.feed(key('left')), { echo: '' });
});

test('wide characters take two columns and erase fully', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('a中😀'));
  assert.equal(screen.column, 5);
  assert.equal(editor.feed(key('backspace')).echo, '\b\b  \b\b');
  screen.write('\b\b  \b\b');
  assert.equal(screen.text, 'a中');
  type(editor, screen, text('b'), key('left'), key('left'), key('backspace'));
  assert.equal(screen.text, '中b');
  assert.equal(screen.column, 0);
  type(editor, screen, key('right'));
  assert.equal(screen.column, 2);
  type(editor, screen, text('文'));
  assert.equal(screen.text, '中文b');
  assert.equal(screen.column, 4);
  assert.equal(editor.buffer, '中文b');
});

test('a character with a combining mark moves and erases as one', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('cafe\u0301!'), key('left'), key('left'));
  assert.equal(editor.cursor, 3);
  assert.equal(screen.column, 3);
  type(editor, screen, key('delete'));
  assert.equal(editor.buffer, 'caf!');
  assert.equal(screen.text, 'caf!');
});

test('surrogate pairs stay whole', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('x😀y'), key('left'), key('backspace'));
  assert.equal(editor.buffer, 'xy');
  assert.equal(editor.cursor, 1);
  assert.equal(screen.text, 'xy');
});

test('home and end jump over the line', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('one 中'), key('home'));
  assert.equal(screen.column, 0);
  type(editor, screen, text('>'), key('end'), text('<'));
  assert.equal(screen.text, '>one 中<');
  assert.equal(screen.column, 8);
});

test('up recalls history, down walks back and restores the draft', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('first'), key('enter'), text('second command'), key('enter'));
  type(editor, screen, text('draft'), key('left'));
  type(editor, screen, key('up'));
  assert.equal(screen.text, 'second command');
  assert.equal(editor.buffer, 'second command');
  type(editor, screen, key('up'));
  assert.equal(screen.text, 'first');
  assert.equal(screen.column, 5);
  assert.deepEqual(editor.feed(key('up')), { echo: '' });
  type(editor, screen, key('down'), key('down'));
  assert.equal(screen.text, 'draft');
  assert.equal(editor.buffer, 'draft');
  assert.deepEqual(editor.feed(key('down')), { echo: '' });
  type(editor, screen, key('up'), text('!'));
  assert.equal(type(editor, screen, key('enter')).line, 'second command!');
});

test('a disposed editor has no history left to recall', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('secret'), key('enter'));
  editor.dispose();
  assert.deepEqual(editor.feed(key('up')), { echo: '' });
  assert.equal(editor.buffer, '');
});

test('history skips blank lines and repeats of the newest, and keeps historySize lines', () => {
  const { editor, screen } = setup({ historySize: 2 });
  for (const line of ['a', 'b', 'b', '', '  ', 'c']) type(editor, screen, text(line), key('enter'));
  type(editor, screen, key('up'), key('up'));
  assert.equal(editor.buffer, 'b');
  assert.deepEqual(editor.feed(key('up')), { echo: '' });
});

test('history keeps the newest historySize lines however many came, and a line browsed stays put as more come', () => {
  const { editor, screen } = setup({ historySize: 3 });
  for (let n = 1; n <= 10; n++) type(editor, screen, text(`line ${n}`), key('enter'));
  type(editor, screen, key('up'), key('up'), key('up'));
  assert.equal(editor.buffer, 'line 8');
  assert.deepEqual(editor.feed(key('up')), { echo: '' });
  // Its line forgotten, browsing goes on from the oldest kept.
  editor.addHistory('line 11');
  type(editor, screen, key('down'));
  assert.equal(editor.buffer, 'line 10');
  for (let n = 12; n <= 14; n++) editor.addHistory(`line ${n}`);
  type(editor, screen, key('down'));
  assert.equal(editor.buffer, 'line 13');
});

test('ctrl-w kills the word before the cursor, like bash', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('git commit  -m'), key('kill-word'));
  assert.equal(screen.text, 'git commit');
  type(editor, screen, key('kill-word'));
  assert.equal(editor.buffer, 'git ');
  type(editor, screen, text('log --oneline'), key('home'), key('right'), key('right'), key('right'), key('right'));
  type(editor, screen, key('kill-word'));
  assert.equal(screen.text, 'log --oneline');
  assert.equal(screen.column, 0);
  assert.equal(editor.buffer, 'log --oneline');
});

test('ctrl-u kills the whole line', () => {
  const { editor, screen } = setup();
  type(editor, screen, text('rm -rf 中'), key('left'), key('left'), key('kill-line'));
  assert.equal(screen.text, '');
  assert.equal(screen.column, 0);
  assert.equal(editor.buffer, '');
  type(editor, screen, text('ls'));
  assert.equal(screen.text, 'ls');
});

test('mask shows one star per character and edits consistently', () => {
  const { editor, screen } = setup();
  editor.echo = 'mask';
  type(editor, screen, text('pä中😀'));
  assert.equal(screen.text, '****');
  type(editor, screen, key('backspace'), key('left'), key('backspace'));
  assert.equal(screen.text, '**');
  assert.equal(screen.column, 1);
  assert.equal(editor.buffer, 'p中');
  const result = type(editor, screen, key('enter'));
  assert.deepEqual(result, { echo: '\r\n', line: 'p中' });
  assert.deepEqual(editor.feed(key('up')), { echo: '' });
});

test('echo off edits silently and keeps hidden lines out of history', () => {
  const { editor } = setup();
  editor.echo = 'off';
  for (const token of [text('secreT'), key('backspace'), text('t'), key('left'), key('home')]) {
    assert.deepEqual(editor.feed(token), { echo: '' });
  }
  assert.deepEqual(editor.feed(key('enter')), { echo: '', line: 'secret' });
  editor.echo = 'on';
  assert.deepEqual(editor.feed(key('up')), { echo: '' });
});

test('characters beyond maxLineLength are dropped and not echoed', () => {
  const { editor, screen } = setup({ maxLineLength: 5 });
  type(editor, screen, text('abc'));
  assert.equal(editor.feed(text('中😀xyz')).echo, '中😀');
  screen.write('中😀');
  assert.deepEqual(editor.feed(text('more')), { echo: '' });
  assert.equal(screen.text, 'abc中😀');
  assert.equal(type(editor, screen, key('enter')).line, 'abc中😀');
});

test('ctrl-d on an empty line is eof, on a non-empty line it deletes', () => {
  const { editor, screen } = setup();
  assert.deepEqual(editor.feed(key('eof')), { echo: '', signal: 'eof' });
  type(editor, screen, text('abc'), key('left'), key('left'));
  const result = type(editor, screen, key('eof'));
  assert.equal(result.signal, undefined);
  assert.equal(screen.text, 'ac');
  assert.equal(editor.buffer, 'ac');
  type(editor, screen, key('end'));
  assert.deepEqual(editor.feed(key('eof')), { echo: '' });
});

test('ctrl-c on a half-typed line drops it and shows the prompt again; on an empty line it interrupts', () => {
  const { editor } = setup();
  editor.prompt = '> ';
  editor.feed(text('half'));
  assert.deepEqual(editor.feed(key('interrupt')), { echo: '^C\r\n> ' });
  assert.equal(editor.buffer, '');
  assert.equal(editor.cursor, 0);
  assert.deepEqual(editor.feed(key('interrupt')), { echo: '', signal: 'interrupt' });
  // A line wrapped over rows: the prompt comes back below its last row.
  editor.width = 10;
  editor.feed(text('x'.repeat(25)));
  editor.feed(key('home'));
  assert.deepEqual(editor.feed(key('interrupt')), { echo: '\x1b[2B^C\r\n> ' });
});

test('keys without an editing meaning change nothing and show nothing', () => {
  const { editor } = setup();
  editor.feed(text('ab'));
  for (const name of [
    'tab',
    'escape',
    'control',
    'unknown',
    'page-up',
    'page-down',
    'insert',
    'clear-screen',
  ] as const) {
    assert.deepEqual(editor.feed({ type: 'key', name, sequence: '\x1b[Z' }), {
      echo: '',
    });
  }
  assert.equal(editor.buffer, 'ab');
});

test('control characters in text never enter the line', () => {
  const { editor } = setup();
  assert.deepEqual(editor.feed(text('a\x1b[2Jb')), { echo: 'a[2Jb' });
});

test('bytes from a terminal through KeyReader edit as the user saw them', () => {
  const reader = new KeyReader();
  const { editor, screen } = setup();
  const lines: string[] = [];
  for (const chunk of ['hellp\x7fo wold', '\x1b[D\x1b', '[Dr\x1b[F!\r', '\n']) {
    for (const token of reader.push(new TextEncoder().encode(chunk))) {
      const result = type(editor, screen, token);
      if (result.line !== undefined) lines.push(result.line);
    }
  }
  assert.deepEqual(lines, ['hello world!']);
  assert.deepEqual(screen.scrolled, ['hello world!']);
});

test('the screen always shows the buffer with the cursor in place', () => {
  const token = fc.oneof(
    fc.constantFrom('a', 'bc', ' ', 'word ', 'é', 'e\u0301', '中', '😀', 'x中y').map(text),
    fc
      .constantFrom<KeyName>(
        'backspace',
        'delete',
        'left',
        'right',
        'home',
        'end',
        'up',
        'down',
        'kill-line',
        'kill-word',
        'enter',
        'eof',
        'tab',
      )
      .map(key),
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 40 }), fc.constantFrom('on' as const, 'mask' as const), (tokens, echo) => {
      const { editor, screen } = setup({ maxLineLength: 12, historySize: 3 });
      editor.echo = echo;
      for (const item of tokens) {
        type(editor, screen, item);
        const before = Array.from(editor.buffer).slice(0, editor.cursor).join('');
        if (echo === 'on') {
          assert.equal(screen.text, editor.buffer.trimEnd());
          assert.equal(screen.column, columnsOf(before));
        } else {
          const stars = (value: string): string => value.replace(/[\p{Mn}\p{Me}\p{Cf}]/gu, '').replace(/./gsu, '*');
          assert.equal(screen.text, stars(editor.buffer));
          assert.equal(screen.column, stars(before).length);
        }
      }
    }),
    { numRuns: 1000 },
  );
});

test('a huge paste is cut to maxLineLength without splitting a surrogate pair', () => {
  const { editor } = setup({ maxLineLength: 3 });
  assert.deepEqual(editor.feed(text('a😀'.repeat(100_000))), { echo: 'a😀a' });
  assert.equal(editor.buffer, 'a😀a');
});

// Ctrl-L.

test('ctrl-l clears the screen and draws the prompt and the line at its top, the cursor where it was', () => {
  const { editor } = setup();
  editor.prompt = '> ';
  editor.feed(text('hello'));
  editor.feed(key('left'));
  editor.feed(key('left'));
  assert.equal(editor.clearScreen(true), '\x1b[H\x1b[2J> hello\x1b[2D');
  assert.equal(editor.buffer, 'hello');
  assert.equal(editor.cursor, 3);
  // Typed ahead while no prompt is up, the line is drawn after the prompt it will answer.
  assert.equal(editor.clearScreen(false), '\x1b[H\x1b[2J> hello\x1b[2D');
});

test('ctrl-l with no prompt up and nothing typed only clears the screen', () => {
  const { editor } = setup();
  editor.prompt = '> ';
  assert.equal(editor.clearScreen(false), '\x1b[H\x1b[2J');
  assert.equal(editor.clearScreen(true), '\x1b[H\x1b[2J> ');
});

test('ctrl-l while a password is typed shows the prompt again and nothing of the password', () => {
  const { editor } = setup();
  editor.prompt = 'Password: ';
  editor.echo = 'hidden';
  editor.feed(text('secret'));
  assert.equal(editor.clearScreen(true), '\x1b[H\x1b[2JPassword: ');
  editor.echo = 'mask';
  assert.equal(editor.clearScreen(true), '\x1b[H\x1b[2JPassword: ******');
  editor.echo = 'off';
  assert.equal(editor.clearScreen(true), '');
  assert.equal(editor.buffer, 'secret');
});

test('ctrl-l on a line taller than the screen draws it from the prompt down to the cursor', async () => {
  const terminal = new Terminal(10, 3);
  const editor = new LineEditor();
  editor.width = 10;
  editor.height = 3;
  editor.prompt = '> ';
  await terminal.write('> ');
  await terminal.write(editor.feed(text('abcdefghijklmnopqrstuvwxyz0123456789')).echo);
  await terminal.write(editor.feed(key('home')).echo);
  await terminal.write(editor.clearScreen(true));
  assert.deepEqual(terminal.screen, ['> abcdefgh', 'ijklmnopqr', 'stuvwxyz01']);
  assert.deepEqual(terminal.cursor, { row: 0, column: 2 });
  await terminal.write(editor.feed(key('end')).echo);
  assertShowsLine(terminal, editor, 10);
  terminal.dispose();
});

test('editors whose prompts are set in turn each wrap their line after their own prompt', async () => {
  // Prompts are measured once and the last measure kept for the next editor: each must get its own.
  const prompts = ['> ', 'name> ', '> '];
  const editors = prompts.map((prompt) => {
    const editor = new LineEditor();
    editor.width = 10;
    editor.height = 5;
    editor.prompt = prompt;
    return editor;
  });
  for (const editor of editors) {
    const terminal = new Terminal(10, 5);
    await terminal.write(editor.prompt);
    await terminal.write(editor.feed(text('abcdefghijklmnop')).echo);
    // Home goes back over the rows the prompt and the line take: the prompt's width counts.
    await terminal.write(editor.feed(key('home')).echo);
    assertShowsLine(terminal, editor, 10);
    await terminal.write(editor.feed(key('end')).echo);
    assertShowsLine(terminal, editor, 10);
    terminal.dispose();
  }
});

// Lines wider and taller than the screen, on a real terminal (xterm.js, headless).

/** An xterm of cols x rows with scrollback: what the user sees, where the cursor is, and what scrolled by. */
class Terminal {
  readonly #terminal: xterm.Terminal;

  constructor(cols: number, rows: number) {
    this.#terminal = new xterm.Terminal({ cols, rows, scrollback: 1000, allowProposedApi: true });
  }

  write(data: string): Promise<void> {
    return new Promise((resolve) => this.#terminal.write(data, resolve));
  }

  /** The screen's rows, trailing blanks dropped. */
  get screen(): string[] {
    const buffer = this.#terminal.buffer.active;
    return Array.from({ length: this.#terminal.rows }, (_, row) =>
      buffer
        .getLine(buffer.baseY + row)!
        .translateToString(true)
        .trimEnd(),
    );
  }

  /** Every row written, scrollback first, down to the cursor's row (not included). */
  get above(): string[] {
    const buffer = this.#terminal.buffer.active;
    return Array.from({ length: buffer.baseY + buffer.cursorY }, (_, row) =>
      buffer.getLine(row)!.translateToString(true).trimEnd(),
    );
  }

  get cursor(): { row: number; column: number } {
    const buffer = this.#terminal.buffer.active;
    return { row: buffer.cursorY, column: buffer.cursorX };
  }

  dispose(): void {
    this.#terminal.dispose();
  }
}

/**
 * The rows `text` fills on a terminal `cols` wide, and where the cursor stands after its first
 * `cursor` code points: a wide character that does not fit the last column goes to the next row.
 */
function wrapped(text: string, cols: number, cursor: number): { rows: string[]; row: number; column: number } {
  const rows: string[] = [''];
  let column = 0;
  let at = { row: 0, column: 0 };
  const chars = Array.from(text);
  let baseRow = 0;
  chars.forEach((char, i) => {
    if (i === cursor) at = { row: rows.length - 1, column };
    const width = columnsOf(char);
    if (width === 0) {
      // A combining mark sits on its base character's cell, even at the margin.
      rows[baseRow] += char;
      return;
    }
    if (column + width > cols) {
      rows.push('');
      column = 0;
    }
    baseRow = rows.length - 1;
    rows[baseRow] += char;
    column += width;
    if (column >= cols) {
      rows.push('');
      column = 0;
    }
  });
  if (cursor >= chars.length) at = { row: rows.length - 1, column };
  if (rows.length > 1 && rows[rows.length - 1] === '') rows.pop();
  // A terminal shows a blank as nothing once nothing follows it.
  return { rows: rows.map((row) => row.trimEnd()), ...at };
}

/** Text of the line as the editor shows it: itself, or in mask mode one star per character, marks left out. */
function shown(editor: LineEditor, text = editor.buffer): string {
  if (editor.echo !== 'mask') return text;
  return Array.from(text, (char) => (columnsOf(char) === 0 ? '' : '*')).join('');
}

/** Asserts what the user sees: every row of the screen the line takes shows its part of it, the cursor in place. */
function assertShowsLine(terminal: Terminal, editor: LineEditor, cols: number): void {
  const prompt = editor.prompt;
  const beforeCursor = shown(editor, Array.from(editor.buffer).slice(0, editor.cursor).join(''));
  const { rows, row, column } = wrapped(prompt + shown(editor), cols, Array.from(prompt + beforeCursor).length);
  const cursor = terminal.cursor;
  assert.equal(cursor.column, column, `cursor column; screen ${JSON.stringify(terminal.screen)}`);
  terminal.screen.forEach((shown, screenRow) => {
    const lineRow = row + screenRow - cursor.row;
    if (lineRow < 0) return;
    assert.equal(shown, rows[lineRow] ?? '', `screen row ${screenRow}: ${JSON.stringify(terminal.screen)}`);
  });
}

/** An editor behind the prompt `> ` on a terminal of `cols` x `rows`, both knowing its size. */
function onScreen(
  cols: number,
  rows: number,
  options?: ConstructorParameters<typeof LineEditor>[0],
): { terminal: Terminal; editor: LineEditor } {
  const terminal = new Terminal(cols, rows);
  const editor = new LineEditor(options);
  editor.width = cols;
  editor.height = rows;
  editor.prompt = '> ';
  return { terminal, editor };
}

test('a line taller than the screen: Home shows its first rows with the prompt, End its last, edits reflow it', async () => {
  const cols = 10;
  const { terminal, editor } = onScreen(cols, 4);
  const feed = async (token: InputToken): Promise<EditResult> => {
    const result = editor.feed(token);
    await terminal.write(result.echo);
    return result;
  };
  await terminal.write('welcome\r\n> ');
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (const char of line) await feed(text(char));
  const all = wrapped(`> ${line}`, cols, 0).rows;
  assert.deepEqual(all, ['> abcdefgh', 'ijklmnopqr', 'stuvwxyz01', '23456789AB', 'CDEFGHIJKL', 'MNOPQRSTUV', 'WXYZ']);
  assert.deepEqual(terminal.screen, all.slice(-4));
  await feed(key('home'));
  assert.deepEqual(terminal.screen, all.slice(0, 4));
  assert.deepEqual(terminal.cursor, { row: 0, column: 2 });
  await feed(text('>'));
  assertShowsLine(terminal, editor, cols);
  assert.equal(terminal.screen[0], '> >abcdefg');
  await feed(key('end'));
  assertShowsLine(terminal, editor, cols);
  assert.deepEqual(terminal.screen.slice(-2), ['LMNOPQRSTU', 'VWXYZ']);
  await feed(key('home'));
  const result = await feed(key('enter'));
  assert.equal(result.line, `>${line}`);
  // The whole line is on record above the cursor, its last rows drawn when Enter was pressed.
  assert.deepEqual(terminal.above.slice(-7), wrapped(`> >${line}`, cols, 0).rows);
  assert.deepEqual(terminal.cursor, { row: 3, column: 0 });
  await terminal.write('Echo\r\n> ');
  await feed(key('up'));
  assertShowsLine(terminal, editor, cols);
  terminal.dispose();
});

test('Enter from the start of a line that fills its last row, on a screen too short for the row below, leaves all of it above', async () => {
  // The row below the margin is drawn only with the end of the line in view (found by the property below).
  const cols = 6;
  const { terminal, editor } = onScreen(cols, 2);
  await terminal.write('> ');
  for (const token of [text('word aabc'), key('home'), text('a')]) await terminal.write(editor.feed(token).echo);
  assertShowsLine(terminal, editor, cols);
  const result = editor.feed(key('enter'));
  await terminal.write(result.echo);
  assert.equal(result.line, 'aword aabc');
  assert.deepEqual(terminal.above.slice(-2), ['> awor', 'd aabc']);
  assert.deepEqual(terminal.cursor, { row: 1, column: 0 });
  assert.deepEqual(terminal.screen, ['d aabc', '']);
  terminal.dispose();
});

test('whatever is typed or printed meanwhile, a line taller than the screen shows as its rows around the cursor, and Enter leaves all of it', async () => {
  const MESSAGE = 'news';
  const token = fc.oneof(
    fc.constant(MESSAGE),
    fc.constantFrom('a', 'bc', ' ', 'word ', 'e\u0301', '中', 'x中y', 'abcdefghijklmno').map(text),
    fc
      .constantFrom<KeyName>(
        'backspace',
        'delete',
        'left',
        'right',
        'home',
        'end',
        'up',
        'down',
        'kill-word',
        'kill-line',
        'clear-screen',
        'enter',
      )
      .map(key),
  );
  const isClearScreen = (item: InputToken | string): boolean =>
    typeof item !== 'string' && item.type === 'key' && item.name === 'clear-screen';
  await fc.assert(
    fc.asyncProperty(
      fc.array(token, { maxLength: 40 }),
      fc.integer({ min: 6, max: 12 }),
      fc.integer({ min: 2, max: 5 }),
      fc.constantFrom('on' as const, 'mask' as const),
      async (tokens, cols, rows, echo) => {
        const { terminal, editor } = onScreen(cols, rows, { maxLineLength: 70, historySize: 5 });
        editor.echo = echo;
        await terminal.write('> ');
        try {
          for (const item of tokens) {
            if (item === MESSAGE) {
              // Output from elsewhere goes above the line, which is drawn again below it (SessionOutput).
              await terminal.write(`${editor.erase()}${MESSAGE}\r\n${editor.redraw()}`);
              assert.ok(terminal.above.includes(MESSAGE));
              assertShowsLine(terminal, editor, cols);
              continue;
            }
            if (isClearScreen(item)) {
              // As the session does for Ctrl-L, the prompt being up.
              await terminal.write(editor.clearScreen(true));
              assertShowsLine(terminal, editor, cols);
              continue;
            }
            const before = wrapped(`> ${shown(editor)}`, cols, 0).rows;
            const result = editor.feed(item);
            await terminal.write(result.echo);
            if (result.line === undefined) {
              assertShowsLine(terminal, editor, cols);
              continue;
            }
            assert.deepEqual(terminal.above.slice(-before.length), before, 'the line entered, on record');
            assert.equal(terminal.cursor.column, 0);
            await terminal.write('> ');
          }
        } finally {
          terminal.dispose();
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('text fed in any chunks shows and edits as the same text fed a character at a time', async () => {
  const item = fc.oneof(
    fc.array(fc.constantFrom('a', 'b', ' ', 'xyz', 'é', '中', 'e\u0301', 'abcdefghijk'), {
      minLength: 1,
      maxLength: 6,
    }),
    fc.constantFrom<KeyName>('backspace', 'left', 'end', 'up', 'enter').map(key),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(item, { maxLength: 20 }),
      fc.integer({ min: 6, max: 12 }),
      fc.integer({ min: 3, max: 6 }),
      fc.constantFrom('on' as const, 'mask' as const, 'hidden' as const, 'off' as const),
      async (items, cols, rows, echo) => {
        const make = (): { editor: LineEditor; terminal: Terminal } => {
          const editor = new LineEditor({ maxLineLength: 40, historySize: 5 });
          editor.echo = echo;
          editor.width = cols;
          editor.height = rows;
          editor.prompt = '> ';
          return { editor, terminal: new Terminal(cols, rows) };
        };
        const chunked = make();
        const single = make();
        try {
          await chunked.terminal.write('> ');
          await single.terminal.write('> ');
          for (const each of items) {
            // A list of strings is one stretch of typing, read in those chunks, or a character at a time.
            const chunks = Array.isArray(each) ? each.map(text) : [each];
            const characters = Array.isArray(each) ? Array.from(each.join(''), text) : [each];
            const lines: (string | undefined)[][] = [[], []];
            for (const [at, { editor, terminal }, tokens] of [
              [0, chunked, chunks],
              [1, single, characters],
            ] as const) {
              for (const token of tokens) {
                const result = editor.feed(token);
                await terminal.write(result.echo);
                lines[at]!.push(result.line);
                if (result.line !== undefined) await terminal.write('> ');
              }
            }
            assert.deepEqual(lines[0]!.filter(Boolean), lines[1]!.filter(Boolean));
            assert.equal(chunked.editor.buffer, single.editor.buffer);
            assert.deepEqual(chunked.terminal.screen, single.terminal.screen);
            assert.deepEqual(chunked.terminal.cursor, single.terminal.cursor);
            assert.equal(chunked.editor.cursor, single.editor.cursor);
          }
        } finally {
          chunked.terminal.dispose();
          single.terminal.dispose();
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('a combining mark typed inside the line joins the character before the cursor, on screen too', async () => {
  const terminal = new Terminal(20, 3);
  const editor = new LineEditor();
  editor.width = 20;
  editor.height = 3;
  editor.prompt = '> ';
  await terminal.write('> ');
  // e and its acute accent in separate reads, typed before the a.
  for (const token of [text('a'), key('left'), text('e'), text('\u0301')]) {
    await terminal.write(editor.feed(token).echo);
  }
  assert.equal(editor.buffer, 'e\u0301a');
  assert.deepEqual(terminal.screen[0], '> e\u0301a');
  assert.deepEqual(terminal.cursor, { row: 0, column: 3 });
  terminal.dispose();
});

test('a hidden answer that would fill the row exactly leaves the prompt where it is on Enter', async () => {
  const terminal = new Terminal(20, 4);
  const editor = new LineEditor();
  editor.width = 20;
  editor.height = 4;
  editor.prompt = 'Password: ';
  editor.echo = 'hidden';
  await terminal.write('Password: ');
  // Left and Right first: a line edited, not only typed, is ended by the per-character path.
  for (const token of [text('0123456789'), key('left'), key('right'), key('enter')]) {
    await terminal.write(editor.feed(token).echo);
  }
  assert.deepEqual(terminal.screen.slice(0, 2), ['Password:', '']);
  assert.deepEqual(terminal.cursor, { row: 1, column: 0 });
  terminal.dispose();
});
