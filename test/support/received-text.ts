// Test support: text a client has received, and waiting until something appears in it.

/** Polls `condition` (which may be async) until it holds; fails naming `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what = 'condition',
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Everything a client was sent, as text, with a wait that wakes as soon as more arrives. */
export class ReceivedText {
  text = '';
  #waiters: Array<() => void> = [];

  add(text: string): void {
    this.text += text;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once `pattern` appears at or after offset `from`; rejects with what did arrive. */
  async waitFor(pattern: string | RegExp, options: { from?: number; timeoutMs?: number } = {}): Promise<void> {
    const { from = 0, timeoutMs = 3000 } = options;
    const deadline = Date.now() + timeoutMs;
    const matches = (): boolean => {
      const seen = this.text.slice(from);
      return typeof pattern === 'string' ? seen.includes(pattern) : pattern.test(seen);
    };
    while (!matches()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(pattern)}; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
