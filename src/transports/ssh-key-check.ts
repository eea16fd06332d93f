// A short-lived process that checks SSH key files with ssh2, the judge of what ssh2 can serve:
// loading ssh2 instantiates its WebAssembly and pages in V8's optimizing compiler, about 6 MB
// that would otherwise stay in an idle launcher. Given its check as JSON in argv, it answers once
// over IPC and exits.
import { readAuthorizedKeys, readHostKey } from './ssh-keys.js';

/** What the launcher asks. */
export type KeyCheck =
  { kind: 'host-key'; file: string; generate: boolean } | { kind: 'authorized-keys'; file: string };

/** What this process answers: the host key, the authorized keys' public blobs, or why not. */
export type KeyCheckAnswer =
  | { kind: 'host-key'; text: Uint8Array; fingerprint: string; isNew: boolean }
  | { kind: 'authorized-keys'; blobs: Uint8Array[] }
  | { kind: 'error'; message: string };

const check = JSON.parse(process.argv[2] ?? '{}') as KeyCheck;
process.send?.(await answer(check), () => process.disconnect());

async function answer(check: KeyCheck): Promise<KeyCheckAnswer> {
  try {
    if (check.kind === 'host-key') return { kind: check.kind, ...(await readHostKey(check.file, check.generate)) };
    const keys = await readAuthorizedKeys(check.file);
    return { kind: check.kind, blobs: keys.map((key) => key.getPublicSSH()) };
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
}
