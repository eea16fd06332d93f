// Recognises MUD clients by the name they send as their first terminal type (RFC 1091, MTTS).

// These clients show WILL ECHO as a password prompt (local echo off) rather than as
// server-side echo, so a server must not use WILL ECHO with them for plain echoing.
const MUD_CLIENT =
  /^(?:mudlet|tintin\+\+|mushclient|zmud|cmud|mudrammer|blowtorch|atlantis|potato|kbtin|axmud|mudmaster)(?![a-z+])/i;

/** Whether a terminal-type or client name belongs to a known MUD client, ignoring case and version suffixes. */
export function isMudClient(name: string): boolean {
  return MUD_CLIENT.test(name.trim());
}
