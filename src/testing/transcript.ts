// The text a test client has received, and waiting until a pattern appears in it.
import { ExpectError } from './expect-error.js';

/** How a connection ended: WebSocket clients get the close code and reason, SSH clients the exit status. */
export interface CloseInfo {
  code?: number;
  reason?: string;
  exitStatus?: number;
}

/** Where and how long to look for a pattern. */
export interface TranscriptWait {
  /** Offset in `text` to search from. */
  from: number;
  timeoutMs: number;
  /** Named in failure messages, e.g. "telnet". */
  transport: string;
}

/** Everything a client was sent, as text, with waits that wake as soon as more arrives or it ends. */
export class Transcript {
  #text = '';
  #closed: CloseInfo | undefined;
  #waiters: Array<() => void> = [];

  get text(): string {
    return this.#text;
  }

  /** Appends text that arrived. */
  add(text: string): void {
    if (text === '') return;
    this.#text += text;
    this.#wake();
  }

  /** Marks the connection closed: waits for text that has not arrived fail at once. */
  close(info: CloseInfo): void {
    this.#closed ??= info;
    this.#wake();
  }

  /**
   * Resolves with the first match of `pattern` at or after `wait.from` (its `index` counted in
   * `text`); rejects with an ExpectError showing what arrived if time runs out or the connection closes.
   */
  async waitFor(pattern: string | RegExp, wait: TranscriptWait): Promise<RegExpExecArray> {
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : withoutState(pattern);
    const deadline = Date.now() + wait.timeoutMs;
    for (;;) {
      const match = regex.exec(this.#text.slice(wait.from));
      if (match !== null) {
        match.index += wait.from;
        return match;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed !== undefined) {
        // Thrown here, after an await in this async function, so the stack names the test that waited.
        throw new ExpectError(pattern, left <= 0 ? 'timeout' : 'closed', this.#text.slice(wait.from), {
          transport: wait.transport,
          timeoutMs: wait.timeoutMs,
          closeCode: this.#closed?.code,
        });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A copy without the g and y flags, whose lastIndex would make exec() depend on earlier calls. */
function withoutState(regex: RegExp): RegExp {
  return regex.global || regex.sticky ? new RegExp(regex.source, regex.flags.replace(/[gy]/g, '')) : regex;
}
