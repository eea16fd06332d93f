// The hub contract: what every hub implementation must do, with members that record what they get.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { channelPair } from '../../test/support/ipc.js';
import { startRedis } from '../../test/support/redis.js';
import { BusHub } from './bus-hub.js';
import type { SessionInfo } from './events.js';
import { SessionEvents } from './events.js';
import { InProcessHub } from './hub.js';
import type { HubMember, SessionHub } from './hub.js';
import { BusRelay, IpcBus } from './ipc-bus.js';
import { RedisBus } from './redis-bus.js';
import { newSessionId } from './session-id.js';

/** A session as the hub sees it, recording what it was sent. */
class RecordingMember implements HubMember {
  readonly received: string[] = [];
  kickedWith: string | undefined;

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
    readonly server: string,
    readonly transport: SessionInfo['transport'],
  ) {}

  info(): SessionInfo {
    return {
      id: this.id,
      instance: 'test',
      server: this.server,
      transport: this.transport,
      remoteAddress: this.remoteAddress,
      remotePort: 1,
      secure: false,
      startedAt: 0,
      lastInputAt: 0,
      user: undefined,
      terminal: { type: undefined, cols: undefined, rows: undefined },
      bytesIn: 0,
      bytesOut: 0,
    };
  }

  notify(text: string): Promise<void> {
    this.received.push(text);
    return Promise.resolve();
  }

  kick(message?: string): Promise<void> {
    this.kickedWith = message;
    return Promise.resolve();
  }
}

const redis = await startRedis();
const started: SessionHub[] = [];
after(() => Promise.all(started.splice(0).map((hub) => hub.stop())));

/** A hub of one instance among those sharing `channelPrefix` on the test's Redis. */
async function redisHub(
  channelPrefix: string,
  timing = { heartbeatMs: 100, instanceTimeoutMs: 1000 },
): Promise<BusHub> {
  const hub = new BusHub({ bus: new RedisBus({ url: redis.url, channelPrefix }), via: 'redis', ...timing });
  started.push(hub);
  await hub.start();
  return hub;
}

/** A worker's hub, alone behind a primary's relay: an application of one worker. */
async function ipcHub(): Promise<BusHub> {
  const channel = channelPair();
  new BusRelay().attach(channel.primary);
  const hub = new BusHub({ bus: new IpcBus(channel.worker), via: 'ipc' });
  started.push(hub);
  await hub.start();
  return hub;
}

const hubs: Array<[string, () => Promise<SessionHub>]> = [
  ['InProcessHub', () => Promise.resolve(new InProcessHub())],
  // Each on a channel of its own: an application of one instance.
  ['BusHub over Redis', () => redisHub(`contract-${newSessionId()}`)],
  ['BusHub over cluster IPC', ipcHub],
];

