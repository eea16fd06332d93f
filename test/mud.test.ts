// The MUD protocols end to end: scripted MUD clients against the mud sample on telnet and ws_telnet
// (GMCP, MSDP, MSSP, MCCP2, MCCP3), the plain-text MSSP request, and the handler API on its own.
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { WebSocket } from 'ws';

import { LineHandler } from '../src/index.js';
import { MSDP_VAL, MSDP_VAR, OPT_GMCP, OPT_MCCP2, OPT_MCCP3, OPT_MSDP, OPT_MSSP } from '../src/telnet/constants.js';
import { makeCertificate } from './support/certificate.js';
import { MudClient } from './support/mud-client.js';
import type { MudClientOptions, MudOption } from './support/mud-client.js';
import { startConfigFile, startServer } from './support/servers.js';
import { until } from './support/received-text.js';

const CONFIG = join(import.meta.dirname, '..', 'examples', 'mud', 'config.yaml');
const ALL: readonly MudOption[] = ['gmcp', 'msdp', 'mssp', 'mccp2', 'mccp3'];

const clients: MudClient[] = [];
after(() => {
  for (const client of clients) client.close();
});

async function connect(options: MudClientOptions): Promise<MudClient> {
  const client = await MudClient.connect(options);
  clients.push(client);
  return client;
}

/** MSDP VAR name VAL value … as a client writes it. */
function msdpPayload(pairs: [string, ...string[]][]): Uint8Array {
  const bytes: number[] = [];
  for (const [name, ...values] of pairs) {
    bytes.push(MSDP_VAR, ...Buffer.from(name));
    for (const value of values) bytes.push(MSDP_VAL, ...Buffer.from(value));
  }
  return Uint8Array.from(bytes);
}

let ports: Record<string, number>;
before(async () => {
  const launch = await startConfigFile(CONFIG);
  ports = Object.fromEntries(launch.servers.map((server) => [server.name, server.address!.port]));
});

for (const transport of ['telnet', 'ws_telnet'] as const) {
  describe(`the mud sample on ${transport}`, () => {
    test('a MUD client agreeing to everything: GMCP after Core.Supports.Set, compressed both ways, text intact', async () => {
      const client = await connect({ transport, port: ports[transport]!, accept: ALL, terminalType: 'MUDLET' });
      await client.waitForText('Exits: north\r\n> ');
      await client.waitUntil('MCCP2 to start', () => client.isInflating);
      client.sendGmcp('Core.Hello {"client": "Scripted", "version": "1"}');
      client.sendGmcp('Core.Supports.Set ["Char 1", "Room 1"]');
      const room = await client.waitForGmcp('Room.Info');
      assert.deepEqual(room.data, { num: 'gate', name: 'The Town Gate', exits: { north: 'cellar' } });
      assert.deepEqual((await client.waitForGmcp('Char.Vitals')).data, { hp: 20, maxhp: 20 });
      // Typed input goes compressed (MCCP3) and the answer comes compressed (MCCP2).
      client.sendLine('north');
      await client.waitForText('A Damp Cellar\r\n  Barrels line the walls.');
      client.sendLine('fight');
      await client.waitForText('You swing at the rat. It bites you back!\r\n');
      await client.waitUntil('vitals after the fight', () =>
        client.gmcp.some((found) => found.message === 'Char.Vitals' && (found.data as { hp: number }).hp === 17),
      );
      await client.waitForText('[HP 17/20]\r\n> ');
      client.sendLine('quit');
      await client.waitForText('Goodbye!');
      await client.waitUntil('the server to close', () => client.closed);
      assert.ok(!client.text.includes('\ufffd'), 'no stray or broken bytes among the text');
    });

    test('MSSP: DO MSSP gets the configured NAME and variables with live PLAYERS and UPTIME', async () => {
      const client = await connect({ transport, port: ports[transport]!, accept: ['mssp'] });
      await client.waitUntil('MSSP', () => client.mssp.length > 0);
      const mssp = client.mssp[0]!;
      assert.deepEqual(mssp['NAME'], ['Tiny MUD']);
      assert.ok(Number(mssp['PLAYERS']![0]) >= 1);
      const uptime = Number(mssp['UPTIME']![0]);
      assert.ok(uptime > Date.now() / 1000 - 3600 && uptime <= Date.now() / 1000, `UPTIME ${uptime}`);
      if (transport === 'telnet') assert.deepEqual(mssp['GENRE'], ['Fantasy']);
    });

    test('MSDP: LIST, REPORT, SEND and UNREPORT', async () => {
      const client = await connect({ transport, port: ports[transport]!, accept: ['msdp'] });
      await client.waitForText('> ');
      client.sendMsdp(msdpPayload([['LIST', 'COMMANDS']]));
      await client.waitUntil('the command list', () => client.msdp.some((found) => 'COMMANDS' in found));
      assert.deepEqual(client.msdp.find((found) => 'COMMANDS' in found)!['COMMANDS'], [
        'LIST',
        'REPORT',
        'RESET',
        'SEND',
        'UNREPORT',
      ]);
      client.sendMsdp(msdpPayload([['REPORT', 'HEALTH', 'ROOM_NAME']]));
      await client.waitUntil('HEALTH', () => client.msdp.some((found) => found['HEALTH'] === '20'));
      client.sendLine('north');
      await client.waitUntil('ROOM_NAME reported', () =>
        client.msdp.some((found) => found['ROOM_NAME'] === 'A Damp Cellar'),
      );
      client.sendLine('fight');
      await client.waitUntil('HEALTH reported', () => client.msdp.some((found) => found['HEALTH'] === '17'));
      client.sendMsdp(msdpPayload([['UNREPORT', 'HEALTH']]));
      client.sendMsdp(msdpPayload([['SEND', 'HEALTH_MAX']]));
      await client.waitUntil('HEALTH_MAX sent', () => client.msdp.some((found) => found['HEALTH_MAX'] === '20'));
      const before = client.msdp.length;
      client.sendLine('rest');
      await client.waitForText('You rest a while and feel better.\r\n');
      await client.waitForText('[HP 20/20]\r\n> ');
      assert.ok(
        client.msdp.slice(before).every((found) => !('HEALTH' in found)),
        'no HEALTH once it is unreported',
      );
    });

    test('a client that refuses every MUD option gets plain, uncompressed text', async () => {
      const client = await connect({ transport, port: ports[transport]!, accept: [] });
      await client.waitForText('Exits: north\r\n> ');
      for (const option of [OPT_GMCP, OPT_MSDP, OPT_MSSP, OPT_MCCP2]) assert.ok(client.offered.has(option));
      client.sendLine('look');
      await client.waitForText('[HP 20/20]\r\n> ');
      assert.equal(client.isInflating, false);
      assert.deepEqual([client.gmcp, client.msdp, client.mssp], [[], [], []]);
    });
  });
}

