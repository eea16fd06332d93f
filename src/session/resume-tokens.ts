// Resume tokens: the secret a client presents to get its session back after a dropped connection.
import { randomBytes } from 'node:crypto';

import { ChurnMap } from '../churn-map.js';

/** Random bytes in a token: 128 bits, as the brief of session resume asks and guessing cannot reach. */
const TOKEN_BYTES = 16;

/**
 * One server's tokens, one per session that offered resume. A token is single-use: `take`
 * forgets it, and the session issues a new one when it is resumed. Tokens are kept only here,
 * in memory, so a token from another server or another process finds nothing.
 */
export class ResumeTokens<T extends { readonly id: string }> {
  #byToken = new ChurnMap<string, T>();
  /** Tokens by session id: sessions come and go by the thousand, and a Map keyed by them would hold them (see ChurnMap). */
  #bySession = new Map<string, string>();

  /** A new token for `session`, replacing the one it had. */
  issue(session: T): string {
    this.revoke(session);
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    this.#byToken.set(token, session);
    this.#bySession.set(session.id, token);
    return token;
  }

  /** Whether `token` would resume a session now. */
  has(token: string): boolean {
    return this.#byToken.has(token);
  }

  /** The session of `token`, which is used up; undefined for a token unknown, used or revoked. */
  take(token: string): T | undefined {
    const session = this.#byToken.get(token);
    if (session !== undefined) this.revoke(session);
    return session;
  }

  /** Forgets the session's token: it has ended, or its client has no way to resume it. */
  revoke(session: T): void {
    const token = this.#bySession.get(session.id);
    if (token === undefined) return;
    this.#bySession.delete(session.id);
    this.#byToken.delete(token);
  }
}
