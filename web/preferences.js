// The browser terminal's preferences: theme (light or dark), font size and the extra-keys row, kept in localStorage.

const STORAGE_KEY = 'chuk-terminal';
const DEFAULT_FONT_SIZE = 15;
const MIN_FONT_SIZE = 9;
const MAX_FONT_SIZE = 32;

/** xterm colours of each theme; terminal.css paints the page around the terminal to match. */
export const THEMES = {
  dark: {
    background: '#101216',
    foreground: '#d8dee9',
    cursor: '#d8dee9',
    cursorAccent: '#101216',
    selectionBackground: '#3b4252',
    scrollbarSliderBackground: 'rgba(216, 222, 233, 0.2)',
    scrollbarSliderHoverBackground: 'rgba(216, 222, 233, 0.35)',
    scrollbarSliderActiveBackground: 'rgba(216, 222, 233, 0.5)',
  },
  light: {
    background: '#fbfbfa',
    foreground: '#24292f',
    cursor: '#24292f',
    cursorAccent: '#fbfbfa',
    selectionBackground: '#b6cdf0',
    scrollbarSliderBackground: 'rgba(36, 41, 47, 0.2)',
    scrollbarSliderHoverBackground: 'rgba(36, 41, 47, 0.35)',
    scrollbarSliderActiveBackground: 'rgba(36, 41, 47, 0.5)',
    // xterm's default ANSI colours are made for a dark background: yellow and white vanish on a light one.
    black: '#24292f',
    red: '#b42318',
    green: '#2e7d32',
    yellow: '#8a6100',
    blue: '#1f5fbf',
    magenta: '#8e3a96',
    cyan: '#0f7480',
    white: '#6e7781',
    brightBlack: '#57606a',
    brightRed: '#d1242f',
    brightGreen: '#1a7f37',
    brightYellow: '#9a6700',
    brightBlue: '#0969da',
    brightMagenta: '#a04ab0',
    brightCyan: '#1b7c83',
    brightWhite: '#8c959f',
  },
};

/**
 * What the user chose, and the system's colour scheme where they have not chosen a theme.
 * Storage may be refused (private windows, disabled cookies): the choices then last as long as the page.
 */
export class Preferences {
  #saved;
  #scheme = window.matchMedia('(prefers-color-scheme: light)');
  #listeners = new Set();

  constructor() {
    this.#saved = readSaved();
    this.#scheme.addEventListener('change', () => {
      if (this.#saved.theme === undefined) this.#changed();
    });
  }

  /** 'light' or 'dark': the user's choice, else the system's. */
  get theme() {
    return this.#saved.theme ?? (this.#scheme.matches ? 'light' : 'dark');
  }

  set theme(theme) {
    this.#save({ theme });
  }

  get fontSize() {
    return clampFontSize(this.#saved.fontSize ?? DEFAULT_FONT_SIZE);
  }

  set fontSize(size) {
    this.#save({ fontSize: clampFontSize(size) });
  }

  /** Whether the extra-keys row shows; by default on touch screens only. */
  get isExtraKeysShown() {
    return this.#saved.isExtraKeysShown ?? window.matchMedia('(pointer: coarse)').matches;
  }

  set isExtraKeysShown(isShown) {
    this.#save({ isExtraKeysShown: isShown });
  }

  /** Calls `listener` after any preference changes, the system's colour scheme included. */
  onChange(listener) {
    this.#listeners.add(listener);
  }

  #save(change) {
    this.#saved = { ...this.#saved, ...change };
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(this.#saved));
    } catch {
      // Refused storage (see the class comment) still leaves the choice in force for this page.
    }
    this.#changed();
  }

  #changed() {
    for (const listener of this.#listeners) listener();
  }
}

/**
 * Applies the preferences to the terminal and the page, now and on every change, and wires the
 * status bar's buttons to them.
 */
export function applyPreferences(preferences, { term, fit, themeButton, smallerButton, largerButton }) {
  const apply = () => {
    const { theme } = preferences;
    document.documentElement.dataset.theme = theme;
    document.querySelector('meta[name="theme-color"]')?.setAttribute('content', THEMES[theme].background);
    term.options.theme = THEMES[theme];
    const other = theme === 'dark' ? 'light' : 'dark';
    themeButton.setAttribute('aria-label', `Switch to the ${other} theme`);
    themeButton.title = `Switch to the ${other} theme`;
    if (term.options.fontSize !== preferences.fontSize) {
      term.options.fontSize = preferences.fontSize;
      fit.fit();
    }
    smallerButton.disabled = preferences.fontSize <= MIN_FONT_SIZE;
    largerButton.disabled = preferences.fontSize >= MAX_FONT_SIZE;
  };
  themeButton.addEventListener('click', () => {
    preferences.theme = preferences.theme === 'dark' ? 'light' : 'dark';
  });
  smallerButton.addEventListener('click', () => {
    preferences.fontSize -= 1;
  });
  largerButton.addEventListener('click', () => {
    preferences.fontSize += 1;
  });
  preferences.onChange(apply);
  apply();
}

function clampFontSize(size) {
  return Math.min(MAX_FONT_SIZE, Math.max(MIN_FONT_SIZE, size));
}

function readSaved() {
  try {
    const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? '{}');
    return {
      theme: saved.theme === 'light' || saved.theme === 'dark' ? saved.theme : undefined,
      fontSize: Number.isInteger(saved.fontSize) ? saved.fontSize : undefined,
      isExtraKeysShown: typeof saved.isExtraKeysShown === 'boolean' ? saved.isExtraKeysShown : undefined,
    };
  } catch {
    // Refused storage, or something else's value under our key: start from the defaults.
    return {};
  }
}
