// Monitor access: tokens from headers or the query, loopback rules, and who gets operator rights.
import assert from 'node:assert/strict';
import type http from 'node:http';
import { test } from 'node:test';

import { accessOf, isLoopbackHost, newToken, tokenOf } from './access.js';

function request(url: string, authorization?: string): http.IncomingMessage {
  return { url, headers: authorization === undefined ? {} : { authorization } } as http.IncomingMessage;
}

const TOKEN = 'viewer-token-0123456789';
const ADMIN = 'admin-token-0123456789';

test('a token comes from a Bearer header, else from ?token=', () => {
  assert.equal(tokenOf(request('/monitor', `Bearer ${TOKEN}`)), TOKEN);
  assert.equal(tokenOf(request('/monitor', `bearer   ${TOKEN}`)), TOKEN);
  assert.equal(tokenOf(request(`/monitor?token=${TOKEN}`)), TOKEN);
  assert.equal(tokenOf(request('/monitor', 'Basic abc')), undefined);
  assert.equal(tokenOf(request('/monitor')), undefined);
});

test('with tokens set, only a listed token opens; the admin token also grants operator rights', () => {
  const policy = { tokens: [TOKEN, 'second-token-0123456789'], adminTokens: [ADMIN] };
  assert.equal(accessOf(request('/m', `Bearer ${TOKEN}`), policy), 'viewer');
  assert.equal(accessOf(request('/m?token=second-token-0123456789'), policy), 'viewer');
  assert.equal(accessOf(request(`/m?token=${ADMIN}`), policy), 'admin');
  assert.equal(accessOf(request('/m', `Bearer ${TOKEN}x`), policy), 'none');
  assert.equal(accessOf(request('/m', `Bearer ${TOKEN.slice(0, -1)}`), policy), 'none');
  assert.equal(accessOf(request('/m'), policy), 'none');
});

test('with no token set everyone may watch, and nobody may act without the admin token', () => {
  assert.equal(accessOf(request('/m'), { tokens: [], adminTokens: [] }), 'viewer');
  assert.equal(accessOf(request('/m?token=anything'), { tokens: [], adminTokens: [ADMIN] }), 'viewer');
});

test('loopback hosts are told apart from every other address', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.com', '::ffff:127.0.0.1x']) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

test('generated tokens are long, URL-safe and different every time', () => {
  const tokens = new Set(Array.from({ length: 100 }, () => newToken()));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]{32}$/);
});
