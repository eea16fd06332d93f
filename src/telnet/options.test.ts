// Tests of Q method option negotiation (RFC 1143): answers, queueing, refusals, loop freedom.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DO, DONT, OPT_ECHO, OPT_NAWS, OPT_SGA, OPT_TTYPE, WILL, WONT } from './constants.js';
import { negotiate } from './encoder.js';
import { OptionNegotiator } from './options.js';
import type { NegotiationResult, OptionPolicy, Side } from './options.js';

const UNKNOWN_OPTION = 99;

function policy(local: number[], remote: number[]): OptionPolicy {
  return {
    acceptLocal: (option) => local.includes(option),
    acceptRemote: (option) => remote.includes(option),
  };
}

const acceptAll: OptionPolicy = { acceptLocal: () => true, acceptRemote: () => true };
const refuseAll: OptionPolicy = { acceptLocal: () => false, acceptRemote: () => false };

const serverPolicy = policy([OPT_ECHO, OPT_SGA], [OPT_NAWS, OPT_TTYPE]);
const server = (): OptionNegotiator => new OptionNegotiator(serverPolicy);

test('DO for an accepted option is answered WILL once; a repeated DO gets no reply', () => {
  const q = server();
  const first = q.receive(DO, OPT_ECHO);
  assert.deepEqual(first.reply, [negotiate(WILL, OPT_ECHO)]);
  assert.deepEqual(first.changes, [{ side: 'local', option: OPT_ECHO, enabled: true }]);
  assert.equal(q.isEnabled('local', OPT_ECHO), true);
  assert.deepEqual(q.receive(DO, OPT_ECHO), { reply: [], changes: [] });
});

test('openAs copies an opening: each copy answers as the original would, and apart from the others', () => {
  const opened = server();
  opened.enable('local', OPT_SGA);
  opened.enable('remote', OPT_TTYPE);
  const first = server();
  const second = server();
  first.openAs(opened);
  second.openAs(opened);
  assert.equal(first.isPending('local', OPT_SGA), true);
  assert.deepEqual(first.receive(DO, OPT_SGA), {
    reply: [],
    changes: [{ side: 'local', option: OPT_SGA, enabled: true }],
  });
  assert.deepEqual(first.receive(WONT, OPT_TTYPE), {
    reply: [],
    changes: [],
    refused: { side: 'remote', option: OPT_TTYPE },
  });
  assert.equal(second.isPending('local', OPT_SGA), true);
  assert.equal(second.isPending('remote', OPT_TTYPE), true);
  assert.equal(opened.isPending('local', OPT_SGA), true);
  assert.throws(() => first.openAs(opened));
});

test('WILL for an accepted option is answered DO once', () => {
  const q = server();
  assert.deepEqual(q.receive(WILL, OPT_NAWS).reply, [negotiate(DO, OPT_NAWS)]);
  assert.deepEqual(q.receive(WILL, OPT_NAWS).reply, []);
  assert.equal(q.isEnabled('remote', OPT_NAWS), true);
});

test('DO for an unaccepted option is answered WONT, WILL for an unknown one DONT', () => {
  const q = server();
  assert.deepEqual(q.receive(DO, OPT_NAWS), { reply: [negotiate(WONT, OPT_NAWS)], changes: [] });
  assert.deepEqual(q.receive(WILL, UNKNOWN_OPTION), { reply: [negotiate(DONT, UNKNOWN_OPTION)], changes: [] });
  assert.equal(q.isEnabled('local', OPT_NAWS), false);
  assert.equal(q.isEnabled('remote', UNKNOWN_OPTION), false);
});

test('DONT or WONT for an option that is off gets no reply', () => {
  const q = server();
  assert.deepEqual(q.receive(DONT, OPT_ECHO), { reply: [], changes: [] });
  assert.deepEqual(q.receive(WONT, OPT_NAWS), { reply: [], changes: [] });
});