for (const [name, createHub] of hubs) {
  describe(`${name} contract`, () => {
    async function populated(): Promise<{ hub: SessionHub; members: RecordingMember[] }> {
      const hub = await createHub();
      const members = [
        new RecordingMember('a', '10.0.0.1', 'telnet', 'telnet'),
        new RecordingMember('b', '10.0.0.1', 'web', 'websocket'),
        new RecordingMember('c', '10.0.0.2', 'web', 'websocket'),
      ];
      for (const member of members) hub.add(member);
      return { hub, members };
    }

    test('lists, looks up and counts its members', async () => {
      const { hub, members } = await populated();
      assert.equal(hub.localCount, 3);
      assert.deepEqual((await hub.list()).map((info) => info.id).sort(), ['a', 'b', 'c']);
      assert.equal((await hub.get('b'))?.transport, 'websocket');
      assert.equal(await hub.get('z'), undefined);
      hub.remove(members[1]!);
      hub.remove(members[1]!);
      assert.deepEqual((await hub.list()).map((info) => info.id).sort(), ['a', 'c']);
    });

    test('filters by server, transport and exclusion, every condition together', async () => {
      const { hub } = await populated();
      const ids = async (filter: Parameters<SessionHub['list']>[0]): Promise<string[]> =>
        (await hub.list(filter)).map((info) => info.id).sort();
      assert.deepEqual(await ids({ server: 'web' }), ['b', 'c']);
      assert.deepEqual(await ids({ transport: ['telnet', 'websocket'], except: 'b' }), ['a', 'c']);
      assert.deepEqual(await ids({ server: 'web', except: ['b', 'c'] }), []);
      assert.deepEqual(await ids({ transport: 'tcp' }), []);
    });

    test('broadcasts a line to every matching member, and sends and kicks by id', async () => {
      const { hub, members } = await populated();
      assert.equal(await hub.broadcast('hello', { except: 'a' }), 2);
      assert.deepEqual(
        members.map((member) => member.received),
        [[], ['hello\n'], ['hello\n']],
      );
      assert.equal(await hub.send('a', 'just you'), true);
      assert.equal(await hub.send('z', 'nobody'), false);
      assert.deepEqual(members[0]!.received, ['just you\n']);
      assert.equal(await hub.kick('c', 'bye'), true);
      assert.equal(members[2]!.kickedWith, 'bye');
      assert.equal(await hub.kick('z'), false);
    });

    test('counts connections per address for admission, down to zero', async () => {
      const { hub, members } = await populated();
      assert.equal(hub.connectionsFrom('10.0.0.1'), 2);
      // A dual-stack listener's IPv4 client is the same client.
      assert.equal(hub.connectionsFrom('::ffff:10.0.0.1'), 2);
      const mapped = new RecordingMember('d', '::ffff:10.0.0.2', 'web', 'websocket');
      hub.add(mapped);
      assert.equal(hub.connectionsFrom('10.0.0.2'), 2);
      hub.remove(mapped);
      hub.remove(members[0]!);
      hub.remove(members[1]!);
      assert.equal(hub.connectionsFrom('10.0.0.1'), 0);
      assert.equal(hub.connectionsFrom('10.0.0.2'), 1);
    });

    test('a broadcast to thousands of members lets other work run between batches', async () => {
      const hub = await createHub();
      const members = Array.from({ length: 2000 }, (_, i) => new RecordingMember(`m${i}`, '10.0.0.3', 's', 'tcp'));
      for (const member of members) hub.add(member);
      let turns = 0;
      const ticker = setInterval(() => (turns += 1), 0);
      try {
        assert.equal(await hub.broadcast('news'), 2000);
      } finally {
        clearInterval(ticker);
      }
      assert.ok(members.every((member) => member.received.length === 1));
      assert.ok(turns > 0, 'timers ran while the broadcast was going on');
    });

    test('a member that never finishes taking output does not hold up the others', async () => {
      const hub = await createHub();
      const stuck = new RecordingMember('stuck', '10.0.0.4', 's', 'tcp');
      stuck.notify = () => new Promise(() => undefined);
      const fine = new RecordingMember('fine', '10.0.0.4', 's', 'tcp');
      hub.add(stuck);
      hub.add(fine);
      assert.equal(await hub.broadcast('news'), 2);
      assert.deepEqual(fine.received, ['news\n']);
    });
  });
}

/** Adds a member as a session does: into the hub, then its start on the event stream. */
function join(hub: SessionHub, member: RecordingMember): void {
  hub.add(member);
  hub.events.publish('session-started', { session: member.info() });
}

function leave(hub: SessionHub, member: RecordingMember): void {
  hub.remove(member);
  hub.events.publish('session-ended', { session: member.info(), reason: 'client-closed' });
}

/** Waits for `condition`, polling; fails with `what` after `timeoutMs`. */
async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function ids(hub: SessionHub): Promise<string[]> {
  return (await hub.list()).map((info) => info.id).sort();
}

