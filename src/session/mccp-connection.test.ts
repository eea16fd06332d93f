// MCCP2 and MCCP3 in the byte path: compressed output, where the client's stream starts, and its failures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { deflateSync, inflateSync } from 'node:zlib';

import fc from 'fast-check';
import { pino } from 'pino';

import { DO, DONT, OPT_MCCP3, OPT_NAWS, WILL } from '../telnet/constants.js';
import { negotiate, subnegotiation } from '../telnet/encoder.js';
import { ByteConnection } from '../../test/support/byte-connection.js';
import { MccpConnection } from './mccp-connection.js';

const silent = pino({ level: 'silent' });

/** What the listener heard: the input, and then (as a last entry of null) the input's end. */
function wire(isMccp3Offered = false): { inner: ByteConnection; mccp: MccpConnection; received: Array<Buffer | null> } {
  const inner = new ByteConnection();
  const mccp = new MccpConnection(inner, silent, isMccp3Offered);
  const received: Array<Buffer | null> = [];
  mccp.listen({
    data: (_connection, bytes) => received.push(Buffer.from(bytes)),
    closed: () => undefined,
    terminal: () => undefined,
    inputEnded: () => received.push(null),
  });
  return { inner, mccp, received };
}

async function until(what: string, isDone: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !isDone(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(isDone(), `timed out waiting for ${what}`);
}

test('writes before compression go out as they are; after it, one zlib stream flushed once per turn', async () => {
  const { inner, mccp } = wire();
  await mccp.write(Buffer.from('plain '));
  mccp.startCompressing();
  void mccp.write(Buffer.from('one '));
  void mccp.write('two ');
  assert.equal(inner.written.length, 1, 'nothing compressed leaves before the turn ends');
  await until('the flush', () => inner.written.length > 1);
  void mccp.write('three');
  await nextTurn();
  await until('the second flush', () => inflateSyncFlushed(inner.written.slice(1)).endsWith('three'));
  assert.equal(inner.written[0]!.toString(), 'plain ');
  assert.equal(inflateSyncFlushed(inner.written.slice(1)), 'one two three');
});

test('stopping ends the stream (Z_FINISH) and what is written meanwhile follows it uncompressed', async () => {
  const { inner, mccp } = wire();
  mccp.startCompressing();
  void mccp.write('compressed');
  const stopped = mccp.stopCompressing();
  void mccp.write(' then plain');
  await stopped;
  const all = Buffer.concat(inner.written);
  const tail = Buffer.from(' then plain');
  assert.ok(all.subarray(all.length - tail.length).equals(tail));
  assert.equal(inflateSync(all.subarray(0, all.length - tail.length)).toString(), 'compressed');
});

test('close() finishes the stream first, so a goodbye arrives whole', async () => {
  const { inner, mccp } = wire();
  mccp.startCompressing();
  void mccp.write('Goodbye!\r\n');
  await mccp.close('handler-ended');
  assert.ok(inner.isClosed);
  assert.equal(inflateSync(Buffer.concat(inner.written)).toString(), 'Goodbye!\r\n');
});

/** What a client sends: telnet, then its MCCP3 start, then its zlib stream. */
const TELNET_BEFORE = Buffer.concat([
  negotiate(DO, OPT_MCCP3),
  negotiate(WILL, OPT_NAWS),
  subnegotiation(OPT_NAWS, [0, 80, 0, 24]),
  Buffer.from('look\r\n'),
]);
const START = subnegotiation(OPT_MCCP3, []);
const TYPED = Buffer.from('north\r\nsay \xff hello\r\n'.repeat(20), 'latin1');

/**
 * Hands `bytes` to `inner` as the tcp transport does: lent in one buffer that the next read
 * overwrites (here at once, with junk), so a reader that keeps them must have copied them.
 */
const lentBuffer = Buffer.alloc(64 * 1024);
function lend(inner: ByteConnection, bytes: Uint8Array): void {
  lentBuffer.set(bytes);
  inner.receive(lentBuffer.subarray(0, bytes.length));
  lentBuffer.fill(0xaa);
}

test("the client's MCCP3 stream is found and inflated wherever the reads cut it", async () => {
  const sent = Buffer.concat([TELNET_BEFORE, START, deflateSync(TYPED)]);
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: sent.length - 1 }), { maxLength: 8 }), async (cuts) => {
      const { inner, received } = wire(true);
      let from = 0;
      for (const at of [...cuts].sort((a, b) => a - b)) {
        lend(inner, sent.subarray(from, at));
        from = at;
      }
      lend(inner, sent.subarray(from));
      // The client half-closes at once: its end is heard after the last of its inflated input.
      inner.endInput();
      const telnet = Buffer.concat([TELNET_BEFORE, START]);
      await until('the end of the input', () => received.at(-1) === null);
      assert.ok(Buffer.concat(received.slice(0, -1) as Buffer[]).equals(Buffer.concat([telnet, TYPED])));
    }),
    { numRuns: 40 },
  );
});

test('IAC SB MCCP3 IAC SE is no start without DO MCCP3 first, nor after DONT', () => {
  for (const before of [Buffer.alloc(0), Buffer.concat([negotiate(DO, OPT_MCCP3), negotiate(DONT, OPT_MCCP3)])]) {
    const { inner, mccp, received } = wire(true);
    const sent = Buffer.concat([before, START, Buffer.from('plain text')]);
    inner.receive(sent);
    assert.ok(Buffer.concat(received as Buffer[]).equals(sent));
    assert.equal(mccp.isInflating, false);
  }
});

test('a corrupt MCCP3 stream destroys that connection', async () => {
  const { inner, mccp } = wire(true);
  inner.receive(Buffer.concat([negotiate(DO, OPT_MCCP3), START]));
  assert.ok(mccp.isInflating);
  inner.receive(Buffer.from('not a zlib stream, not at all'));
  await until('the connection to be destroyed', () => inner.isDestroyed);
});

test('once the client ends its stream, the reads after it are telnet again', async () => {
  const { inner, mccp, received } = wire(true);
  // Node's inflater reports the end once input follows it; the rest of that read is lost.
  const stream = Buffer.concat([deflateSync(Buffer.from('inside')), Buffer.from('lost')]);
  inner.receive(Buffer.concat([negotiate(DO, OPT_MCCP3), START, stream]));
  await until('the end of the stream', () => !mccp.isInflating);
  inner.receive(Buffer.from('outside'));
  assert.ok(
    Buffer.concat(received as Buffer[])
      .toString('latin1')
      .endsWith('insideoutside'),
  );
});

/** Inflates a stream that is flushed but not finished. */
function inflateSyncFlushed(chunks: Buffer[]): string {
  return inflateSync(Buffer.concat(chunks), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString();
}