test('the peer switching an enabled option off is acknowledged once', () => {
  const q = server();
  q.receive(DO, OPT_ECHO);
  const off = q.receive(DONT, OPT_ECHO);
  assert.deepEqual(off.reply, [negotiate(WONT, OPT_ECHO)]);
  assert.deepEqual(off.changes, [{ side: 'local', option: OPT_ECHO, enabled: false }]);
  assert.deepEqual(q.receive(DONT, OPT_ECHO).reply, []);
});

test('enable sends DO or WILL once; repeated enable while pending sends nothing', () => {
  const q = server();
  assert.deepEqual(q.enable('remote', OPT_NAWS).reply, [negotiate(DO, OPT_NAWS)]);
  assert.deepEqual(q.enable('remote', OPT_NAWS).reply, []);
  assert.equal(q.isPending('remote', OPT_NAWS), true);
  assert.equal(q.isEnabled('remote', OPT_NAWS), false);
  assert.deepEqual(q.enable('local', OPT_ECHO).reply, [negotiate(WILL, OPT_ECHO)]);
  assert.deepEqual(q.enable('local', OPT_ECHO).reply, []);
});

test('the peer agreeing to our request is not answered', () => {
  const q = server();
  q.enable('remote', OPT_NAWS);
  const ack = q.receive(WILL, OPT_NAWS);
  assert.deepEqual(ack, { reply: [], changes: [{ side: 'remote', option: OPT_NAWS, enabled: true }] });
  assert.equal(q.isPending('remote', OPT_NAWS), false);
  assert.deepEqual(q.enable('remote', OPT_NAWS).reply, []);
});

test('enable applies to options the policy would refuse from the peer', () => {
  const q = new OptionNegotiator(refuseAll);
  assert.deepEqual(q.enable('local', OPT_ECHO).reply, [negotiate(WILL, OPT_ECHO)]);
  assert.deepEqual(q.receive(DO, OPT_ECHO).changes, [{ side: 'local', option: OPT_ECHO, enabled: true }]);
});

test('a refusal of our request sets refused and gets no reply', () => {
  const q = server();
  q.enable('remote', OPT_TTYPE);
  const answer = q.receive(WONT, OPT_TTYPE);
  assert.deepEqual(answer, { reply: [], changes: [], refused: { side: 'remote', option: OPT_TTYPE } });
  assert.equal(q.isPending('remote', OPT_TTYPE), false);
  q.enable('local', OPT_ECHO);
  assert.deepEqual(q.receive(DONT, OPT_ECHO).refused, { side: 'local', option: OPT_ECHO });
});

test('disable sends DONT or WONT once and counts as off at once', () => {
  const q = server();
  q.receive(WILL, OPT_NAWS);
  const off = q.disable('remote', OPT_NAWS);
  assert.deepEqual(off.reply, [negotiate(DONT, OPT_NAWS)]);
  assert.deepEqual(off.changes, [{ side: 'remote', option: OPT_NAWS, enabled: false }]);
  assert.deepEqual(q.disable('remote', OPT_NAWS).reply, []);
  assert.deepEqual(q.receive(WONT, OPT_NAWS), { reply: [], changes: [] });
  assert.equal(q.isPending('remote', OPT_NAWS), false);
  assert.deepEqual(q.disable('remote', OPT_NAWS).reply, []);
});

test('disable while WANTYES queues the opposite and sends DONT after the WILL', () => {
  const q = server();
  q.enable('remote', OPT_NAWS);
  assert.deepEqual(q.disable('remote', OPT_NAWS).reply, []);
  const ack = q.receive(WILL, OPT_NAWS);
  assert.deepEqual(ack, { reply: [negotiate(DONT, OPT_NAWS)], changes: [] });
  assert.equal(q.isPending('remote', OPT_NAWS), true);
  assert.deepEqual(q.receive(WONT, OPT_NAWS), { reply: [], changes: [] });
  assert.equal(q.isEnabled('remote', OPT_NAWS), false);
  assert.equal(q.isPending('remote', OPT_NAWS), false);
});

