// Workers: the built launcher with workers: 2 as a subprocess, the chat sample's clients on every
// transport across both workers, metrics and the monitor token, a worker killed, and the signals.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { TransportName } from '../src/index.js';
import { CLI, ROOT, ensureBuilt } from './support/build.js';
import { enterRoom } from './support/chat.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { startServing } from './support/launcher-process.js';
import { until } from './support/received-text.js';
import { connectViewer } from './support/viewer.js';

const CHAT = join(ROOT, 'examples', 'chat', 'handler.ts');
const SHUTDOWN_MESSAGE = 'Server is shutting down';
const TOO_MANY_FROM_ADDRESS = 'Too many connections from your address';
/** Sessions from 127.0.0.1 the tcp server admits, counted across the application. */
const PER_IP = 6;

let dir = '';
before(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'workers-test-'));
});
after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** A config of every transport on 127.0.0.1, ports chosen by the primary, the monitor on every address. */
async function writeConfig(): Promise<string> {
  const server = (transport: TransportName, extra = ''): string =>
    `  ${transport}: { transport: ${transport}, host: 127.0.0.1, port: 0, handler_class: '${CHAT}:ChatHandler'${extra} }\n`;
  const path = join(dir, 'config.yaml');
  await writeFile(
    path,
    'workers: 2\nmonitor_port: 0\nmonitor_host: 0.0.0.0\nservers:\n' +
      server('telnet') +
      server('tcp', `, max_connections_per_ip: ${PER_IP}`) +
      server('websocket', ', enable_monitoring: true, metrics_path: /metrics') +
      server('ws_telnet') +
      server('ssh'),
  );
  return path;
}

/** The launcher's worker processes now. */
function workerPids(primary: number): number[] {
  const found = spawnSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' });
  return found.stdout.split('\n').filter(Boolean).map(Number).sort();
}

