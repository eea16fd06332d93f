// Who may watch: monitor tokens checked at the HTTP handshake, in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { isIP } from 'node:net';

/** What a request may do: nothing, watch, or also act on sessions (message, broadcast, disconnect). */
export type AccessLevel = 'none' | 'viewer' | 'admin';

/** The tokens of one listener and whether it is reachable from other machines. */
export interface AccessPolicy {
  /** Tokens that open the monitor (and metrics); empty = open, which only a loopback listener may be. */
  tokens: readonly string[];
  /** Tokens that also allow operator actions; empty = no operator actions. */
  adminTokens: readonly string[];
}

/** Whether `host` accepts connections from this machine only. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** A new random token: 192 bits, URL-safe. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The token a request carries: `Authorization: Bearer …`, else `?token=` (for a browser page). */
export function tokenOf(request: http.IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match) return match[1];
  }
  return new URL(request.url ?? '/', 'http://localhost').searchParams.get('token') ?? undefined;
}

/** What `request` may do under `policy`. */
export function accessOf(request: http.IncomingMessage, policy: AccessPolicy): AccessLevel {
  const token = tokenOf(request);
  if (token !== undefined && matchesAny(token, policy.adminTokens)) return 'admin';
  if (policy.tokens.length === 0) return 'viewer';
  return token !== undefined && matchesAny(token, policy.tokens) ? 'viewer' : 'none';
}

/**
 * Compares against every token, always all of them, through fixed-length digests: the time
 * taken says nothing of how much of a guess was right, nor which token it was close to.
 */
function matchesAny(candidate: string, tokens: readonly string[]): boolean {
  const digest = sha256(candidate);
  let isMatch = false;
  for (const token of tokens) isMatch = timingSafeEqual(digest, sha256(token)) || isMatch;
  return isMatch;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
