// CharacterHandler: a handler that sees every keystroke, with default line editing.
import { KeyReader } from '../session/key-reader.js';
import type { InputToken } from '../session/key-reader.js';
import { EDIT_LINE, EDITS_ALL_INPUT } from '../session/session.js';
import type { EditableSession } from '../session/session.js';
import { BaseHandler } from './base-handler.js';

/** The characters processCharacter receives for keys that are not text. */
const KEY_CHARACTERS: Record<string, string> = { enter: '\r', backspace: '\x7f' };

/**
 * Character-at-a-time handler. processCharacter gets each character (or a whole escape
 * sequence such as "\x1b[A"); its default echoes and edits the line and submits it on Enter.
 */
export class CharacterHandler extends BaseHandler {
  static override readonly inputMode = 'character' as const;

  override receive(token: InputToken): boolean | Promise<boolean> {
    // With the default editing, keys and whole runs of text go to the editor as read, not a promise a character.
    if (this.processCharacter === CharacterHandler.prototype.processCharacter) {
      return (this.session as EditableSession)[EDIT_LINE](token);
    }
    if (token.type === 'key') return this.processCharacter(KEY_CHARACTERS[token.name] ?? token.sequence);
    return this.#eachCharacter(token.text);
  }

  override [EDITS_ALL_INPUT](): boolean {
    return (
      this.receive === CharacterHandler.prototype.receive &&
      this.processCharacter === CharacterHandler.prototype.processCharacter
    );
  }

  /** Handles one character or key sequence. Return false to end the session. */
  processCharacter(character: string): Promise<boolean> {
    return this.defaultProcessCharacter(character);
  }

  /** The built-in editing: echo, Backspace, Ctrl-U/W, arrows and history, Enter submits. */
  async defaultProcessCharacter(character: string): Promise<boolean> {
    for (const token of tokensOf(character)) {
      if (!(await (this.session as EditableSession)[EDIT_LINE](token))) return false;
    }
    return true;
  }

  async #eachCharacter(text: string): Promise<boolean> {
    for (const character of text) {
      if (!(await this.processCharacter(character))) return false;
    }
    return true;
  }
}

/** Keys that every typed line ends with, or that editing uses most: read once, not per keystroke. */
const COMMON_KEYS = new Map<string, InputToken[]>(
  ['\r', '\x7f', '\b', '\t'].map((character) => [character, readKeys(character)]),
);

/** Tokens for one character or key sequence handed back by a subclass. */
function tokensOf(character: string): InputToken[] {
  const code = character.codePointAt(0) ?? 0;
  if (character.length <= 2 && code >= 0x20 && code !== 0x7f) return [{ type: 'text', text: character }];
  return COMMON_KEYS.get(character) ?? readKeys(character);
}

function readKeys(character: string): InputToken[] {
  const reader = new KeyReader();
  return [...reader.push(Buffer.from(character, 'utf8')), ...reader.flush()];
}
