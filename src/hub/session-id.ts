// Session ids: random, URL-safe and short enough to read in a log, unique beyond one process.
import { randomFillSync } from 'node:crypto';

/** RFC 4648 base32 in lower case: no characters that need escaping in a URL, a file name or a log. */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** 10 random bytes: 80 bits, 16 characters. */
const ID_BYTES = 10;
const ID_LENGTH = (ID_BYTES * 8) / 5;
/**
 * Random bytes are drawn this many ids at a time (10 KiB): a draw costs about the same whatever
 * its size (Node's checks, OpenSSL's lock; rarely called, it stays in V8's baseline code), and
 * at 128 ids a draw it still showed in a connect's profile.
 */
const POOL_IDS = 1024;

const pool = Buffer.alloc(ID_BYTES * POOL_IDS);
let offset = pool.length;
/**
 * An id's characters, made into a string at once: one built a character at a time is a chain of
 * concatenations (about 160 bytes, where the flat string is 32), which every session keeps.
 */
const characters = Buffer.alloc(ID_LENGTH);

/** A new 16-character id with 80 random bits. */
export function newSessionId(): string {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  let length = 0;
  let bits = 0;
  let value = 0;
  const end = offset + ID_BYTES;
  for (let i = offset; i < end; i++) {
    value = (value << 8) | pool[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      characters[length++] = ALPHABET.charCodeAt((value >>> bits) & 31);
    }
    value &= (1 << bits) - 1;
  }
  offset = end;
  return characters.toString('latin1');
}
