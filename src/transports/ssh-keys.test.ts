import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';

import { newHostKeyPair, readHostKey, signingHostKey } from './ssh-keys.js';

test('every host key pair made reads back, though ssh2 makes an unreadable one about once in 256', () => {
  // 2,000 pairs: the chance that none of them would have been one of those is about 1 in 2,500.
  for (let i = 0; i < 2000; i++) {
    const pair = newHostKeyPair();
    for (const half of [pair.private, pair.public]) {
      const key = ssh2.utils.parseKey(half);
      assert.ok(!(key instanceof Error), `pair ${i}: ${key instanceof Error ? key.message : ''}`);
    }
  }
});

test('a host key file that cannot be read says so, and that removing it makes a new one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chuk-ssh-keys-'));
  try {
    const file = join(dir, 'ssh_host_ed25519_key');
    writeFileSync(file, '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
    await assert.rejects(readHostKey(file, true), /is not an SSH private key this server can use: .*; remove it/);
    await assert.rejects(readHostKey(file, false), (err: Error) => !err.message.includes('remove it'));
    rmSync(file);
    const made = await readHostKey(file, true);
    assert.equal(made.isNew, true);
    assert.match(made.fingerprint, /^SHA256:\S+ \(ED25519\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a host key signs as ssh2's own signer does, from a key decoded once, for every type ssh2 serves", () => {
  const data = Buffer.from('an exchange hash to sign');
  const pairs = [
    ['ed25519', newHostKeyPair()],
    ['rsa', ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 })],
    ['ecdsa 256', ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 })],
    ['ecdsa 384', ssh2.utils.generateKeyPairSync('ecdsa', { bits: 384 })],
    ['ecdsa 521', ssh2.utils.generateKeyPairSync('ecdsa', { bits: 521 })],
  ] as const;
  for (const [name, pair] of pairs) {
    const signing = signingHostKey(Buffer.from(pair.private));
    const own = ssh2.utils.parseKey(pair.private) as ParsedKey;
    assert.notEqual(signing.sign, own.sign, `${name}: ssh2's signer kept`);
    // RSA's SHA-2 signatures are the ones ssh2 asks for by name.
    for (const digest of name === 'rsa' ? [undefined, 'sha256', 'sha512'] : [undefined]) {
      const signature = signing.sign(data, digest);
      assert.ok(Buffer.isBuffer(signature), `${name} ${digest}: ${String(signature)}`);
      assert.ok(own.verify(data, signature, digest), `${name} ${digest}: does not verify`);
      // ECDSA signs with a random nonce: only its verifying can be compared.
      if (!name.startsWith('ecdsa')) assert.deepEqual(signature, own.sign(data, digest), `${name} ${digest}`);
    }
    const failure: unknown = signing.sign(data, 'no-such-digest');
    assert.ok(failure instanceof Error, `${name}: a failure is returned as ssh2 returns it, not thrown`);
  }
});
