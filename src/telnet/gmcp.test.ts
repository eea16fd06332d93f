// Tests of the GMCP codec and Core package tracking (telnet option 201).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { IAC, OPT_GMCP, SB, SE } from './constants.js';
import { TelnetDecoder } from './decoder.js';
import { GmcpCore, encodeGmcp, gmcpText, parseGmcp } from './gmcp.js';

const message = (text: string) => parseGmcp(Buffer.from(text, 'utf8'))!;

test('encodeGmcp frames "Package.Message <JSON>" in IAC SB GMCP … IAC SE', () => {
  assert.deepEqual(
    [...encodeGmcp('Char.Vitals', { hp: 10 })],
    [IAC, SB, OPT_GMCP, ...Buffer.from('Char.Vitals {"hp":10}'), IAC, SE],
  );
  assert.deepEqual([...encodeGmcp('Core.Ping')], [IAC, SB, OPT_GMCP, ...Buffer.from('Core.Ping'), IAC, SE]);
});

test('a message name with a space, or data that is not JSON, is a TypeError for the sender', () => {
  assert.throws(() => encodeGmcp('Char Vitals', {}), TypeError);
  assert.throws(() => encodeGmcp('', {}), TypeError);
  assert.throws(() => encodeGmcp('Char.Vitals', () => 1), TypeError);
});

test('parseGmcp reads the name and JSON body, and no body as undefined', () => {
  assert.deepEqual(message('Char.Vitals {"hp": 10}'), {
    message: 'Char.Vitals',
    data: { hp: 10 },
    text: '{"hp": 10}',
    isJson: true,
  });
  assert.deepEqual(message('Core.Ping'), { message: 'Core.Ping', data: undefined, text: '', isJson: true });
  assert.deepEqual(message('Core.Hello\n{"client":"x"}').data, { client: 'x' });
});

test('a malformed JSON body reaches the handler as its raw text, never as an exception', () => {
  assert.deepEqual(message('Char.Login {name: bob'), {
    message: 'Char.Login',
    data: '{name: bob',
    text: '{name: bob',
    isJson: false,
  });
  assert.equal(parseGmcp(new Uint8Array(0)), undefined);
  assert.equal(parseGmcp(Buffer.from(' {"a":1}')), undefined);
});

test('gmcpText and parseGmcp round-trip any JSON value', () => {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,8}(\.[A-Za-z][A-Za-z0-9_]{0,8}){0,3}$/);
  fc.assert(
    fc.property(name, fc.jsonValue(), (name, data) => {
      const parsed = parseGmcp(Buffer.from(gmcpText(name, data), 'utf8'))!;
      assert.equal(parsed.message, name);
      assert.ok(parsed.isJson);
      // JSON has no -0: it comes back as 0, as any client would read it.
      assert.deepEqual(parsed.data, JSON.parse(JSON.stringify(data)));
    }),
  );
});

test('parseGmcp never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const parsed = parseGmcp(bytes);
      if (parsed !== undefined) assert.ok(parsed.message.length > 0 && !/\s/.test(parsed.message));
    }),
  );
});

test('a GMCP frame cut anywhere decodes like the whole, IAC in the body included', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.array(fc.nat(), { maxLength: 6 }), (data, cuts) => {
      const whole = encodeGmcp('Room.Info', { data, raw: '\u00ff' });
      const positions = [...new Set(cuts.map((cut) => cut % (whole.length + 1)))].sort((a, b) => a - b);
      const decoder = new TelnetDecoder({ maxSubnegotiation: 1 << 20 });
      const events = [];
      let from = 0;
      for (const at of [...positions, whole.length]) {
        events.push(...decoder.push(whole.subarray(from, at)));
        from = at;
      }
      assert.equal(events.length, 1);
      const event = events[0]!;
      assert.equal(event.type, 'subnegotiation');
      if (event.type !== 'subnegotiation') return;
      assert.deepEqual(parseGmcp(event.payload)!.data, JSON.parse(JSON.stringify({ data, raw: '\u00ff' })));
    }),
  );
});

test('a GMCP message past the subnegotiation cap is dropped, and the stream goes on', () => {
  const decoder = new TelnetDecoder({ maxSubnegotiation: 64 });
  const events = decoder.push(
    Buffer.concat([encodeGmcp('Big', 'x'.repeat(100)), Buffer.from('after'), encodeGmcp('Small', 1)]),
  );
  assert.deepEqual(
    events.map((event) => event.type),
    ['overflow', 'data', 'subnegotiation'],
  );
});

test('Core.Supports.Set, Add and Remove track packages, a package covering its sub-packages, ignoring case', () => {
  const core = new GmcpCore();
  assert.equal(core.supports('Char'), false);
  core.apply(message('Core.Supports.Set ["Char 1", "Room 1"]'));
  assert.ok(core.supports('Char'));
  assert.ok(core.supports('char.vitals'));
  assert.ok(!core.supports('Comm'));
  core.apply(message('Core.Supports.Add ["Comm.Channel 1"]'));
  assert.ok(core.supports('Comm.Channel.Text'));
  assert.ok(!core.supports('Comm'));
  core.apply(message('Core.Supports.Remove ["Char"]'));
  assert.ok(!core.supports('Char.Vitals'));
  core.apply(message('Core.Supports.Set ["IRE.Rift 1"]'));
  assert.ok(!core.supports('Room'));
  assert.deepEqual(core.packages, ['ire.rift 1']);
});

test('Core.Hello records the client name and version; bad Core bodies change nothing and never throw', () => {
  const core = new GmcpCore();
  core.apply(message('Core.Hello {"client": "Mudlet", "version": "4.17.2"}'));
  assert.deepEqual(core.client, { client: 'Mudlet', version: '4.17.2' });
  core.apply(message('Core.Supports.Set {"not": "a list"}'));
  core.apply(message('Core.Supports.Add [1, null, "Char"]'));
  assert.deepEqual(core.packages, ['char 1']);
  core.apply(message('Core.Hello not json'));
  assert.deepEqual(core.client, { client: undefined, version: undefined });
});

test('a client cannot make Core.Supports keep more than 256 packages', () => {
  const core = new GmcpCore();
  const many = Array.from({ length: 1000 }, (_, i) => `P${i} 1`);
  core.apply(message(`Core.Supports.Set ${JSON.stringify(many)}`));
  assert.equal(core.packages.length, 256);
});
