// AddressGuard on a fake clock: allow/deny lists, the rate per address, bans, and bounded memory.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseConfig } from '../config/schema.js';
import type { ServerConfig, ServerSettings } from '../config/schema.js';
import { AddressGuard } from './address-guard.js';

/** One server's config, as parseConfig makes it from these settings. */
function server(settings: ServerSettings, name = 'telnet'): ServerConfig {
  return parseConfig({ servers: { [name]: settings } }, '.', { requireHandlerClass: false }).servers[0]!;
}

/** A guard whose clock only moves when the test says so. */
function fakeClock(options: { maxTracked?: number } = {}): { guard: AddressGuard; advance(ms: number): void } {
  let now = 1_000_000;
  const guard = new AddressGuard({ ...options, now: () => now });
  return { guard, advance: (ms) => (now += ms) };
}

/** The reason each address is refused with, or 'ok'. */
function verdicts(screen: (address: string) => { reason: string } | undefined, addresses: string[]): string[] {
  return addresses.map((address) => screen(address)?.reason ?? 'ok');
}

describe('allow_ips and deny_ips', () => {
  test('IPv4 and IPv6 ranges deny what they cover, and nothing else', () => {
    const { screen } = new AddressGuard().policy(server({ deny_ips: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32'] }));
    assert.deepEqual(
      verdicts(screen, ['10.200.3.4', '11.0.0.1', '192.168.1.7', '192.168.1.8', '2001:db8:5::1', '2001:db9::1', '::1']),
      ['denied', 'ok', 'denied', 'ok', 'denied', 'ok', 'ok'],
    );
  });

  test('an IPv4-mapped IPv6 address matches IPv4 ranges, and an IPv4 address matches mapped ranges', () => {
    const { screen: byIpv4Range } = new AddressGuard().policy(server({ deny_ips: ['10.0.0.0/8'] }));
    assert.deepEqual(verdicts(byIpv4Range, ['::ffff:10.1.2.3', '::ffff:11.1.2.3']), ['denied', 'ok']);
    const { screen: byMappedRange } = new AddressGuard().policy(server({ deny_ips: ['::ffff:192.168.0.0/112'] }));
    assert.deepEqual(verdicts(byMappedRange, ['192.168.5.5', '192.169.0.1', '::ffff:192.168.9.9']), [
      'denied',
      'ok',
      'denied',
    ]);
  });

  test('allow_ips lets in only what it covers; deny_ips wins over it; an unknown address is not let in', () => {
    const { screen } = new AddressGuard().policy(
      server({ allow_ips: ['127.0.0.0/8', '::1', '10.0.0.0/24'], deny_ips: ['10.0.0.5'] }),
    );
    assert.deepEqual(
      verdicts(screen, ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.0.0.4', '10.0.0.5', '10.0.1.1', '::2', '']),
      ['ok', 'ok', 'ok', 'ok', 'denied', 'denied', 'denied', 'denied'],
    );
  });

  test('a list written in code rather than parsed is still checked, naming the key', () => {
    const config = { ...server({}), denyIps: ['10.0.0.0/33'] };
    assert.throws(() => new AddressGuard().policy(config), { code: 'ERR_CONFIG', message: /deny_ips\[0\]/ });
  });
});

describe('max_connection_rate_per_ip', () => {
  test('allows a burst of N, then one per minute / N as the bucket refills, saying how long to wait', () => {
    const { guard, advance } = fakeClock();
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 3 }));
    assert.deepEqual(verdicts(screen, Array(4).fill('10.0.0.1')), ['ok', 'ok', 'ok', 'rate']);
    assert.equal(screen('10.0.0.1')?.retryAfter, 20);
    advance(19_000);
    assert.equal(screen('10.0.0.1')?.retryAfter, 1);
    advance(1_000);
    assert.deepEqual(verdicts(screen, ['10.0.0.1', '10.0.0.1']), ['ok', 'rate']);
    // A quiet minute refills the burst, and no more than the burst.
    advance(60_000);
    assert.deepEqual(verdicts(screen, Array(4).fill('10.0.0.1')), ['ok', 'ok', 'ok', 'rate']);
  });

  test('refused attempts cost nothing: a client hammering the limit gets on once a token is back', () => {
    const { guard, advance } = fakeClock();
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 2 }));
    screen('10.0.0.1');
    screen('10.0.0.1');
    for (let i = 0; i < 100; i++) assert.equal(screen('10.0.0.1')?.reason, 'rate');
    advance(30_000);
    assert.equal(screen('10.0.0.1'), undefined);
  });

  test('is counted per address; a mapped IPv4 address is the same client as the plain one', () => {
    const { guard } = fakeClock();
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 1 }));
    assert.deepEqual(verdicts(screen, ['10.0.0.1', '10.0.0.2', '::ffff:10.0.0.1', '::ffff:10.0.0.2', '::1']), [
      'ok',
      'ok',
      'rate',
      'rate',
      'ok',
    ]);
  });

  test('is shared by every server of one guard, each applying its own rate', () => {
    const { guard } = fakeClock();
    const telnet = guard.policy(server({ max_connection_rate_per_ip: 2 }, 'telnet'));
    const web = guard.policy(server({ transport: 'websocket', max_connection_rate_per_ip: 2 }, 'web'));
    assert.deepEqual(
      [telnet.screen('10.0.0.1'), web.screen('10.0.0.1'), telnet.screen('10.0.0.1')].map((r) => r?.reason ?? 'ok'),
      ['ok', 'ok', 'rate'],
    );
    // Another application's guard knows nothing of this one's clients.
    const other = fakeClock().guard.policy(server({ max_connection_rate_per_ip: 2 }));
    assert.equal(other.screen('10.0.0.1'), undefined);
  });

  test('0 is no limit, and keeps no state', () => {
    const { guard } = fakeClock();
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 0, ban_after: 0 }));
    assert.deepEqual(new Set(verdicts(screen, Array(1000).fill('10.0.0.1'))), new Set(['ok']));
    assert.equal(guard.trackedAddresses, 0);
  });
});

