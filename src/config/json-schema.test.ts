// The shipped JSON Schema and the config reference stay in step with the config schema.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { KEY_DESCRIPTIONS, configJsonSchema } from './json-schema.js';
import { configKeys } from './schema.js';

const { server: SERVER_KEYS, application: APPLICATION_KEYS, hub: HUB_KEYS } = configKeys();

const ROOT = join(import.meta.dirname, '..', '..');

test('config.schema.json is the schema generated from the config schema (run npm run schema)', () => {
  const shipped = JSON.parse(readFileSync(join(ROOT, 'config.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(shipped, JSON.parse(JSON.stringify(configJsonSchema())));
});

test('every key is described, and every description is of a key', () => {
  const keys = new Set([...SERVER_KEYS, ...APPLICATION_KEYS, ...HUB_KEYS, 'servers']);
  assert.deepEqual(
    [...keys].filter((key) => KEY_DESCRIPTIONS[key] === undefined),
    [],
  );
  assert.deepEqual(
    Object.keys(KEY_DESCRIPTIONS).filter((key) => !keys.has(key)),
    [],
  );
});

test("the README's configuration reference lists every key, and no key that does not exist", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const reference = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## The launcher'));
  const documented = new Set(
    reference
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!)),
  );
  const keys = new Set([...SERVER_KEYS, ...APPLICATION_KEYS]);
  assert.deepEqual(
    [...keys].filter((key) => !documented.has(key)),
    [],
  );
  assert.deepEqual(
    [...documented].filter((key) => !keys.has(key)),
    [],
  );
});

test('the samples point editors at the schema', () => {
  for (const sample of ['echo-server', 'commands', 'guess-who', 'chat', 'mud']) {
    const text = readFileSync(join(ROOT, 'examples', sample, 'config.yaml'), 'utf8');
    assert.match(text, /^# yaml-language-server: \$schema=\.\.\/\.\.\/config\.schema\.json$/m, sample);
  }
});
