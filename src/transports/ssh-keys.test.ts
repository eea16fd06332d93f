import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import ssh2 from 'ssh2';

import { newHostKeyPair, readHostKey } from './ssh-keys.js';

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
