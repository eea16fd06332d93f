// Several launcher processes sharing one redis-server behave as one application: chat, who, the monitor, a crash, an outage.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import type { Browser } from 'playwright-core';

import { parseConfig } from '../src/index.js';
import type { Launch } from '../src/index.js';
import { launchChromium, waitForScreen } from './support/browser.js';
import { CLI, ROOT, ensureBuilt } from './support/build.js';
import { command, enterRoom } from './support/chat.js';
import { connect } from './support/clients.js';
import type { TestClient } from './support/clients.js';
import { startServing } from './support/launcher-process.js';
import type { Running } from './support/launcher-process.js';
import { EchoHandler } from './support/handlers.js';
import { until } from './support/received-text.js';
import { startRedis } from './support/redis.js';
import { quiet, startLaunch } from './support/servers.js';
import { connectViewer } from './support/viewer.js';

const CHAT = `${join(ROOT, 'examples', 'chat', 'handler.ts')}:ChatHandler`;
/** Heartbeats and expiry of the instances under test: a dead one is gone within about a second. */
const HEARTBEAT_S = 0.2;
const INSTANCE_TIMEOUT_S = 1;

// At the top level: its after hook then belongs to the file, not to a before hook.
const redis = await startRedis();
let dir = '';
let browser: Browser | undefined;

before(async () => {
  ensureBuilt();
  dir = await mkdtemp(join(tmpdir(), 'cps-scaling-'));
});

