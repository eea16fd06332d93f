// Test support: terminal programs (telnet, ssh) run in a tmux pane, typed into and read as a person would.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';

import { until } from './received-text.js';

const run = promisify(execFile);

// tmux: one private server (-L) per pane, so nothing touches the user's sessions.

/** One pane of a private tmux server: start a command in it, type, resize, read the screen. */
export class TmuxPane {
  readonly #socketName = `cps-test-${randomUUID().slice(0, 8)}`;
  readonly name = `pane-${randomUUID().slice(0, 8)}`;
  #socketPath: string | undefined;

  /** Starts `command` in a detached cols x rows pane that stays readable after the command exits. */
  async start(command: string, cols: number, rows: number): Promise<void> {
    await this.tmux('-f', '/dev/null', 'new-session', '-d', '-s', this.name, '-x', `${cols}`, '-y', `${rows}`, command);
    await this.tmux('set-option', '-w', '-t', this.name, 'remain-on-exit', 'on');
    this.#socketPath = (await this.tmux('display-message', '-p', '-t', this.name, '#{socket_path}')).stdout.trim();
  }

  async sendKeys(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', this.name, ...keys);
  }

  /** Types text literally (no key names). */
  async type(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', this.name, '-l', text);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux('resize-window', '-t', this.name, '-x', `${cols}`, '-y', `${rows}`);
  }

  /** The screen and its scrollback (or the screen alone), lines right-trimmed, trailing blank lines dropped. */
  async screen(options: { scrollback?: boolean } = {}): Promise<string[]> {
    const from = options.scrollback === false ? [] : ['-S', '-200'];
    const { stdout } = await this.tmux('capture-pane', '-p', ...from, '-t', this.name);
    const lines = stdout.split('\n').map((line) => line.trimEnd());
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }

  /** Where the terminal's cursor is on the screen, from the top left (0, 0). */
  async cursor(): Promise<{ row: number; column: number }> {
    const { stdout } = await this.tmux('display-message', '-p', '-t', this.name, '#{cursor_y} #{cursor_x}');
    const [row, column] = stdout.trim().split(' ').map(Number);
    return { row: row!, column: column! };
  }

  async waitForScreen(
    what: string,
    isDone: (lines: string[]) => boolean,
    timeoutMs = 3000,
    options: { scrollback?: boolean } = {},
  ): Promise<string[]> {
    let lines: string[] = [];
    try {
      await until(async () => isDone((lines = await this.screen(options))), what, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; screen:\n${lines.join('\n')}`);
    }
    return lines;
  }

  /** Ends the session by name (its program gets SIGHUP with the pane), then this private tmux server. */
  async kill(): Promise<void> {
    await this.tmux('kill-session', '-t', this.name).catch(() => undefined);
    await this.tmux('kill-server').catch(() => undefined);
    // tmux leaves its socket file behind when killed.
    if (this.#socketPath !== undefined) await rm(this.#socketPath, { force: true });
  }

  tmux(...args: string[]): Promise<{ stdout: string }> {
    return run('tmux', ['-L', this.#socketName, ...args], { timeout: 5000 });
  }
}
