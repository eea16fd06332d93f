// docs/configuration.md stays in step with the config schema: every key, no other key, the defaults, the examples.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { parse } from 'yaml';

import { configKeys, TRANSPORTS, parseConfig } from './schema.js';

const { server: SERVER_KEYS, application: APPLICATION_KEYS, hub: HUB_KEYS } = configKeys();

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');

type Scope = 'server' | 'application';

/** One key as a reference table documents it. */
interface DocumentedKey {
  key: string;
  scopes: Scope[];
  /** The text of the `default` cell. */
  default: string;
  line: number;
}

/** Every row of every table whose header has `key`, `where` and `default` columns. */
function documentedKeys(markdown: string): DocumentedKey[] {
  const lines = markdown.split('\n');
  const keys: DocumentedKey[] = [];
  let columns: { key: number; where: number; default: number } | undefined;
  lines.forEach((line, index) => {
    if (!line.startsWith('|')) {
      columns = undefined;
      return;
    }
    const cells = cellsOf(line);
    if (columns === undefined) {
      const names = cells.map((cell) => cell.toLowerCase());
      const key = names.indexOf('key');
      const where = names.indexOf('where');
      const fallback = names.indexOf('default');
      if (key !== -1 && where !== -1 && fallback !== -1) columns = { key, where, default: fallback };
      return;
    }
    if (/^[-:| ]+$/.test(line)) return;
    const names = [...cells[columns.key]!.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!);
    assert.ok(names.length > 0, `docs/configuration.md:${index + 1}: a table row names no key`);
    const where = cells[columns.where]!;
    const scopes: Scope[] =
      where === 'both' ? ['server', 'application'] : where === 'server' || where === 'application' ? [where] : [];
    assert.ok(scopes.length > 0, `docs/configuration.md:${index + 1}: "where" must be server, application or both`);
    for (const key of names) keys.push({ key, scopes, default: cells[columns.default]!, line: index + 1 });
  });
  return keys;
}

/** The cells of a Markdown table row, `|` inside backticks kept. */
function cellsOf(row: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let isCode = false;
  for (const char of row.trim().slice(1, -1)) {
    if (char === '`') isCode = !isCode;
    if (char === '|' && !isCode) {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += char;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/** A YAML key as ServerConfig and ApplicationConfig name it. */
function camelCase(key: string): string {
  return key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Every default of the code: a config that sets nothing, read back. */
function defaultsOf(): Record<Scope, Record<string, unknown>> {
  const config = parseConfig({ servers: { server: {} } }, '/base', { requireHandlerClass: false });
  return {
    server: config.servers[0] as unknown as Record<string, unknown>,
    application: config.application as unknown as Record<string, unknown>,
  };
}

const documented = documentedKeys(DOC);

test('the reference documents every server key and every application key, each where it belongs', () => {
  for (const [scope, known] of [
    ['server', SERVER_KEYS],
    ['application', APPLICATION_KEYS],
  ] as const) {
    const listed = new Set(documented.filter((entry) => entry.scopes.includes(scope)).map((entry) => entry.key));
    assert.deepEqual(
      known.filter((key) => !listed.has(key)),
      [],
      `${scope} keys missing from docs/configuration.md`,
    );
    assert.deepEqual(
      [...listed].filter((key) => !known.includes(key)),
      [],
      `keys documented as ${scope} keys that are not`,
    );
  }
  const rows = documented.map((entry) => entry.key);
  assert.deepEqual(
    rows.filter((key, i) => rows.indexOf(key) !== i),
    [],
    'keys documented twice',
  );
});

test('every snake_case name in backticks is a config key (or a transport)', () => {
  const known = new Set<string>([...SERVER_KEYS, ...APPLICATION_KEYS, ...HUB_KEYS, ...TRANSPORTS]);
  const named = [...DOC.matchAll(/`([a-z][a-z0-9]*(?:_[a-z0-9]+)+)`/g)].map((match) => match[1]!);
  assert.deepEqual(
    [...new Set(named)].filter((name) => !known.has(name)),
    [],
  );
});

test("each documented default is the code's default", () => {
  const defaults = defaultsOf();
  for (const entry of documented) {
    const field = camelCase(entry.key);
    const cell = entry.default;
    const at = `docs/configuration.md:${entry.line}: ${entry.key}`;
    if (/^required\b/.test(cell)) {
      assert.equal(entry.key, 'handler_class', `${at}: only handler_class is required`);
      continue;
    }
    for (const scope of entry.scopes) {
      const values = defaults[scope];
      assert.ok(field in values, `${at}: no ${field} in the parsed ${scope} config`);
      const actual = values[field];
      if (/^none\b/.test(cell)) {
        const isUnset = actual === undefined || (Array.isArray(actual) && actual.length === 0);
        assert.ok(isUnset, `${at}: documented as none, but the ${scope} default is ${JSON.stringify(actual)}`);
        continue;
      }
      const literal = /^`([^`]+)`/.exec(cell);
      assert.ok(literal, `${at}: state the default as none, required, or a \`value\` first in its cell`);
      assert.deepEqual(actual, parse(literal[1]!) as unknown, `${at}: documented default ${literal[1]}`);
    }
  }
});

test('the hub: table documents every key of the hub mapping and its default', () => {
  const table = DOC.slice(DOC.indexOf('| hub key'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const documentedHub = rows.map((row) => cellsOf(row));
  assert.deepEqual(
    documentedHub.map((cells) => /`([a-z_]+)`/.exec(cells[0]!)?.[1]),
    [...HUB_KEYS],
  );
  const defaults = parseConfig({ hub: { redis: 'redis://cache' }, handler_class: 'x.ts:X' }, '/base').application.hub!;
  const seconds = (key: string): string => String((defaults as unknown as Record<string, number>)[key]! / 1000);
  const expected: Record<string, string> = {
    redis: 'required',
    channel_prefix: `\`${defaults.channelPrefix}\``,
    heartbeat_interval: `\`${seconds('heartbeatIntervalMs')}\``,
    instance_timeout: `\`${seconds('instanceTimeoutMs')}\``,
    shared_ip_limits: `\`${defaults.sharedIpLimits}\``,
  };
  for (const cells of documentedHub) {
    const key = /`([a-z_]+)`/.exec(cells[0]!)![1]!;
    assert.equal(cells[2], expected[key], `the documented default of hub.${key}`);
  }
});

test('every YAML example is a valid config', () => {
  const blocks = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
  assert.ok(blocks.length > 0);
  for (const block of blocks) {
    assert.doesNotThrow(
      () => parseConfig(parse(block), '/base', { requireHandlerClass: false }),
      `this example does not load:\n${block}`,
    );
  }
});
