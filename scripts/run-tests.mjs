// Runs every *.test.ts under src/, test/ and examples/ (or the files and folders named) with node's test runner, TypeScript loaded by tsx.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';

/** The fault suite: minutes long and timing-sensitive, so only `npm run test:faults` runs it, one file at a time. */
const FAULTS = join('test', 'faults');

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === FAULTS ? [] : findTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const only = process.argv.slice(2).map(normalize);
const files =
  only.length > 0
    ? only.flatMap((path) => (statSync(path).isDirectory() ? findTests(path).sort() : [path]))
    : ['src', 'test', 'examples'].flatMap(findTests).sort();
// Fault cases time bystanders against the server's load: two at once would time each other.
const concurrency = files.some((file) => file.startsWith(FAULTS)) ? 1 : 2;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