describe('BusHub over Redis, across instances', () => {
  /** Two instances of one application; members get the instance names their sessions would. */
  async function pair(timing?: { heartbeatMs: number; instanceTimeoutMs: number }): Promise<[BusHub, BusHub]> {
    const prefix = `pair-${newSessionId()}`;
    return [await redisHub(prefix, timing), await redisHub(prefix, timing)];
  }

  test('each lists, looks up and counts per address the sessions of both', async () => {
    const [a, b] = await pair();
    join(a, new RecordingMember('a1', '10.1.0.1', 'telnet', 'telnet'));
    join(b, new RecordingMember('b1', '10.1.0.1', 'web', 'websocket'));
    await eventually('both list both', async () => (await ids(a)).length === 2 && (await ids(b)).length === 2);
    assert.deepEqual(await ids(a), ['a1', 'b1']);
    assert.equal((await a.get('b1'))?.transport, 'websocket');
    assert.equal(a.connectionsFrom('10.1.0.1'), 2);
    assert.equal(b.connectionsFrom('::ffff:10.1.0.1'), 2);
    assert.equal(a.localCount, 1);
  });

  test('an instance that joins late learns the sessions already there', async () => {
    const prefix = `late-${newSessionId()}`;
    const a = await redisHub(prefix);
    join(a, new RecordingMember('early', '10.1.0.2', 's', 'tcp'));
    const b = await redisHub(prefix);
    await eventually('the late instance lists the early session', async () => (await ids(b)).includes('early'));
  });

  test('a broadcast reaches every session of every instance once, in the order sent', async () => {
    const [a, b] = await pair();
    const local = new RecordingMember('a1', '10.1.0.3', 's', 'tcp');
    const remote = new RecordingMember('b1', '10.1.0.3', 's', 'tcp');
    const other = new RecordingMember('b2', '10.1.0.3', 'other', 'tcp');
    join(a, local);
    join(b, remote);
    join(b, other);
    await eventually('a lists b', async () => (await ids(a)).length === 3);
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
    for (const line of lines) assert.equal(await a.broadcast(line, { server: 's' }), 2);
    const expected = lines.map((line) => `${line}\n`);
    await eventually('the remote session has every line', () => remote.received.length >= 50);
    assert.deepEqual(remote.received, expected);
    assert.deepEqual(local.received, expected);
    assert.deepEqual(other.received, [], 'the filter holds on the other instance too');
  });

  test('sends to and kicks a session of another instance by id', async () => {
    const [a, b] = await pair();
    const remote = new RecordingMember('b1', '10.1.0.4', 's', 'tcp');
    join(b, remote);
    await eventually('a lists b1', async () => (await a.get('b1')) !== undefined);
    assert.equal(await a.send('b1', 'psst'), true);
    assert.equal(await a.send('nobody', 'psst'), false);
    assert.equal(await a.kick('b1', 'go'), true);
    await eventually('b1 is kicked', () => remote.kickedWith === 'go');
    assert.deepEqual(remote.received, ['psst\n']);
  });

  test('tells its peers stream when sessions elsewhere start, change and end', async () => {
    const [a, b] = await pair();
    const seen: string[] = [];
    a.peers.subscribe({
      'session-started': ({ session }) => seen.push(`started ${session.id}`),
      user: ({ sessionId, user }) => seen.push(`user ${sessionId} ${user}`),
      'session-ended': ({ session }) => seen.push(`ended ${session.id}`),
    });
    const member = new RecordingMember('b1', '10.1.0.5', 's', 'tcp');
    join(b, member);
    const named = member.info();
    member.info = () => ({ ...named, user: 'ann' });
    b.events.publish('user', { sessionId: 'b1', user: 'ann' });
    leave(b, member);
    await eventually('the end is seen', () => seen.length === 3);
    assert.deepEqual(seen, ['started b1', 'user b1 ann', 'ended b1']);
    assert.equal(a.events.has('session-started'), true, "its own stream is the hub's, not the peers'");
    assert.equal(a.connectionsFrom('10.1.0.5'), 0);
  });

  test('an instance that dies is forgotten, with its sessions, within the instance timeout', async () => {
    const prefix = `crash-${newSessionId()}`;
    const timing = { heartbeatMs: 100, instanceTimeoutMs: 600 };
    const bus = new RedisBus({ url: redis.url, channelPrefix: prefix });
    const doomed = new BusHub({ bus, via: 'redis', ...timing });
    await doomed.start();
    const survivor = await redisHub(prefix, timing);
    join(doomed, new RecordingMember('d1', '10.1.0.6', 's', 'tcp'));
    await eventually('the survivor lists d1', async () => (await ids(survivor)).includes('d1'));
    // Its connection to Redis gone without a goodbye, as when the process is killed.
    await bus.stop();
    const lost = Date.now();
    await eventually('d1 is gone', async () => !(await ids(survivor)).includes('d1'), 3000);
    assert.ok(Date.now() - lost < 600 + 2 * 100 + 500, 'gone within the timeout and a heartbeat or two');
    assert.equal(survivor.connectionsFrom('10.1.0.6'), 0);
    await doomed.stop();
  });

  test('an instance that stops says goodbye: its sessions leave the others at once, not at the timeout', async () => {
    const [leaving, staying] = await pair({ heartbeatMs: 100, instanceTimeoutMs: 30_000 });
    join(leaving, new RecordingMember('l1', '10.1.0.8', 's', 'tcp'));
    await eventually('the other lists l1', async () => (await ids(staying)).includes('l1'));
    await leaving.stop();
    await eventually('l1 is gone', async () => !(await ids(staying)).includes('l1'), 3000);
    assert.equal(staying.sharing().instances, 0);
  });

  test('streams a watched session of another instance, numbered after the screen it starts with', async () => {
    const [a, b] = await pair();
    b.setScreenSource({
      screen: () => Promise.resolve({ text: 'so far', cols: 80, rows: 24 }),
      release: () => undefined,
    });
    const member = new RecordingMember('b1', '10.1.0.7', 's', 'tcp');
    join(b, member);
    await eventually('a lists b1', async () => (await a.get('b1')) !== undefined);
    const events: string[] = [];
    const watch = await a.watch('b1', (event) => events.push(`${event.seq} ${event.type} ${event.text}`));
    assert.deepEqual(watch && { screen: watch.screen, seq: watch.seq }, {
      screen: { text: 'so far', cols: 80, rows: 24 },
      seq: 0,
    });
    b.events.publish('output', { sessionId: 'b1', text: 'hello' });
    b.events.publish('input', { sessionId: 'b1', kind: 'line', hidden: false, text: 'hi' });
    await eventually('both events arrive', () => events.length === 2);
    assert.deepEqual(events, ['1 output hello', '2 input hi']);
    watch!.stop();
    await eventually('b stops forwarding', () => !b.events.has('output'));
    assert.equal(await a.watch('nobody', () => undefined), undefined);
    // Watched again, then gone: the serving instance stops forwarding as well.
    const again = await a.watch('b1', () => undefined);
    assert.ok(again !== undefined && b.events.has('output'));
    leave(b, member);
    await eventually('b stops forwarding what ended', () => !b.events.has('output'));
  });
});