test('disable then enable while WANTYES cancels the queued disable', () => {
  const q = server();
  q.enable('local', OPT_ECHO);
  q.disable('local', OPT_ECHO);
  assert.deepEqual(q.enable('local', OPT_ECHO).reply, []);
  const echoOn = { side: 'local', option: OPT_ECHO, enabled: true };
  assert.deepEqual(q.receive(DO, OPT_ECHO), { reply: [], changes: [echoOn] });
});

test('a refusal while WANTYES with a queued disable is not reported as refused', () => {
  const q = server();
  q.enable('remote', OPT_NAWS);
  q.disable('remote', OPT_NAWS);
  assert.deepEqual(q.receive(WONT, OPT_NAWS), { reply: [], changes: [] });
  assert.equal(q.isPending('remote', OPT_NAWS), false);
});

test('enable while WANTNO waits for the answer, then asks again', () => {
  const q = server();
  q.receive(DO, OPT_ECHO);
  q.disable('local', OPT_ECHO);
  assert.deepEqual(q.enable('local', OPT_ECHO).reply, []);
  assert.deepEqual(q.receive(DONT, OPT_ECHO), { reply: [negotiate(WILL, OPT_ECHO)], changes: [] });
  assert.deepEqual(q.receive(DO, OPT_ECHO).changes, [{ side: 'local', option: OPT_ECHO, enabled: true }]);
});

test('WILL in answer to our DONT is an error that gets no reply', () => {
  const q = server();
  q.receive(WILL, OPT_NAWS);
  q.disable('remote', OPT_NAWS);
  assert.deepEqual(q.receive(WILL, OPT_NAWS), { reply: [], changes: [] });
  assert.equal(q.isEnabled('remote', OPT_NAWS), false);
  assert.equal(q.isPending('remote', OPT_NAWS), false);
});

test('once the peer used up its enables for an option, further requests are refused', () => {
  const q = new OptionNegotiator(acceptAll, { maxPeerEnables: 2 });
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(q.receive(WILL, OPT_NAWS).reply, [negotiate(DO, OPT_NAWS)]);
    assert.deepEqual(q.receive(WONT, OPT_NAWS).reply, [negotiate(DONT, OPT_NAWS)]);
  }
  assert.deepEqual(q.receive(WILL, OPT_NAWS), { reply: [negotiate(DONT, OPT_NAWS)], changes: [] });
  assert.deepEqual(q.receive(DO, OPT_NAWS).reply, [negotiate(WILL, OPT_NAWS)]);
  assert.deepEqual(q.enable('remote', OPT_NAWS).reply, [negotiate(DO, OPT_NAWS)]);
});

test('the default allows a peer 32 enables per option', () => {
  const q = new OptionNegotiator(acceptAll);
  let granted = 0;
  for (let round = 0; round < 100; round++) {
    if (q.receive(DO, OPT_ECHO).changes.length > 0) granted++;
    q.receive(DONT, OPT_ECHO);
  }
  assert.equal(granted, 32);
});

test('the highest limit, 255 enables, is counted for each option and side apart', () => {
  const q = new OptionNegotiator(acceptAll, { maxPeerEnables: 1000 });
  let granted = 0;
  for (let round = 0; round < 300; round++) {
    if (q.receive(DO, OPT_ECHO).changes.length > 0) granted++;
    q.receive(DONT, OPT_ECHO);
  }
  assert.equal(granted, 255);
  assert.deepEqual(q.receive(WILL, OPT_ECHO).reply, [negotiate(DO, OPT_ECHO)]);
  assert.deepEqual(q.receive(DO, OPT_SGA).reply, [negotiate(WILL, OPT_SGA)]);
  assert.equal(q.isEnabled('local', OPT_ECHO), false);
});

