// The telnet layer's MUD options on their own: what is offered, what reaches the handler's events,
// the plain-text MSSP probe, and arbitrary input with everything on.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';
import { pino } from 'pino';

import { ByteConnection } from '../../test/support/byte-connection.js';
import {
  DO,
  DONT,
  IAC,
  OPT_GMCP,
  OPT_MCCP2,
  OPT_MCCP3,
  OPT_MSDP,
  OPT_MSSP,
  SB,
  WILL,
  WONT,
} from '../telnet/constants.js';
import { TelnetDecoder } from '../telnet/decoder.js';
import { negotiate, subnegotiation } from '../telnet/encoder.js';
import type { GmcpMessage } from '../telnet/gmcp.js';
import { MSDP_VAL, MSDP_VAR, optionName } from '../telnet/constants.js';
import type { MsdpVariables } from '../telnet/msdp.js';
import type { LayerEvents } from './layer.js';
import { TelnetLayer } from './telnet-layer.js';
import type { MudOptions } from './telnet-layer.js';

const ALL_ON: MudOptions = {
  gmcp: true,
  msdp: true,
  mccp2: true,
  mccp3: true,
  mssp: async () => ({ NAME: 'Test MUD', PLAYERS: 1 }),
};

interface Heard {
  options: string[];
  gmcp: GmcpMessage[];
  msdp: MsdpVariables[];
  commands: string[];
}

function layer(mud: MudOptions | undefined): { inner: ByteConnection; telnet: TelnetLayer; heard: Heard } {
  const inner = new ByteConnection();
  const heard: Heard = { options: [], gmcp: [], msdp: [], commands: [] };
  const events: LayerEvents = {
    changed: () => undefined,
    option: (code, side, outcome) =>
      heard.options.push(`${optionName(code)} ${side} ${outcome === 'enabled' ? 'on' : 'off'}`),
    gmcp: (message) => heard.gmcp.push(message),
    msdp: (variables) => heard.msdp.push(variables),
    msdpCommand: (command, names) => heard.commands.push(`${command} ${names.join(',')}`),
  };
  const telnet = new TelnetLayer(inner, {
    preferredMode: 'line',
    keepaliveInterval: 0,
    events,
    logger: pino({ level: 'silent' }),
    ...(mud === undefined ? {} : { mud }),
  });
  return { inner, telnet, heard };
}

/** The WILLs a layer sent, by option. */
function offered(inner: ByteConnection): number[] {
  const options: number[] = [];
  for (const event of new TelnetDecoder().push(Buffer.concat(inner.written))) {
    if (event.type === 'negotiate' && event.verb === WILL) options.push(event.option);
  }
  return options;
}

test('each listed MUD option is offered with WILL at start, and none without the config', () => {
  const all = layer(ALL_ON);
  all.telnet.start();
  for (const option of [OPT_GMCP, OPT_MSDP, OPT_MSSP, OPT_MCCP2, OPT_MCCP3])
    assert.ok(offered(all.inner).includes(option));
  all.telnet.dispose();
  const none = layer(undefined);
  none.telnet.start();
  for (const option of [OPT_GMCP, OPT_MSDP, OPT_MSSP, OPT_MCCP2, OPT_MCCP3])
    assert.ok(!offered(none.inner).includes(option));
  none.telnet.dispose();
  const some = layer({ ...ALL_ON, msdp: false, mccp3: false, mssp: undefined });
  some.telnet.start();
  assert.deepEqual(
    offered(some.inner).filter((option) => [OPT_GMCP, OPT_MSDP, OPT_MSSP, OPT_MCCP2, OPT_MCCP3].includes(option)),
    [OPT_GMCP, OPT_MCCP2],
  );
  some.telnet.dispose();
});