describe('ban_after and ban_seconds', () => {
  test('ban_after rate refusals ban the address for ban_seconds, whatever its rate allows meanwhile', () => {
    const { guard, advance } = fakeClock();
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 60, ban_after: 2, ban_seconds: 30 }));
    for (let i = 0; i < 60; i++) screen('10.0.0.1');
    assert.deepEqual(verdicts(screen, ['10.0.0.1']), ['rate']);
    const banning = screen('10.0.0.1');
    assert.equal(banning?.reason, 'rate');
    // The refusal that banned says how long the ban lasts, not when a token is back.
    assert.equal(banning?.retryAfter, 30);
    advance(10_000);
    // Ten tokens are back, and still the address is refused.
    assert.deepEqual(screen('10.0.0.1'), {
      reason: 'banned',
      message: 'Your address is blocked for a while. Please try again in 20 seconds.',
      retryAfter: 20,
    });
    // Retries while banned do not extend the ban.
    advance(19_999);
    assert.equal(screen('10.0.0.1')?.reason, 'banned');
    advance(1);
    assert.equal(screen('10.0.0.1'), undefined);
    assert.equal(screen('10.0.0.2'), undefined);
  });

  test('refusals over max_connections_per_ip count towards a ban too', () => {
    const { guard, advance } = fakeClock();
    const policy = guard.policy(server({ ban_after: 3, ban_seconds: 5 }));
    policy.strike('10.0.0.1');
    policy.strike('::ffff:10.0.0.1');
    assert.equal(policy.screen('10.0.0.1'), undefined);
    policy.strike('10.0.0.1');
    assert.equal(policy.screen('10.0.0.1')?.reason, 'banned');
    advance(5_000);
    assert.equal(policy.screen('10.0.0.1'), undefined);
  });

  test('only refusals within ban_seconds of the first count together', () => {
    const { guard, advance } = fakeClock();
    const policy = guard.policy(server({ ban_after: 2, ban_seconds: 10 }));
    policy.strike('10.0.0.1');
    advance(10_000);
    policy.strike('10.0.0.1');
    assert.equal(policy.screen('10.0.0.1'), undefined);
    advance(9_999);
    policy.strike('10.0.0.1');
    assert.equal(policy.screen('10.0.0.1')?.reason, 'banned');
  });

  test('ban_after 0 never bans, and a server that never bans ignores the bans of others', () => {
    const { guard } = fakeClock();
    const lenient = guard.policy(server({ max_connection_rate_per_ip: 1, ban_after: 0 }, 'lenient'));
    lenient.screen('10.0.0.1');
    for (let i = 0; i < 10; i++) lenient.strike('10.0.0.1');
    assert.equal(lenient.screen('10.0.0.1')?.reason, 'rate');
    const strict = guard.policy(server({ ban_after: 1 }, 'strict'));
    strict.strike('10.0.0.2');
    assert.equal(strict.screen('10.0.0.2')?.reason, 'banned');
    assert.equal(lenient.screen('10.0.0.2'), undefined);
  });
});

describe('memory', () => {
  test('past maxTracked the least recently seen address is forgotten', () => {
    const { guard } = fakeClock({ maxTracked: 3 });
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 1 }));
    assert.deepEqual(verdicts(screen, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.1']), ['ok', 'ok', 'ok', 'rate']);
    // 10.0.0.2 is now the least recently seen: a fourth address pushes it out, and only it.
    assert.equal(screen('10.0.0.4'), undefined);
    assert.equal(guard.trackedAddresses, 3);
    assert.deepEqual(verdicts(screen, ['10.0.0.1', '10.0.0.3', '10.0.0.2']), ['rate', 'rate', 'ok']);
  });

  test('a flood of distinct addresses keeps the map at its cap', () => {
    const { guard } = fakeClock({ maxTracked: 100 });
    const { screen } = guard.policy(server({ max_connection_rate_per_ip: 5, ban_after: 2 }));
    for (let i = 0; i < 20_000; i++) screen(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(guard.trackedAddresses, 100);
  });

  test('addresses whose limits have all run out are swept, and stop() forgets everything', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const { guard, advance } = fakeClock();
    const { screen, strike } = guard.policy(server({ max_connection_rate_per_ip: 2, ban_after: 2, ban_seconds: 90 }));
    screen('10.0.0.1'); // its token is back after 30 s
    strike('10.0.0.2'); // its window of strikes closes after 90 s
    advance(29_000);
    t.mock.timers.tick(60_000);
    assert.equal(guard.trackedAddresses, 2);
    advance(1_000);
    t.mock.timers.tick(60_000);
    assert.equal(guard.trackedAddresses, 1);
    advance(60_000);
    t.mock.timers.tick(60_000);
    assert.equal(guard.trackedAddresses, 0);

    screen('10.0.0.3');
    guard.stop();
    assert.equal(guard.trackedAddresses, 0);
    guard.stop();
  });
});
