// What `npm pack` ships: everything its entry points, source maps and types refer to, and no tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { before, test } from 'node:test';

import { ROOT, ensureBuilt } from './support/build.js';

let shipped = new Set<string>();

before(() => {
  ensureBuilt();
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(pack.status, 0, pack.stderr);
  const [report] = JSON.parse(pack.stdout) as [{ files: { path: string }[] }];
  shipped = new Set(report.files.map((file) => file.path));
});

test('the package ships its licence, changelog, schema, browser assets and no tests', () => {
  for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'config.schema.json', 'dist/index.js', 'dist/cli.js']) {
    assert.ok(shipped.has(file), `${file} is not in the package`);
  }
  assert.ok(
    [...shipped].some((file) => file.startsWith('web/')),
    'no browser page assets',
  );
  assert.deepEqual(
    [...shipped].filter((file) => /\.test\.|^test\//.test(file)),
    [],
  );
});

test('every source map and declaration map points at files the package ships', () => {
  const maps = [...shipped].filter((file) => file.endsWith('.map'));
  assert.ok(maps.length > 50, `only ${maps.length} maps`);
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const target = posix.normalize(posix.join(dirname(map), source));
      assert.ok(shipped.has(target), `${map} points at ${target}, which is not in the package`);
    }
  }
});

test('every entry point of package.json is shipped, and each can be imported and required', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
    exports: Record<string, Record<string, string> | string>;
  };
  const targets = [
    ...Object.values(manifest.bin),
    ...Object.values(manifest.exports).flatMap((entry) => (typeof entry === 'string' ? [entry] : Object.values(entry))),
  ];
  for (const target of targets) assert.ok(shipped.has(posix.normalize(target)), `${target} is not in the package`);
  for (const [subpath, entry] of Object.entries(manifest.exports)) {
    if (typeof entry === 'string') continue;
    assert.ok('default' in entry, `exports["${subpath}"] has no "default" condition, so require() cannot load it`);
  }
});