test('GMCP and MSDP from a client that has not agreed are ignored; after DO they reach the events', () => {
  const { telnet, heard } = layer(ALL_ON);
  telnet.start();
  const gmcp = subnegotiation(OPT_GMCP, Buffer.from('Char.Login {"name":"bob"}'));
  const msdp = subnegotiation(OPT_MSDP, [MSDP_VAR, ...Buffer.from('REPORT'), MSDP_VAL, ...Buffer.from('HEALTH')]);
  telnet.receive(Buffer.concat([gmcp, msdp]));
  assert.deepEqual([heard.gmcp, heard.commands], [[], []]);
  assert.equal(telnet.gmcp.send('X.Y', 1), false);
  telnet.receive(Buffer.concat([negotiate(DO, OPT_GMCP), negotiate(DO, OPT_MSDP), gmcp, msdp]));
  assert.deepEqual(heard.gmcp[0]?.data, { name: 'bob' });
  assert.deepEqual(heard.commands, ['REPORT HEALTH']);
  assert.deepEqual([...telnet.msdp.reported], ['HEALTH']);
  assert.equal(telnet.gmcp.send('X.Y', 1), true);
  assert.ok(telnet.terminal.options.includes('GMCP (server)') && telnet.terminal.options.includes('MSDP (server)'));
  // DONT takes it back: sending stops.
  telnet.receive(negotiate(DONT, OPT_GMCP));
  assert.equal(telnet.gmcp.send('X.Y', 1), false);
  // Each outcome goes to the event stream by the option's name.
  assert.deepEqual(
    heard.options.filter((entry) => /^(GMCP|MSDP) /.test(entry)),
    ['GMCP local on', 'MSDP local on', 'GMCP local off'],
  );
  telnet.dispose();
});

test('a refused option can be asked for again by the client later', () => {
  const { telnet, inner } = layer(ALL_ON);
  telnet.start();
  telnet.receive(negotiate(DONT, OPT_MSDP));
  inner.written = [];
  telnet.receive(negotiate(DO, OPT_MSDP));
  assert.ok(offered(inner).includes(OPT_MSDP), 'WILL MSDP in answer');
  assert.ok(telnet.msdp.isEnabled);
  telnet.dispose();
});

test('MSSP-REQUEST as the first line, whole or a byte at a time, is answered in plain text and closes', async () => {
  for (const chunks of [['MSSP-REQUEST\r\n'], [...'MSSP-REQUEST\n']]) {
    const { telnet, inner } = layer(ALL_ON);
    telnet.start();
    const tokens = chunks.flatMap((chunk) => telnet.receive(Buffer.from(chunk)));
    assert.deepEqual(
      tokens.filter((token) => token.type === 'key' && token.name === 'enter'),
      [],
    );
    await new Promise((resolve) => setImmediate(resolve));
    const text = Buffer.concat(inner.written).toString('latin1');
    assert.match(text, /MSSP-REPLY-START\r\nNAME\tTest MUD\r\nPLAYERS\t1\r\nMSSP-REPLY-END\r\n/);
    assert.ok(inner.isClosed);
    telnet.dispose();
  }
});

test('MSSP-REQUEST later than the first line is an ordinary line', () => {
  const { telnet, inner } = layer(ALL_ON);
  telnet.start();
  const tokens = [...telnet.receive(Buffer.from('look\r\n')), ...telnet.receive(Buffer.from('MSSP-REQUEST\r\n'))];
  assert.equal(tokens.filter((token) => token.type === 'key' && token.name === 'enter').length, 2);
  assert.equal(inner.isClosed, false);
  telnet.dispose();
});

test('with every MUD option on, arbitrary input never throws', () => {
  const significant = fc.constantFrom(
    IAC,
    SB,
    WILL,
    WONT,
    DO,
    DONT,
    OPT_GMCP,
    OPT_MSDP,
    OPT_MSSP,
    OPT_MCCP2,
    1,
    2,
    3,
    5,
  );
  const bytes = fc.array(fc.oneof(significant, fc.integer({ min: 0, max: 255 })), { maxLength: 200 });
  fc.assert(
    fc.property(fc.array(bytes, { maxLength: 5 }), (chunks) => {
      const { telnet } = layer({ ...ALL_ON, mccp3: false });
      telnet.start();
      for (const chunk of chunks) telnet.receive(Uint8Array.from(chunk));
      telnet.dispose();
    }),
  );
});
