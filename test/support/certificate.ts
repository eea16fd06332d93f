// Test support: a throwaway self-signed certificate for 127.0.0.1 (openssl is installed by .ci/run).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const folder = mkdtempSync(join(tmpdir(), 'cps-cert-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** Paths of a new certificate and its key, named `name`; removed after the file's tests. */
export function makeCertificate(name: string): { cert: string; key: string } {
  const cert = join(folder, `${name}-cert.pem`);
  const key = join(folder, `${name}-key.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