describe('BusHub over Redis, through an outage', () => {
  test('serves its own sessions while Redis is down, counts what it drops, and recovers by itself', async () => {
    const prefix = `outage-${newSessionId()}`;
    const timing = { heartbeatMs: 100, instanceTimeoutMs: 800 };
    const [a, b] = [await redisHub(prefix, timing), await redisHub(prefix, timing)];
    const local = new RecordingMember('a1', '10.2.0.1', 's', 'tcp');
    const remote = new RecordingMember('b1', '10.2.0.1', 's', 'tcp');
    join(a, local);
    join(b, remote);
    await eventually('a lists b1', async () => (await ids(a)).length === 2);
    await redis.stop();
    await eventually('a reports the outage', () => a.sharing().isUp === false);
    assert.equal(await a.broadcast('alone'), 1);
    assert.deepEqual(local.received, ['alone\n']);
    assert.ok(a.sharing().dropped > 0, 'the broadcast to other instances is counted as dropped');
    await eventually('b1 leaves the listing once its instance is unheard of', async () => (await ids(a)).length === 1);
    await redis.start();
    await eventually('a is connected again', () => a.sharing().isUp, 10_000);
    await eventually('a lists b1 again', async () => (await ids(a)).length === 2, 5000);
    assert.equal(await a.broadcast('together'), 2);
    await eventually('b1 hears it', () => remote.received.includes('together\n'));
    assert.ok(!remote.received.includes('alone\n'), 'nothing sent during the outage is replayed');
  });
});

describe('SessionEvents', () => {
  test('costs a flag check with no listener, and calls listeners of the type only', () => {
    const events = new SessionEvents();
    assert.equal(events.has('output'), false);
    const seen: string[] = [];
    const off = events.on('output', (event) => seen.push(event.text));
    events.on('input', () => seen.push('input'));
    assert.equal(events.has('output'), true);
    events.publish('output', { sessionId: 'a', text: 'one' });
    off();
    events.publish('output', { sessionId: 'a', text: 'two' });
    assert.equal(events.has('output'), false);
    assert.deepEqual(seen, ['one']);
  });

  test('a listener that throws is reported, and the next listener still runs', () => {
    const reported: unknown[] = [];
    const events = new SessionEvents((err) => reported.push(err));
    const seen: string[] = [];
    events.on('output', () => {
      throw new Error('broken consumer');
    });
    events.on('output', (event) => seen.push(event.text));
    assert.doesNotThrow(() => events.publish('output', { sessionId: 'a', text: 'x' }));
    assert.deepEqual(seen, ['x']);
    assert.equal((reported[0] as Error).message, 'broken consumer');
  });

  test('every type has listeners of its own: each is told of its type only', () => {
    const types = [
      'session-started',
      'session-ended',
      'session-detached',
      'session-resumed',
      'input',
      'output',
      'terminal',
      'user',
      'refused',
      'option',
    ] as const;
    const events = new SessionEvents();
    const seen: string[] = [];
    for (const type of types) {
      assert.equal(events.has(type), false);
      events.on(type, () => seen.push(type));
      assert.equal(events.has(type), true);
    }
    for (const type of types) events.publish(type, {} as never);
    assert.deepEqual(seen, types);
  });

  test('subscribe takes several types and one call undoes them all', () => {
    const events = new SessionEvents();
    const off = events.subscribe({ input: () => undefined, output: () => undefined });
    assert.ok(events.has('input') && events.has('output'));
    off();
    assert.ok(!events.has('input') && !events.has('output'));
  });
});