test('the gmcp.mudstandards.org subprotocol: text in binary frames, GMCP in text frames, no telnet', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${ports['ws_telnet']!}/ws_telnet`, ['gmcp.mudstandards.org']);
  const binary: string[] = [];
  const text: string[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? binary : text).push(data.toString('utf8')));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  try {
    assert.equal(ws.protocol, 'gmcp.mudstandards.org');
    await until(() => binary.join('').includes('Exits: north\r\n> '), 'the room', 3000);
    assert.ok(!binary.join('').includes('\xff'), 'no telnet negotiation');
    ws.send('Core.Supports.Set ["Room 1", "Char 1"]');
    ws.send('Not.Json {oops');
    await until(() => text.some((frame) => frame.startsWith('Room.Info ')), 'Room.Info', 3000);
    const room = text.find((frame) => frame.startsWith('Room.Info '))!;
    assert.deepEqual(JSON.parse(room.slice('Room.Info '.length)), {
      num: 'gate',
      name: 'The Town Gate',
      exits: { north: 'cellar' },
    });
    ws.send(Buffer.from('north'), { binary: true });
    await until(() => binary.join('').includes('A Damp Cellar\r\n'), 'the cellar', 3000);
    await until(() => text.filter((frame) => frame.startsWith('Char.Vitals ')).length >= 2, 'vitals', 3000);
  } finally {
    ws.terminate();
  }
});

test('a crawler typing MSSP-REQUEST gets the plain-text reply and is disconnected', async () => {
  const socket = net.connect(ports['telnet']!, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.write('MSSP-REQUEST\r\n');
  await closed;
  const reply = received.slice(received.indexOf('MSSP-REPLY-START'), received.indexOf('MSSP-REPLY-END'));
  assert.match(reply, /\r\nNAME\tTiny MUD\r\n/);
  assert.match(reply, /\r\nPLAYERS\t\d+\r\n/);
  assert.match(reply, /\r\nUPTIME\t\d+\r\n/);
  assert.ok(!received.includes('You cannot'), 'the request never reaches the game as a command');
});

test('a corrupt MCCP3 stream closes that session only', async () => {
  const bystander = await connect({ transport: 'telnet', port: ports['telnet']!, accept: ALL });
  const broken = await connect({ transport: 'telnet', port: ports['telnet']!, accept: ALL });
  await broken.waitForText('Exits: north\r\n> ');
  await bystander.waitForText('Exits: north\r\n> ');
  broken.sendRaw(Buffer.from('this is not a zlib stream at all, not even close'));
  await broken.waitUntil('the broken session to close', () => broken.closed);
  bystander.sendLine('north');
  await bystander.waitForText('A Damp Cellar');
  assert.equal(bystander.closed, false);
});

describe('the handler API', () => {
  /** Says what reached it, so that a client sees the handler's view. */
  class ProbeHandler extends LineHandler {
    override async onConnect(): Promise<void> {
      await this.sendLine(`gmcp before agreement: ${this.gmcp.send('Early.Message', {})}`);
      await this.showPrompt();
    }

    override async onGmcp(message: string, data: unknown, detail: { text: string; isJson: boolean }): Promise<void> {
      await this.sendLine(`gmcp ${message} ${JSON.stringify(data)} json=${detail.isJson}`);
      if (message === 'Core.Supports.Set') {
        await this.sendLine(
          `supports Char.Vitals=${this.gmcp.supports('Char.Vitals')} Comm=${this.gmcp.supports('Comm')}`,
        );
        await this.sendLine(`sent=${this.gmcp.send('Char.Vitals', { hp: 1 })} client=${this.gmcp.client.client}`);
      }
    }
  }

  test('malformed GMCP JSON arrives as raw text; send() is false until GMCP is agreed; Core is tracked', async () => {
    const { port } = await startServer('telnet', ProbeHandler, { telnet_options: ['gmcp'] });
    const client = await connect({ transport: 'telnet', port, accept: ['gmcp'] });
    await client.waitForText('gmcp before agreement: false\r\n');
    await client.waitUntil('GMCP agreed', () => client.offered.has(OPT_GMCP));
    client.sendGmcp('Char.Login {name: "bob"');
    await client.waitForText('gmcp Char.Login "{name: \\"bob\\"" json=false\r\n');
    client.sendGmcp('Core.Hello {"client":"Probe","version":"2"}');
    client.sendGmcp('Core.Supports.Set ["Char 1"]');
    await client.waitForText('supports Char.Vitals=true Comm=false\r\n');
    await client.waitForText('sent=true client=Probe\r\n');
    assert.deepEqual((await client.waitForGmcp('Char.Vitals')).data, { hp: 1 });
    assert.ok(!client.gmcp.some((found) => found.message === 'Early.Message'));
  });

  test('over TLS, MCCP is not offered unless mccp_over_tls says so', async () => {
    const { cert, key } = makeCertificate('mud');
    const tlsSettings = { use_ssl: true, ssl_cert: cert, ssl_key: key, telnet_options: ['gmcp', 'mccp2', 'mccp3'] };
    const secure = await startServer('telnet', ProbeHandler, tlsSettings);
    const client = await connect({ transport: 'telnet', port: secure.port, accept: ALL, isTls: true });
    await client.waitForText('> ');
    await client.waitUntil('GMCP offered', () => client.offered.has(OPT_GMCP));
    assert.ok(!client.offered.has(OPT_MCCP2) && !client.offered.has(OPT_MCCP3));

    const allowed = await startServer('telnet', ProbeHandler, { ...tlsSettings, mccp_over_tls: true });
    const compressed = await connect({ transport: 'telnet', port: allowed.port, accept: ALL, isTls: true });
    await compressed.waitUntil('MCCP2 over TLS', () => compressed.isInflating);
    compressed.sendLine('hello');
    await compressed.waitForText('> ');
    assert.ok(compressed.offered.has(OPT_MCCP3));
  });

  test('a telnet server without telnet_options offers none of the MUD protocols', async () => {
    const { port } = await startServer('telnet', ProbeHandler);
    const client = await connect({ transport: 'telnet', port, accept: ALL });
    await client.waitForText('> ');
    // Negotiation goes out at once: by the first prompt every offer has been made.
    await until(() => client.offered.size > 0, 'negotiation', 3000);
    for (const option of [OPT_GMCP, OPT_MSDP, OPT_MSSP, OPT_MCCP2]) assert.ok(!client.offered.has(option));
  });
});
