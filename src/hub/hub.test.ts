// The hub contract: what every hub implementation must do, with members that record what they get.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { channelPair } from '../../test/support/ipc.js';
import { BusHub } from './bus-hub.js';
import type { SessionInfo } from './events.js';
import { SessionEvents } from './events.js';
import { InProcessHub } from './hub.js';
import type { HubMember, SessionHub } from './hub.js';
import { BusRelay, IpcBus } from './ipc-bus.js';

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

const started: SessionHub[] = [];
after(() => Promise.all(started.splice(0).map((hub) => hub.stop())));

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

  test('subscribe takes several types and one call undoes them all', () => {
    const events = new SessionEvents();
    const off = events.subscribe({ input: () => undefined, output: () => undefined });
    assert.ok(events.has('input') && events.has('output'));
    off();
    assert.ok(!events.has('input') && !events.has('output'));
  });
});
