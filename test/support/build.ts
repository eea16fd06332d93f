// Test support: tests that run the built CLI build dist/ first when a source is newer than it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
/** The built launcher, as `npm install` leaves it. */
export const CLI = join(ROOT, 'dist', 'cli.js');

/** Runs `npm run build` when a source under src/ is newer than dist/cli.js. */
export function ensureBuilt(): void {
  if (existsSync(CLI) && newestSource(join(ROOT, 'src')) <= statSync(CLI).mtimeMs) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
}

function newestSource(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return newestSource(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? statSync(path).mtimeMs : 0;
    }),
  );
}
