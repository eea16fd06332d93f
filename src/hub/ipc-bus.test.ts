// The cluster IPC bus: workers' buses joined through the primary's relay, over in-memory channels that behave like IPC.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { BusState } from './bus.js';
import { BusHub } from './bus-hub.js';
import type { SessionInfo } from './events.js';
import { BusRelay, IpcBus } from './ipc-bus.js';
import { channelPair } from '../../test/support/ipc.js';
import { until } from '../../test/support/received-text.js';

/** A worker's bus joined to `relay`, recording what it receives. */
async function joined(relay: BusRelay, instance: string) {
  const pair = channelPair();
  relay.attach(pair.primary);
  const bus = new IpcBus(pair.worker);
  const received: string[] = [];
  const states: BusState[] = [];
  await bus.start(instance, { message: (payload) => received.push(payload), state: (state) => states.push(state) });
  return { bus, received, states, disconnect: pair.disconnect };
}

const settled = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

describe('IpcBus through a BusRelay', () => {
  test('a payload to all reaches every other worker, never its sender', async () => {
    const relay = new BusRelay();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => joined(relay, name)));
    await settled();
    assert.equal(a!.bus.send('hello'), true);
    await settled();
    assert.deepEqual([a!.received, b!.received, c!.received], [[], ['hello'], ['hello']]);
  });

  test('a payload to one worker reaches it alone; to an unknown one it is dropped', async () => {
    const relay = new BusRelay();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => joined(relay, name)));
    await settled();
    assert.equal(a!.bus.send('for c', 'c'), true);
    assert.equal(a!.bus.send('for nobody', 'z'), true);
    await settled();
    assert.deepEqual([a!.received, b!.received, c!.received], [[], [], ['for c']]);
  });

  test("one sender's payloads arrive in the order sent, to all and to one mixed", async () => {
    const relay = new BusRelay();
    const [a, b] = await Promise.all(['a', 'b'].map((name) => joined(relay, name)));
    const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
    sent.forEach((payload, i) => a!.bus.send(payload, i % 2 === 0 ? undefined : 'b'));
    await settled();
    assert.deepEqual(b!.received, sent);
  });

  test('is up once started; down when the primary goes; a stopped bus sends and hears nothing', async () => {
    const relay = new BusRelay();
    const [a, b] = await Promise.all(['a', 'b'].map((name) => joined(relay, name)));
    assert.deepEqual(a!.states, ['up']);
    assert.equal(a!.bus.isUp, true);
    await b!.bus.stop();
    await b!.bus.stop();
    assert.equal(b!.bus.send('x'), false);
    a!.bus.send('after b left');
    await settled();
    assert.deepEqual(b!.received, []);
    a!.disconnect();
    assert.deepEqual(a!.states, ['up', 'down']);
    assert.equal(a!.bus.send('x'), false);
  });

  test('a worker that exits is forgotten: payloads to it are dropped, the others still get theirs', async () => {
    const relay = new BusRelay();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => joined(relay, name)));
    await settled();
    b!.disconnect();
    assert.equal(a!.bus.send('still here'), true);
    a!.bus.send('to b', 'b');
    await settled();
    assert.deepEqual([b!.received, c!.received], [[], ['still here']]);
  });
});

describe('BusHub over the IPC bus', () => {
  /** A session as the hub sees it, recording what reaches it. */
  function member(id: string, instance: string) {
    const received: string[] = [];
    const info: SessionInfo = {
      id,
      instance,
      server: 'telnet',
      transport: 'telnet',
      remoteAddress: '10.0.0.9',
      remotePort: 1,
      secure: false,
      startedAt: 0,
      lastInputAt: 0,
      user: id,
      terminal: { type: undefined, cols: undefined, rows: undefined },
      bytesIn: 0,
      bytesOut: 0,
    };
    return {
      id,
      remoteAddress: info.remoteAddress,
      received,
      kicked: false,
      info: () => info,
      notify(text: string) {
        received.push(text);
        return Promise.resolve();
      },
      kick() {
        this.kicked = true;
        return Promise.resolve();
      },
    };
  }

  test('two workers are one application: listing, broadcast, send, kick and per-address counts', async () => {
    const relay = new BusRelay();
    const hubs = ['w1', 'w2'].map((instance) => {
      const pair = channelPair();
      relay.attach(pair.primary);
      return new BusHub({ bus: new IpcBus(pair.worker), via: 'ipc', instance, heartbeatMs: 50 });
    });
    const [one, two] = hubs as [BusHub, BusHub];
    try {
      await Promise.all(hubs.map((hub) => hub.start()));
      const alice = member('alice', 'w1');
      const bob = member('bob', 'w2');
      for (const [hub, session] of [
        [one, alice],
        [two, bob],
      ] as const) {
        hub.add(session);
        hub.events.publish('session-started', { session: session.info() });
      }
      await until(
        () => one.connectionsFrom('10.0.0.9') === 2 && two.connectionsFrom('10.0.0.9') === 2,
        "each worker counting the other's session",
      );
      assert.deepEqual((await one.list()).map((info) => info.id).sort(), ['alice', 'bob']);
      assert.equal((await one.get('bob'))?.instance, 'w2');
      assert.equal(await two.broadcast('hello everyone'), 2);
      assert.equal(await one.send('bob', 'just bob'), true);
      assert.equal(await two.kick('alice'), true);
      await until(() => alice.kicked && alice.received.length === 1 && bob.received.length === 2, 'the messages');
      assert.deepEqual(alice.received, ['hello everyone\n']);
      assert.deepEqual(bob.received, ['hello everyone\n', 'just bob\n']);
    } finally {
      await Promise.all(hubs.map((hub) => hub.stop()));
    }
  });
});
