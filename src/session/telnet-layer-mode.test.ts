// The telnet layer's mode as the negotiation leaves it, whatever a client sends in whatever order.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';
import { pino } from 'pino';

import {
  DO,
  DONT,
  IAC,
  OPT_ECHO,
  OPT_EOR,
  OPT_NAWS,
  OPT_SGA,
  OPT_TTYPE,
  SB,
  SE,
  TTYPE_IS,
  WILL,
  WONT,
  optionName,
} from '../telnet/constants.js';
import type { Connection } from '../transports/connection.js';
import { TelnetLayer } from './telnet-layer.js';

const ECHOING = `${optionName(OPT_ECHO)} (server)`;
const SUPPRESSING_GA = `${optionName(OPT_SGA)} (server)`;

test("mode and serverEchoes follow the options in effect through any client's negotiation", () => {
  // A terminal's answers and their opposites, in any order: echo is taken over only after the
  // terminal type, so DO ECHO counts only once it has come.
  const command = fc.constantFrom(
    [IAC, WILL, OPT_TTYPE],
    [IAC, WONT, OPT_TTYPE],
    [IAC, SB, OPT_TTYPE, TTYPE_IS, ...Buffer.from('XTERM'), IAC, SE],
    [IAC, DO, OPT_SGA],
    [IAC, DONT, OPT_SGA],
    [IAC, DO, OPT_ECHO],
    [IAC, DONT, OPT_ECHO],
    [IAC, DO, OPT_EOR],
    [IAC, WILL, OPT_NAWS],
  );
  let characterSeen = 0;
  fc.assert(
    fc.property(
      fc.constantFrom('character', 'line'),
      fc.array(fc.array(command, { minLength: 1, maxLength: 4 }), { maxLength: 30, size: 'max' }),
      (mode, reads) => {
        const connection = { framing: 'stream', write: () => Promise.resolve() } as unknown as Connection;
        const events = { changed: () => undefined, option: () => undefined };
        const layer = new TelnetLayer(connection, {
          preferredMode: mode as 'character' | 'line',
          keepaliveInterval: 0,
          events,
          logger: pino({ level: 'silent' }),
        });
        layer.start();
        try {
          for (const read of reads) {
            layer.receive(Uint8Array.from(read.flat()));
            const inEffect = layer.terminal.options;
            assert.equal(layer.serverEchoes, inEffect.includes(ECHOING));
            const isCharacter = inEffect.includes(ECHOING) && inEffect.includes(SUPPRESSING_GA);
            assert.equal(layer.mode, isCharacter ? 'character' : 'line');
            if (isCharacter) characterSeen++;
          }
        } finally {
          layer.dispose();
        }
      },
    ),
  );
  assert.ok(characterSeen > 0, 'no run reached character mode');
});

test('the option list, made once a read is done, is already up to date when the window size is told', () => {
  const connection = { framing: 'stream', write: () => Promise.resolve() } as unknown as Connection;
  const seenAtResize: string[][] = [];
  const layer: TelnetLayer = new TelnetLayer(connection, {
    preferredMode: 'character',
    keepaliveInterval: 0,
    events: {
      changed: (what) => {
        if (what === 'size') seenAtResize.push([...layer.terminal.options]);
      },
      option: () => undefined,
    },
    logger: pino({ level: 'silent' }),
  });
  layer.start();
  try {
    // A terminal's first read: its answers to the opening, its window size among them.
    layer.receive(
      Uint8Array.from([
        ...[IAC, WILL, OPT_TTYPE, IAC, WILL, OPT_NAWS],
        ...[IAC, SB, OPT_NAWS, 0, 80, 0, 24, IAC, SE],
        ...[IAC, DONT, OPT_EOR, IAC, DO, OPT_SGA],
      ]),
    );
    assert.deepEqual(seenAtResize, [[`${optionName(OPT_TTYPE)} (client)`, `${optionName(OPT_NAWS)} (client)`]]);
    assert.deepEqual(layer.terminal.options, [
      SUPPRESSING_GA,
      `${optionName(OPT_TTYPE)} (client)`,
      `${optionName(OPT_NAWS)} (client)`,
    ]);
  } finally {
    layer.dispose();
  }
});
