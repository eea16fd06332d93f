// The extra-keys row for touch screens: keys an on-screen keyboard lacks, sent as xterm would send them.

/** Keys xterm sends as CSI or, in application cursor mode (DECCKM), SS3 sequences: their final byte. */
const CURSOR_KEYS = { up: 'A', down: 'B', right: 'C', left: 'D', home: 'H', end: 'F' };
/** Keys of the VT220 editing keypad: the number of their `CSI n ~` sequence. */
const TILDE_KEYS = { pageup: '5', pagedown: '6' };
/** Keys that are one character; any other key name is the character itself (`|`, `/`, `-`). */
const CHARACTER_KEYS = { escape: '\x1b', tab: '\t' };
/** Ctrl with a character outside @ A-Z [ \ ] ^ _, as xterm sends it. */
const CONTROL_EXTRAS = { ' ': '\x00', '?': '\x7f', '/': '\x1f', '-': '\x1f', '|': '\x1c' };

/**
 * The row's keys send their sequences as typed keys; Ctrl and Alt are sticky: a tap holds them
 * for the next key, from the row or from the on-screen keyboard, a second tap lets go.
 */
export class ExtraKeys {
  #term;
  #send;
  #modifiers = new Map();

  /** `send(data)` types the data into the session; `toggle` shows and hides the row. */
  constructor({ term, row, toggle, preferences, send }) {
    this.#term = term;
    this.#send = send;
    for (const button of row.querySelectorAll('button[data-modifier]')) {
      this.#modifiers.set(button.dataset.modifier, button);
      button.addEventListener('click', () => this.#setHeld(button, !this.#isHeld(button.dataset.modifier)));
    }
    for (const button of row.querySelectorAll('button[data-key]')) {
      button.addEventListener('click', () => this.#send(this.#sequence(button.dataset.key)));
    }
    const show = () => {
      row.hidden = !preferences.isExtraKeysShown;
      toggle.setAttribute('aria-pressed', String(preferences.isExtraKeysShown));
    };
    toggle.addEventListener('click', () => {
      preferences.isExtraKeysShown = !preferences.isExtraKeysShown;
    });
    preferences.onChange(show);
    show();
  }

  /** Typed input with the held modifiers applied to its first character; they are let go after it. */
  modify(data) {
    if (!this.#isHeld('ctrl') && !this.#isHeld('alt')) return data;
    // A longer escape sequence is a key of a hardware keyboard, which carries its own modifiers.
    if (data.startsWith('\x1b') && data.length > 1) return data;
    const first = String.fromCodePoint(data.codePointAt(0));
    return `${this.#withModifiers(first)}${data.slice(first.length)}`;
  }

  #sequence(key) {
    const final = CURSOR_KEYS[key];
    const number = TILDE_KEYS[key];
    if (final === undefined && number === undefined) return this.#withModifiers(CHARACTER_KEYS[key] ?? key);
    // xterm's modifier parameter: 1, plus 2 for Alt, plus 4 for Ctrl.
    const parameter = 1 + (this.#isHeld('alt') ? 2 : 0) + (this.#isHeld('ctrl') ? 4 : 0);
    this.#letGo();
    if (number !== undefined) return parameter > 1 ? `\x1b[${number};${parameter}~` : `\x1b[${number}~`;
    if (parameter > 1) return `\x1b[1;${parameter}${final}`;
    return `${this.#term.modes.applicationCursorKeysMode ? '\x1bO' : '\x1b['}${final}`;
  }

  #withModifiers(char) {
    const isCtrl = this.#isHeld('ctrl');
    const isAlt = this.#isHeld('alt');
    this.#letGo();
    const text = isCtrl ? controlOf(char) : char;
    // Alt is sent as ESC before the key, as xterm does by default.
    return isAlt ? `\x1b${text}` : text;
  }

  #isHeld(modifier) {
    return this.#modifiers.get(modifier)?.getAttribute('aria-pressed') === 'true';
  }

  #setHeld(button, isHeld) {
    button.setAttribute('aria-pressed', String(isHeld));
  }

  #letGo() {
    for (const button of this.#modifiers.values()) this.#setHeld(button, false);
  }
}

/** The control character Ctrl makes of `char`, or `char` itself where Ctrl changes nothing. */
function controlOf(char) {
  if (/^[a-zA-Z@[\\\]^_]$/.test(char)) return String.fromCharCode(char.toUpperCase().charCodeAt(0) & 0x1f);
  return CONTROL_EXTRAS[char] ?? char;
}