after(async () => {
  await browser?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** An instance of the chat sample in a launcher process of its own, from a config file of its own. */
interface Instance {
  process: Running;
  telnet: number;
  websocket: number;
}

/** Writes `name`.yaml naming the test's Redis, and launches it. */
async function startInstance(name: string): Promise<Instance> {
  const config = join(dir, `${name}.yaml`);
  await writeFile(
    config,
    `hub:
  redis: ${redis.url}
  heartbeat_interval: ${HEARTBEAT_S}
  instance_timeout: ${INSTANCE_TIMEOUT_S}
servers:
  telnet:
    host: 127.0.0.1
    port: 0
    transport: telnet
    handler_class: '${CHAT}'
  websocket:
    host: 127.0.0.1
    port: 0
    transport: websocket
    handler_class: '${CHAT}'
    web_client: true
    enable_monitoring: true
    metrics_path: /metrics
`,
  );
  const running = await startServing(process.execPath, [CLI, '-c', config], { servers: 2, cwd: dir });
  return { process: running, telnet: running.ports.get('telnet')!, websocket: running.ports.get('websocket')! };
}

/** Says `line` until `listener` hears it: the other instances may take a moment to be heard of. */
async function sayUntilHeard(
  speaker: TestClient,
  listener: TestClient,
  line: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const said = `${line} #${attempt}`;
    speaker.send(said);
    try {
      await listener.waitFor(said, { timeoutMs: 500 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

let a: Instance;
let b: Instance;

test('a telnet user on one instance and a browser user on another chat, and /who lists both', async () => {
  [a, b] = await Promise.all([startInstance('a'), startInstance('b')]);
  const ada = await enterRoom('telnet', a.telnet, 'Ada');
  browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${b.websocket}/`);
  await waitForScreen(page, 'Nickname?');
  await page.keyboard.type('Pat\r');
  await waitForScreen(page, 'Hello Pat! Here: Ada.');
  await ada.waitFor('* Pat joined (websocket)');
  await page.keyboard.type('hello from instance b\r');
  await ada.waitFor('<Pat> hello from instance b\r\n');
  ada.send('hello from instance a');
  await waitForScreen(page, '<Ada> hello from instance a');
  const who = await command(ada, '/who');
  assert.match(who, /In the room \(2\):\r\n {2}Ada {2}telnet \(you\)\r\n {2}Pat {2}websocket\r\n/);
  assert.match(await command(ada, '/msg pat just for you'), /-> \*Pat\* just for you/);
  await waitForScreen(page, '*Ada* just for you');
  await page.close();
  await ada.waitFor('* Pat left\r\n');
  ada.end();
});

test('a monitor viewer on one instance lists and watches a session of the other', async () => {
  const bea = await enterRoom('telnet', b.telnet, 'Bea');
  bea.send('before anyone watched');
  await bea.waitFor('<Bea> before anyone watched');
  const viewer = await connectViewer(`ws://127.0.0.1:${a.websocket}/monitor`);
  const listed = viewer.messages[0]!.sessions!.find((session) => session.user === 'Bea');
  assert.ok(listed, `Bea, on the other instance, is listed: ${JSON.stringify(viewer.messages[0])}`);
  assert.equal(listed.transport, 'telnet');
  assert.equal(listed.instance!.split('/')[1], String(b.process.child.pid), 'named as served by the other process');
  viewer.send({ type: 'watch_session', session_id: listed.id });
  const snapshot = await viewer.next((message) => message.type === 'screen_snapshot');
  assert.match(snapshot.data!.text!, /<Bea> before anyone watched/);
  bea.send('while watched');
  const live = await viewer.next(
    (message) => message.type === 'server_message' && message.data!.text!.includes('<Bea> while watched'),
  );
  assert.equal(live.session_id, listed.id);
  await viewer.next(
    (message) =>
      message.type === 'client_input' && message.data!.text === 'while watched' && message.session_id === listed.id,
  );
  bea.send('/quit');
  await viewer.next((message) => message.type === 'session_ended' && message.session!.id === listed.id);
  viewer.ws.terminate();
});

test('an instance killed with SIGKILL has its sessions leave the others within the instance timeout', async () => {
  const doomed = await startInstance('c');
  const ada = await enterRoom('telnet', a.telnet, 'Ada2');
  const cy = await enterRoom('telnet', doomed.telnet, 'Cy');
  await ada.waitFor('* Cy joined (telnet)');
  // The late instance's monitor lists the sessions that were there before it started.
  const viewer = await connectViewer(`ws://127.0.0.1:${doomed.websocket}/monitor`);
  assert.ok(
    viewer.messages[0]!.sessions!.some((session) => session.user === 'Ada2'),
    JSON.stringify(viewer.messages[0]),
  );
  viewer.ws.terminate();
  doomed.process.child.kill('SIGKILL');
  await doomed.process.exited;
  const killedAt = Date.now();
  for (;;) {
    if (!(await command(ada, '/who')).includes('Cy')) break;
    assert.ok(Date.now() - killedAt < (INSTANCE_TIMEOUT_S + 3) * 1000, 'Cy is still listed long after the kill');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  cy.destroy();
  ada.end();
});

test('with Redis down each instance serves its own users; back up, they are one room again without a restart', async () => {
  const ann = await enterRoom('telnet', a.telnet, 'Ann');
  const bo = await enterRoom('telnet', b.telnet, 'Bo');
  await sayUntilHeard(ann, bo, 'before the outage', 10_000);
  await redis.stop();
  await readyzSays(a, 'ready (degraded: redis unreachable, this instance only)\n');
  // The log stream is written asynchronously: its line may come after /readyz has changed.
  await until(
    () => a.process.output().stderr.includes('hub: other instances unreachable; serving this instance only'),
    'the outage logged',
  );
  ann.send('alone on a');
  await ann.waitFor('<Ann> alone on a\r\n');
  bo.send('alone on b');
  await bo.waitFor('<Bo> alone on b\r\n');
  const newcomer = await enterRoom('telnet', b.telnet, 'Newt');
  await bo.waitFor('* Newt joined (telnet)');
  assert.match(await metrics(a), /^chuk_hub_up 0$/m);
  assert.match(await metrics(a), /^chuk_hub_dropped_messages_total [1-9]\d*$/m, 'what could not be sent is counted');
  await redis.start();
  await sayUntilHeard(ann, bo, 'after the outage', 15_000);
  await sayUntilHeard(bo, ann, 'and back', 10_000);
  assert.match(
    await command(ann, '/who'),
    /In the room \(3\):\r\n {2}Ann {3}telnet \(you\)\r\n {2}Bo {4}telnet\r\n {2}Newt {2}telnet\r\n/,
  );
  await readyzSays(a, 'ready\n');
  assert.match(await metrics(a), /^chuk_hub_up 1$/m);
  assert.match(await metrics(a), /^chuk_hub_instances 1$/m, 'b is back, and c, killed, is not');
  await until(() => a.process.output().stderr.includes('hub: other instances reachable again'), 'the recovery logged');
  assert.ok(!ann.text.includes('alone on b'), 'what was said during the outage is not replayed');
  for (const client of [ann, bo, newcomer]) client.end();
});

test('max_connections_per_ip counts an address across instances, until the instance holding it stops', async () => {
  const launchLimited = (): Promise<Launch> =>
    startLaunch(
      parseConfig(
        {
          hub: { redis: redis.url, channel_prefix: 'per-ip', heartbeat_interval: HEARTBEAT_S, instance_timeout: 1 },
          servers: { tcp: { transport: 'tcp', host: '127.0.0.1', port: 0, max_connections_per_ip: 1 } },
        },
        ROOT,
        { requireHandlerClass: false },
      ),
      { logger: quiet, handlerClass: EchoHandler },
    );
  const [first, second] = await Promise.all([launchLimited(), launchLimited()]);
  const portOf = (launch: Launch): number => launch.servers[0]!.address!.port;
  const held = await connect('tcp', portOf(first));
  await held.waitFor('> ');
  const deadline = Date.now() + 5000;
  while (second.app.connectionsFrom('127.0.0.1') === 0) {
    assert.ok(Date.now() < deadline, "the second instance never heard of the first one's session");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const refused = await connect('tcp', portOf(second));
  await refused.waitFor('Too many connections from your address. Please try again later.');
  await refused.closed;
  await first.stop(0);
  const admitted = await connect('tcp', portOf(second));
  await admitted.waitFor('> ', { timeoutMs: 5000 });
  admitted.send('counted once again');
  await admitted.waitFor('counted once again');
});

/** Waits until the instance's /readyz answers 200 with `body`. */
async function readyzSays(instance: Instance, body: string): Promise<void> {
  // A reconnection backs off to one attempt every 2 s: a few of them, on a busy machine.
  const deadline = Date.now() + 10_000;
  let last = '';
  while (Date.now() < deadline) {
    const response = await fetch(`http://127.0.0.1:${instance.websocket}/readyz`);
    last = `${response.status} ${await response.text()}`;
    if (last === `200 ${body}`) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`/readyz answers ${JSON.stringify(last)}, not 200 ${JSON.stringify(body)}`);
}

async function metrics(instance: Instance): Promise<string> {
  return (await fetch(`http://127.0.0.1:${instance.websocket}/metrics`)).text();
}
