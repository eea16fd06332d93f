// SSH key files as ssh2 reads them: the host key (made on first start), authorized_keys, fingerprints.
import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';

import { ServerStartError } from '../errors.js';
import type { HostKey } from './ssh.js';

/**
 * Reads a private host key. With `generate`, a missing file is made first: a new ed25519 key in
 * OpenSSH's format, mode 0600, with its `.pub` beside it, so the host keeps its identity from
 * then on. Throws ServerStartError saying what is wrong.
 */
export async function readHostKey(file: string, generate: boolean): Promise<HostKey> {
  let text: Buffer;
  let isNew = false;
  try {
    text = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unreadable(file, err);
    if (!generate) throw new ServerStartError(`cannot read ${file}: no such file`);
    ({ text, isNew } = await generateHostKey(file));
  }
  const key = servedKey(text);
  if (key === undefined || key instanceof Error || !key.isPrivateKey()) {
    const why = key instanceof Error ? key.message : 'no private key in it';
    // A key an earlier version made may be one of the pairs ssh2 cannot read back (newHostKeyPair).
    const remedy = generate && !isNew ? '; remove it (and its .pub) to have a new one made at the next start' : '';
    throw new ServerStartError(`${file} is not an SSH private key this server can use: ${why}${remedy}`);
  }
  return { text, fingerprint: `${fingerprintOf(key.getPublicSSH())} (${keyTypeName(key.type)})`, isNew };
}

/** The key ssh2 serves from a key file: of the several the OpenSSH format may hold, the first, as sshd would. */
function servedKey(text: Buffer): ParsedKey | Error | undefined {
  const parsed = ssh2.utils.parseKey(text);
  return Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
}

/**
 * The digest each host key type signs with when ssh2 names none (RFC 4253 6.6, RFC 5656 6.2.1):
 * ssh2 names one only for RSA's SHA-2 variants. Ed25519 hashes inside its own algorithm.
 */
const DEFAULT_DIGESTS: Readonly<Record<string, string | null>> = {
  'ssh-ed25519': null,
  'ssh-rsa': 'sha1',
  'ssh-dss': 'sha1',
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
};

/**
 * A private host key for ssh2's server, parsed once and signing with a key OpenSSL has already
 * decoded. ssh2's own signs every key exchange from the key's PEM text, which OpenSSL 3 decodes
 * anew each time: about 400 µs a connection for an ed25519 key here, where signing takes 28.
 * Signs as ssh2 would (the same bytes; an Error returned, not thrown); a type not known above
 * keeps ssh2's signer.
 */
export function signingHostKey(text: Buffer): ParsedKey {
  const key = servedKey(text);
  if (key === undefined || key instanceof Error) {
    throw new ServerStartError(`not an SSH private key: ${key?.message ?? 'no key in it'}`);
  }
  if (!(key.type in DEFAULT_DIGESTS)) return key;
  const decoded = createPrivateKey(key.getPrivatePEM());
  const defaultDigest = DEFAULT_DIGESTS[key.type]!;
  const signWithDecodedKey = (data: Buffer | string, digest?: string): Buffer | Error => {
    try {
      return sign(digest ?? defaultDigest, typeof data === 'string' ? Buffer.from(data) : data, decoded);
    } catch (err) {
      return err as Error;
    }
  };
  // @types/ssh2 has sign return a Buffer only; ssh2 returns an Error, and checks for one.
  key.sign = signWithDecodedKey as ParsedKey['sign'];
  return key;
}

/** Reads an authorized_keys file: one public key per line; blank lines and # comments skipped. */
export async function readAuthorizedKeys(file: string): Promise<ParsedKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  const keys: ParsedKey[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    // sshd's options (from=, command=, restrict) would be restrictions this server does not enforce.
    if (!/^(ssh-|ecdsa-|sk-)/.test(line)) {
      throw new ServerStartError(`${file}:${index + 1}: key options are not supported; remove them, or the key`);
    }
    const key = ssh2.utils.parseKey(line);
    if (key instanceof Error) throw new ServerStartError(`${file}:${index + 1}: not a public key: ${key.message}`);
    keys.push(key);
  });
  return keys;
}

/** "SHA256:" and the base64 of the key blob's SHA-256, unpadded: what `ssh-keygen -l` prints. */
export function fingerprintOf(publicBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
}

/** ssh-keygen's name of a key type: ED25519, RSA, ECDSA. */
function keyTypeName(type: string): string {
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  return type.replace(/^ssh-/, '').toUpperCase();
}

/** Pairs made before giving up: an ssh2 that can read none of them is broken, not unlucky. */
const KEY_PAIR_ATTEMPTS = 16;

/**
 * A new ed25519 key pair in OpenSSH's format that ssh2 reads back. About one pair in 256 has a
 * public key starting with a zero byte, which ssh2's generator drops, and neither half of that pair
 * parses (ssh2 issues 1390 and 1513): such a pair is thrown away and another made.
 */
export function newHostKeyPair(comment?: string): { private: string; public: string } {
  for (let attempt = 1; attempt <= KEY_PAIR_ATTEMPTS; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', comment === undefined ? {} : { comment });
    const isReadable = [pair.private, pair.public].every((half) => !(ssh2.utils.parseKey(half) instanceof Error));
    if (isReadable) return pair;
  }
  throw new ServerStartError(`ssh2 could not read back any of ${KEY_PAIR_ATTEMPTS} ed25519 key pairs it made`);
}

async function generateHostKey(file: string): Promise<{ text: Buffer; isNew: boolean }> {
  const pair = newHostKeyPair('chuk-protocol-server host key');
  // Written whole under a name of its own, then linked into place: a second server of the same
  // launch, starting at the same moment, keeps the first one's key and never reads half of it.
  const written = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.new`;
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(written, pair.private, { mode: 0o600, flag: 'wx' });
    await link(written, file);
    await writeFile(`${written}.pub`, `${pair.public}\n`, { mode: 0o644 });
    await rename(`${written}.pub`, `${file}.pub`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { text: await readFile(file), isNew: false };
    throw new ServerStartError(`cannot write a new SSH host key to ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    await rm(written, { force: true });
    await rm(`${written}.pub`, { force: true });
  }
  return { text: Buffer.from(pair.private), isNew: true };
}

function unreadable(file: string, err: unknown): ServerStartError {
  const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
  return new ServerStartError(`cannot read ${file}: ${reason}`, { cause: err });
}
