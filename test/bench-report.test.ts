// The bench's ratios: each run's framework window against the same run's raw window.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { EchoResult } from '../bench/load-requests.js';
import { checkTargets, formatReport, summarize } from '../bench/report.js';
import type { Run, TargetInfo } from '../bench/report.js';

const TARGETS: TargetInfo[] = [
  { name: 'raw-tcp', label: 'raw', transport: undefined, baseline: undefined },
  { name: 'tcp', label: 'tcp', transport: 'tcp', baseline: 'raw-tcp' },
];

function echo(perSecond: number, p99Ms: number): EchoResult {
  return {
    kind: 'echo',
    roundTrips: perSecond,
    perSecond,
    p50Ms: 1,
    p99Ms,
    errors: 0,
    cpu: { serverMs: 1000, clientMs: 500 },
    seconds: 1,
  };
}

test('a ratio is the median of each run against its own raw run, not of the medians', () => {
  // The machine's speed changes from run to run: the runs' own ratios are 0.95x, 0.9x and 0.75x,
  // while the medians of the columns (60,000 against 80,000) would say 0.75x.
  const raw: Run[] = [echo(100_000, 2), echo(50_000, 3), echo(80_000, 2)];
  const ours: Run[] = [echo(95_000, 2.2), echo(45_000, 3.3), echo(60_000, 2.2)];
  const summaries = summarize({ 'raw-tcp': { 'closed-50': raw }, tcp: { 'closed-50': ours } }, TARGETS);
  const versus = summaries.tcp!.versus!.echo['closed-50']!;
  assert.ok(Math.abs(versus.perSecond - 0.9) < 1e-9, String(versus.perSecond));
  assert.ok(Math.abs(versus.p99Ms - 1.1) < 1e-9, String(versus.p99Ms));
  const checks = checkTargets(TARGETS, summaries, {}, []);
  assert.deepEqual(
    checks
      .filter((check) => check.label === 'tcp: closed C=50 rt/s' || check.label === 'tcp: p99 at C=50')
      .map((check) => check.pass),
    [true, true],
  );
});

test('beside each ratio of rates the table shows the lowest and highest of the runs', () => {
  const raw: Run[] = [echo(100_000, 2), echo(50_000, 3), echo(80_000, 2)];
  const ours: Run[] = [echo(95_000, 2.2), echo(45_000, 3.3), echo(60_000, 2.2)];
  const summaries = summarize({ 'raw-tcp': { 'closed-50': raw }, tcp: { 'closed-50': ours } }, TARGETS);
  assert.deepEqual(summaries.tcp!.versus!.spread['closed-50'], { low: 0.75, high: 0.95 });
  const report = formatReport(TARGETS, summaries, {}, [], checkTargets(TARGETS, summaries, {}, []));
  assert.match(report, /closed C=50 rt\/s\s+80,000\s+60,000\s+0\.90x\s+>= 0\.9x PASS\s+runs 0\.75-0\.95x\n/);
  // One run has no range to show.
  const once = summarize({ 'raw-tcp': { 'closed-50': [raw[0]!] }, tcp: { 'closed-50': [ours[0]!] } }, TARGETS);
  assert.doesNotMatch(formatReport(TARGETS, once, {}, [], checkTargets(TARGETS, once, {}, [])), /runs /);
});

test('a run that failed on either side is left out of the ratio, not paired with another run', () => {
  const raw: Run[] = [echo(100_000, 2), { error: 'server died' }, echo(50_000, 2)];
  const ours: Run[] = [echo(80_000, 2), echo(99_000, 2), echo(40_000, 2)];
  const summaries = summarize({ 'raw-tcp': { 'closed-50': raw }, tcp: { 'closed-50': ours } }, TARGETS);
  assert.ok(Math.abs(summaries.tcp!.versus!.echo['closed-50']!.perSecond - 0.8) < 1e-9);
  assert.deepEqual(summaries['raw-tcp']!.failures, ['closed-50: server died']);
});

test('telnet connects are also shown against a raw server that negotiates, run by run, and set no target', () => {
  const targets: TargetInfo[] = [
    { name: 'raw-tcp', label: 'raw', transport: undefined, baseline: undefined },
    { name: 'telnet', label: 'telnet', transport: 'telnet', baseline: 'raw-tcp', negotiatingBaseline: 'raw-telnet' },
    { name: 'raw-telnet', label: 'raw negotiating', transport: undefined, baseline: undefined },
  ];
  const connects = (...rates: number[]): Run[] =>
    rates.map((perSecond) => ({
      kind: 'connect',
      connects: perSecond,
      perSecond,
      errors: 0,
      cpu: { serverMs: 800, clientMs: 900 },
      seconds: 1,
    }));
  const summaries = summarize(
    {
      'raw-tcp': { connect: connects(10_000, 12_000, 8_000) },
      'raw-telnet': { connect: connects(8_000, 10_000, 6_000) },
      telnet: { connect: connects(7_000, 9_000, 5_400) },
    },
    targets,
  );
  const versus = summaries.telnet!.versus!;
  // Runs' own ratios: 0.7, 0.75, 0.675 against raw-tcp; 0.875, 0.9, 0.9 against raw-telnet.
  assert.ok(Math.abs(versus.connect - 0.7) < 1e-9, String(versus.connect));
  assert.ok(Math.abs(versus.connectNegotiating! - 0.9) < 1e-9, String(versus.connectNegotiating));
  const labels = checkTargets(targets, summaries, {}, []).map((check) => check.label);
  assert.ok(labels.includes('telnet: connects/s'));
  assert.equal(labels.filter((label) => label.includes('negotiat')).length, 0);
  const report = formatReport(targets, summaries, {}, [], checkTargets(targets, summaries, {}, []));
  assert.match(report, /vs raw negotiating\s+8,000\s+7,000\s+0\.90x\s+not a target/);
});
