// Tests of request targets as the routes read them: paths and queries, as a URL parser reads them.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';

import fc from 'fast-check';

import { pathOf, queryOf } from './http.js';

const request = (url: string): http.IncomingMessage => ({ url }) as http.IncomingMessage;

/** What a URL parser makes of a target's path, or that it throws (a target of "//" names no host). */
function parsedPath(target: string): string {
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    return 'throws';
  }
}

function pathOrThrows(target: string): string {
  try {
    return pathOf(request(target));
  } catch {
    return 'throws';
  }
}

test('pathOf reads any target as a URL parser does, plain paths included', () => {
  const targets = [
    '/',
    '/ws',
    '/ws/room',
    '//evil/ws',
    '/ws/../x',
    '/ws/./x',
    '/ws%2Fx',
    '/ws?resume=a',
    '/a//b',
    '/w\ts',
  ];
  for (const target of targets) assert.equal(pathOrThrows(target), parsedPath(target));
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom('/', '.', '%', '?', '#', '\\', 'a', 'Z', '0', '_', '-', '~', ' ', '\t') }),
      (tail) => {
        const target = `/${tail}`;
        assert.equal(pathOrThrows(target), parsedPath(target));
      },
    ),
  );
});

test('queryOf gives the parameters of a query, and nothing for a target without one', () => {
  assert.equal(queryOf(request('/ws')), undefined);
  assert.equal(queryOf(request('/ws?resume=abc&room=1'))?.get('resume'), 'abc');
  assert.equal(queryOf(request('/ws?'))?.toString(), '');
});