/** GETs `url` on a connection of its own (so that round robin may hand it to either worker). */
function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = token === undefined ? {} : { Authorization: `Bearer ${token}` };
    http
      .get(url, { agent: false, headers }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .once('error', reject);
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('workers: 2 serve every transport as one application, share metrics and a token, outlive a killed worker and stop on SIGTERM', async () => {
  // -v: the primary logs a restarted worker's return at info level.
  const running = await startServing(process.execPath, [CLI, '-c', await writeConfig(), '-v'], {
    servers: 5,
    cwd: dir,
  });
  const primary = running.child.pid!;
  await until(() => running.output().stdout.includes('made for this run'), 'the monitor lines', 5000);
  const { stdout } = running.output();
  assert.equal(stdout.match(/server listening on/g)?.length, 5, 'each server printed once');
  const token = /^monitor: http:\/\/[^\s]+:(\d+)\/monitor\?token=(\S+)$/m.exec(stdout);
  assert.ok(token, stdout);
  const workers = workerPids(primary);
  assert.equal(workers.length, 2);

  // Two on tcp: round robin hands them to different workers.
  const clients = new Map<string, TestClient>();
  for (const transport of ['telnet', 'tcp', 'websocket', 'ws_telnet', 'ssh'] as const) {
    clients.set(transport, await enterRoom(transport, running.ports.get(transport)!, `${transport}_user`, 10_000));
  }
  const listener = clients.get('tcp')!;
  const joined = listener.text.length;
  clients.set('tcp2', await enterRoom('tcp', running.ports.get('tcp')!, 'tcp2_user', 10_000));
  // The last one entered through the other worker: the room is six once its join has come over.
  await listener.waitFor('* tcp2_user joined (tcp)', { from: joined });
  const from = listener.text.length;
  listener.send('/who');
  await listener.waitFor('In the room (6):', { from });
  for (const name of ['telnet_user', 'tcp2_user', 'websocket_user', 'ws_telnet_user', 'ssh_user']) {
    assert.match(listener.text.slice(from), new RegExp(name));
  }
  clients.get('ssh')!.send('hello from ssh');
  for (const client of clients.values()) await client.waitFor('<ssh_user> hello from ssh');

  // The per-address limit counts sessions on both workers: refused whichever worker takes it.
  for (let i = 0; i < 2; i++) {
    const refused = await connect('tcp', running.ports.get('tcp')!);
    await refused.waitFor(TOO_MANY_FROM_ADDRESS);
  }

  // Whichever worker answers a scrape, it counts every worker's sessions; the printed token opens both.
  const metricsUrl = `http://127.0.0.1:${running.ports.get('websocket')}/metrics`;
  const monitorMetrics = `http://127.0.0.1:${token[1]}/metrics`;
  for (let i = 0; i < 4; i++) {
    const { body } = await get(metricsUrl);
    assert.match(body, /^chuk_sessions_active\{server="tcp",transport="tcp"\} 2$/m);
    assert.match(body, /^chuk_sessions_active\{server="ssh",transport="ssh"\} 1$/m);
    assert.match(body, /^chuk_build_info\{[^}]*\} 1$/m);
    assert.equal((await get(monitorMetrics)).status, 401);
    assert.equal((await get(monitorMetrics, token[2])).status, 200);
  }

  // A viewer lists every worker's sessions and watches one wherever it lives. Round robin hands
  // the two viewers' connections to different workers, so one of them watches across workers.
  const users = ['telnet_user', 'tcp_user', 'tcp2_user', 'websocket_user', 'ws_telnet_user', 'ssh_user'];
  for (let i = 0; i < 2; i++) {
    const viewer = await connectViewer(`ws://127.0.0.1:${token[1]}/monitor?token=${token[2]}`);
    const listed = viewer.messages[0]!.sessions!;
    assert.deepEqual(listed.map((session) => session.user).sort(), [...users].sort());
    const watched = listed.find((session) => session.user === 'telnet_user')!;
    viewer.send({ type: 'watch_session', session_id: watched.id });
    await viewer.next((message) => message.type === 'screen_snapshot');
    clients.get('telnet')!.send(`watched by viewer ${i}`);
    await viewer.next(
      (message) =>
        message.type === 'server_message' &&
        message.session_id === watched.id &&
        message.data!.text!.includes(`watched by viewer ${i}`),
    );
    viewer.ws.terminate();
  }

  // A worker killed: its users are cut off, the other's stay, and it is restarted and logged.
  process.kill(workers[0]!, 'SIGKILL');
  await until(() => /worker \d exited \(SIGKILL\)/.test(running.output().stderr), 'the crash to be logged', 5000);
  await until(() => /worker \d serves again/.test(running.output().stderr), 'a new worker serving', 15_000);
  assert.ok(!workerPids(primary).includes(workers[0]!));
  const survivors = [...clients.values()];
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cut = await Promise.all(
    survivors.map((client) =>
      Promise.race([client.closed.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 100))]),
    ),
  );
  assert.ok(cut.includes(true) && cut.includes(false), 'sessions were on both workers');
  const staying = survivors.filter((_, i) => cut[i] === false);
  const late = [
    await enterRoom('telnet', running.ports.get('telnet')!, 'late1', 10_000),
    await enterRoom('telnet', running.ports.get('telnet')!, 'late2', 10_000),
  ];

  // SIGTERM to the primary: every worker's users hear the notice, and it exits 0 with no worker left.
  const workersBeforeStop = workerPids(primary);
  running.child.kill('SIGTERM');
  for (const client of [...staying, ...late]) await client.waitFor(SHUTDOWN_MESSAGE, { timeoutMs: 10_000 });
  assert.equal(await running.exited, 0);
  assert.ok(
    workersBeforeStop.every((pid) => !isAlive(pid)),
    'every worker exited',
  );
  assert.match(running.output().stdout, /SIGTERM: shutting down/);
});

test('a worker that cannot start stops the launch: the error once, exit code 2, nothing left running', async () => {
  const config = join(dir, 'broken.yaml');
  await writeFile(config, `handler_class: './missing.ts:Nothing'\nhost: 127.0.0.1\nport: 0\n`);
  const run = spawnSync(process.execPath, [CLI, '-c', config, '--workers', '2'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 2, run.stderr);
  const lines = run.stderr.split('\n').filter((line) => line.includes('missing.ts'));
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^server-launcher: .*broken\.yaml: /);
  assert.equal(spawnSync('pgrep', ['-f', config], { encoding: 'utf8' }).stdout, '');
});

test('--workers takes a whole number from 1 to 256', () => {
  const run = spawnSync(process.execPath, [CLI, './missing.ts:Nothing', '--workers', '0'], {
    cwd: dir,
    encoding: 'utf8',
  });
  assert.equal(run.status, 2);
  assert.equal(
    run.stderr,
    "server-launcher: option '--workers <n>' argument '0' is invalid. expected a whole number from 1 to 256 (see --help)\n",
  );
});