test('enabledAmong marks the options on for one side, the lowest and highest options included', () => {
  const q = new OptionNegotiator(acceptAll);
  q.receive(DO, 0);
  q.receive(DO, 255);
  q.receive(WILL, 255);
  q.enable('remote', OPT_NAWS);
  q.receive(DO, OPT_ECHO);
  q.receive(DONT, OPT_ECHO);
  const among = [OPT_ECHO, 255, OPT_NAWS, 0];
  assert.equal(q.enabledAmong('local', among), 0b1010);
  assert.equal(q.enabledAmong('remote', among), 0b0010);
  assert.equal(q.enabledAmong('remote', []), 0);
});

test('verbs other than DO, DONT, WILL, WONT and out-of-range options are ignored', () => {
  const q = new OptionNegotiator(acceptAll);
  assert.deepEqual(q.receive(0, OPT_ECHO), { reply: [], changes: [] });
  assert.deepEqual(q.receive(DO, 256), { reply: [], changes: [] });
  assert.equal(q.isEnabled('local', -1), false);
  assert.throws(() => q.enable('local', 256), RangeError);
});

// Back-to-back wiring: two negotiators, one FIFO per direction as on a TCP stream.

type Call = { kind: 'call'; who: 0 | 1; enable: boolean; side: Side; option: number };
type Action = Call | { kind: 'deliver'; to: 0 | 1 };

const OPTIONS = [OPT_ECHO, OPT_SGA, OPT_NAWS];

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant('call' as const),
    who: fc.constantFrom(0 as const, 1 as const),
    enable: fc.boolean(),
    side: fc.constantFrom<Side>('local', 'remote'),
    option: fc.constantFrom(...OPTIONS),
  }),
  fc.record({ kind: fc.constant('deliver' as const), to: fc.constantFrom(0 as const, 1 as const) }),
);

const policyArb: fc.Arbitrary<OptionPolicy> = fc
  .record({ local: fc.subarray(OPTIONS), remote: fc.subarray(OPTIONS) })
  .map(({ local, remote }) => policy(local, remote));

function call(negotiator: OptionNegotiator, action: Call): NegotiationResult {
  return action.enable ? negotiator.enable(action.side, action.option) : negotiator.disable(action.side, action.option);
}

/** A peer's view of what each change report said, to check reports against isEnabled. */
class Reported {
  readonly on = new Set<string>();
  apply(result: NegotiationResult): void {
    for (const change of result.changes) {
      const key = `${change.side}:${change.option}`;
      assert.notEqual(this.on.has(key), change.enabled, `change ${key} repeats the current state`);
      if (change.enabled) this.on.add(key);
      else this.on.delete(key);
    }
  }
}

type Outcome = { sent: number; peers: OptionNegotiator[] };

function runPair(policies: [OptionPolicy, OptionPolicy], actions: Action[]): Outcome {
  const peers = [new OptionNegotiator(policies[0]), new OptionNegotiator(policies[1])];
  const reported = [new Reported(), new Reported()];
  const inbox: Buffer[][] = [[], []];
  let sent = 0;
  const handle = (who: 0 | 1, result: NegotiationResult): void => {
    reported[who]!.apply(result);
    sent += result.reply.length;
    inbox[1 - who]!.push(...result.reply);
  };
  const deliver = (to: 0 | 1): void => {
    const frame = inbox[to]!.shift();
    if (frame !== undefined) handle(to, peers[to]!.receive(frame[1]!, frame[2]!));
  };
  for (const action of actions) {
    if (action.kind === 'deliver') deliver(action.to);
    else {
      handle(action.who, call(peers[action.who]!, action));
    }
  }
  const limit = 4 * actions.length + 8;
  while (inbox[0]!.length > 0 || inbox[1]!.length > 0) {
    deliver(0);
    deliver(1);
    assert.ok(sent <= limit, `negotiation loop: ${sent} messages for ${actions.length} actions`);
  }
  for (const who of [0, 1] as const) {
    for (const option of OPTIONS) {
      for (const side of ['local', 'remote'] as const) {
        assert.equal(peers[who]!.isPending(side, option), false);
        assert.equal(reported[who]!.on.has(`${side}:${option}`), peers[who]!.isEnabled(side, option));
      }
    }
    for (const side of ['local', 'remote'] as const) {
      const enabled = OPTIONS.map((option, i) => (peers[who]!.isEnabled(side, option) ? 1 << i : 0));
      assert.equal(
        peers[who]!.enabledAmong(side, OPTIONS),
        enabled.reduce((all, bit) => all | bit, 0),
      );
    }
  }
  return { sent, peers };
}

test('property: two negotiators back to back always settle and agree', () => {
  fc.assert(
    fc.property(fc.tuple(policyArb, policyArb), fc.array(actionArb, { maxLength: 60 }), (policies, actions) => {
      const { peers } = runPair(policies, actions);
      for (const option of OPTIONS) {
        assert.equal(peers[0]!.isEnabled('local', option), peers[1]!.isEnabled('remote', option));
        assert.equal(peers[0]!.isEnabled('remote', option), peers[1]!.isEnabled('local', option));
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: against peers that agree to or refuse everything, negotiation settles', () => {
  fc.assert(
    fc.property(fc.constantFrom(acceptAll, refuseAll), fc.array(actionArb, { maxLength: 60 }), (other, actions) => {
      const { peers } = runPair([serverPolicy, other], actions);
      for (const option of OPTIONS) {
        assert.equal(peers[0]!.isEnabled('local', option), peers[1]!.isEnabled('remote', option));
        assert.equal(peers[0]!.isEnabled('remote', option), peers[1]!.isEnabled('local', option));
      }
    }),
    { numRuns: 1000 },
  );
});

/** A naive stateless peer answering every frame, acknowledgements included. */
function naivePeer(agree: boolean): (verb: number, option: number) => Buffer {
  return (verb, option) => {
    if (verb === DO) return negotiate(agree ? WILL : WONT, option);
    if (verb === WILL) return negotiate(agree ? DO : DONT, option);
    return negotiate(verb === DONT ? WONT : DONT, option);
  };
}

test('property: a stateless peer that answers and toggles everything cannot make us loop', () => {
  const maxPeerEnables = 8;
  // Each enable we grant costs at most our answer to it and to the peer switching it off.
  const grantCost = 2 * maxPeerEnables * OPTIONS.length * 2;
  fc.assert(
    fc.property(fc.boolean(), fc.array(actionArb, { maxLength: 60 }), (agree, actions) => {
      const q = new OptionNegotiator(serverPolicy, { maxPeerEnables });
      const peer = naivePeer(agree);
      const toUs: Buffer[] = [];
      const toPeer: Buffer[] = [];
      let sent = 0;
      const send = (result: NegotiationResult): void => {
        sent += result.reply.length;
        toPeer.push(...result.reply);
      };
      for (const action of actions) {
        if (action.kind === 'call' && action.who === 1) {
          // The naive peer also starts, repeats and withdraws requests of its own.
          const verb = action.side === 'local' ? (action.enable ? WILL : WONT) : action.enable ? DO : DONT;
          toUs.push(negotiate(verb, action.option));
        } else if (action.kind === 'call') {
          send(call(q, action));
        } else if (action.to === 0) {
          const frame = toUs.shift();
          if (frame !== undefined) send(q.receive(frame[1]!, frame[2]!));
        } else {
          const frame = toPeer.shift();
          if (frame !== undefined) toUs.push(peer(frame[1]!, frame[2]!));
        }
      }
      while (toUs.length > 0 || toPeer.length > 0) {
        for (const frame of toPeer.splice(0)) toUs.push(peer(frame[1]!, frame[2]!));
        for (const frame of toUs.splice(0)) send(q.receive(frame[1]!, frame[2]!));
        assert.ok(sent <= 4 * actions.length + 8 + grantCost, `negotiation loop: ${sent} messages`);
      }
      for (const option of OPTIONS) {
        assert.equal(q.isPending('local', option), false);
        assert.equal(q.isPending('remote', option), false);
      }
    }),
    { numRuns: 2000 },
  );
});
