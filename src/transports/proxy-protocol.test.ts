// Tests of the PROXY protocol parser and encoders (HAProxy proxy-protocol.txt, v1 and v2): examples, rejections, properties.

import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_MAX_LENGTH,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  readProxyHeader,
} from './proxy-protocol.js';
import type { ProxyAddress, ProxyHeader, ProxyHeaderV1Fields, ProxyHeaderV2Fields } from './proxy-protocol.js';

// Test vectors written out from the spec's byte layout, independently of the encoder.
const SIGNATURE = '0d0a0d0a000d0a515549540a';
const V2_TCP4 = `${SIGNATURE}2111000c` + 'c0a80001c0a8000b' + 'dc0401bb';
// The same with a CRC32C TLV, its value computed by a separate bitwise CRC-32C.
const V2_TCP4_CRC = `${SIGNATURE}21110013` + 'c0a80001c0a8000b' + 'dc0401bb' + '0300041c1ae9c6';
const PP2_TYPE_ALPN = 0x01;
const PP2_TYPE_AUTHORITY = 0x02;

const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
const tlv = (type: number, value: Buffer): string =>
  type.toString(16).padStart(2, '0') + value.length.toString(16).padStart(4, '0') + value.toString('hex');
const noTlvs = (): ReadonlyMap<number, Buffer> => new Map();
const at = (address: string, port: number): ProxyAddress => ({ address, port });

function parsed(input: Uint8Array): { header: ProxyHeader; length: number } {
  const result = readProxyHeader(input);
  assert.equal(result.status, 'complete', JSON.stringify(result));
  assert.ok(result.status === 'complete');
  return { header: result.header, length: result.length };
}

function reasonFor(input: Uint8Array): string {
  const result = readProxyHeader(input);
  assert.equal(result.status, 'invalid', JSON.stringify(result));
  assert.ok(result.status === 'invalid');
  return result.reason;
}

test('v1 TCP4 line from the spec, with the request after it left alone', () => {
  const line = 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n';
  const { header, length } = parsed(latin1(`${line}GET / HTTP/1.1\r\n`));
  assert.equal(length, line.length);
  assert.deepEqual(header, {
    version: 1,
    command: 'proxy',
    family: 'tcp4',
    source: at('192.168.0.1', 56324),
    destination: at('192.168.0.11', 443),
    tlvs: noTlvs(),
  });
});

test('v1 TCP6 addresses come out in the form Node prints', () => {
  const line = 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:10.0.0.1 0 65535\r\n';
  const { header, length } = parsed(latin1(line));
  assert.equal(length, line.length);
  assert.deepEqual(header.source, at('2001:db8::1', 0));
  assert.deepEqual(header.destination, at('::ffff:10.0.0.1', 65535));
  assert.equal(header.family, 'tcp6');
});

test('v1 UNKNOWN, short or with ignored fields, carries no address', () => {
  const worstCase = `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`;
  assert.equal(worstCase.length, PROXY_V1_MAX_LENGTH);
  for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN whatever \x01\r\n', worstCase]) {
    const { header, length } = parsed(latin1(`${line}data`));
    assert.equal(length, line.length);
    assert.deepEqual(header, { version: 1, command: 'proxy', family: 'unknown', tlvs: noTlvs() });
  }
});

test('v2 TCP4 example decodes, and the encoder produces exactly its bytes', () => {
  const { header, length } = parsed(Buffer.concat([hex(V2_TCP4), latin1('SSH-2.0-x\r\n')]));
  assert.equal(length, 28);
  assert.deepEqual(header, {
    version: 2,
    command: 'proxy',
    family: 'tcp4',
    source: at('192.168.0.1', 56324),
    destination: at('192.168.0.11', 443),
    tlvs: noTlvs(),
  });
  const fields = {
    command: 'proxy',
    family: 'tcp4',
    source: header.source!,
    destination: header.destination!,
  } as const;
  assert.deepEqual(encodeProxyHeaderV2(fields), hex(V2_TCP4));
});

test('v2 TCP6 with TLVs yields canonical addresses and each TLV by type', () => {
  const addresses = '20010db8000000000000000000000001' + '20010db8000000000000ff0000000002' + '1f90' + '0017';
  const tlvs = tlv(PP2_TYPE_AUTHORITY, latin1('example.com')) + tlv(PP2_TYPE_ALPN, latin1('h2'));
  const body = addresses + tlvs;
  const input = hex(`${SIGNATURE}2121${(body.length / 2).toString(16).padStart(4, '0')}${body}`);
  const { header, length } = parsed(Buffer.concat([input, hex('fffb01')]));
  assert.equal(length, input.length);
  assert.deepEqual(header, {
    version: 2,
    command: 'proxy',
    family: 'tcp6',
    source: at('2001:db8::1', 8080),
    destination: at('2001:db8::ff00:0:2', 23),
    tlvs: new Map([
      [PP2_TYPE_AUTHORITY, latin1('example.com')],
      [PP2_TYPE_ALPN, latin1('h2')],
    ]),
  });
});

test('v2 LOCAL keeps the real address, with or without TLVs', () => {
  assert.deepEqual(parsed(hex(`${SIGNATURE}20000000`)), {
    header: { version: 2, command: 'local', family: 'unknown', tlvs: noTlvs() },
    length: 16,
  });
  const withTlv = hex(`${SIGNATURE}20000008${tlv(0xe0, hex('0102030405'))}`);
  assert.deepEqual(parsed(withTlv).header.tlvs, new Map([[0xe0, hex('0102030405')]]));
});

test('v2 LOCAL ignores its family and skips its block unread', () => {
  // The family nibble is invalid and the block a truncated TLV: neither matters under LOCAL.
  const { header, length } = parsed(hex(`${SIGNATURE}20f50003ff0009`));
  assert.equal(length, 19);
  assert.deepEqual(header, { version: 2, command: 'local', family: 'unknown', tlvs: noTlvs() });
});

test('v2 UNIX stream is recognised and leaves the real address in place', () => {
  const path = Buffer.alloc(108);
  path.write('/run/haproxy.sock', 'latin1');
  const body = path.toString('hex').repeat(2) + tlv(0x05, latin1('id-1'));
  const input = hex(`${SIGNATURE}2131${(body.length / 2).toString(16).padStart(4, '0')}${body}`);
  assert.deepEqual(parsed(Buffer.concat([input, latin1('rest')])), {
    header: { version: 2, command: 'proxy', family: 'unix', tlvs: new Map([[0x05, latin1('id-1')]]) },
    length: input.length,
  });
});

test('v2 datagram families fall back to UNSPEC: addresses skipped, TLVs still read', () => {
  const input = hex(`${SIGNATURE}2112000f${'7f000001'.repeat(2)}00350035${tlv(PP2_TYPE_ALPN, latin1(''))}`);
  assert.deepEqual(parsed(input).header, {
    version: 2,
    command: 'proxy',
    family: 'unknown',
    tlvs: new Map([[PP2_TYPE_ALPN, latin1('')]]),
  });
});

test('v2 NOOP padding may repeat and is left out of the TLVs', () => {
  const body = tlv(PP2_TYPE_NOOP, hex('00')) + tlv(PP2_TYPE_AUTHORITY, latin1('a')) + tlv(PP2_TYPE_NOOP, hex(''));
  const input = hex(`${SIGNATURE}2100${(body.length / 2).toString(16).padStart(4, '0')}${body}`);
  assert.deepEqual(parsed(input).header.tlvs, new Map([[PP2_TYPE_AUTHORITY, latin1('a')]]));
});

test('v2 CRC32C is verified, and the encoder computes the same value', () => {
  assert.deepEqual(parsed(hex(V2_TCP4_CRC)).header.tlvs, new Map([[PP2_TYPE_CRC32C, hex('1c1ae9c6')]]));
  const fields = {
    command: 'proxy',
    family: 'tcp4',
    source: at('192.168.0.1', 56324),
    destination: at('192.168.0.11', 443),
    checksum: true,
  } as const;
  assert.deepEqual(encodeProxyHeaderV2(fields), hex(V2_TCP4_CRC));
});

test('a view into a larger buffer is read from its own start', () => {
  const backing = Buffer.concat([latin1('junk'), hex(V2_TCP4)]);
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, backing.length - 4);
  assert.equal(parsed(view).length, 28);
});

test('each malformed header is rejected with its own reason', () => {
  const v1 = (line: string): Buffer => latin1(line);
  const v2 = (rest: string): Buffer => hex(SIGNATURE + rest);
  const cases: Array<[Buffer, string]> = [
    [v1('GET / HTTP/1.1\r\n'), 'not a PROXY protocol header'],
    [v1('PROXY\r\n'), 'not a PROXY protocol header'],
    [v1('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), 'unknown PROXY v1 protocol "TCP5"'],
    [v1('PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n'), 'unknown PROXY v1 protocol "tcp4"'],
    [v1('PROXY UNKNOWNX\r\n'), 'unknown PROXY v1 protocol "UNKNOWNX"'],
    [v1('PROXY UNKNOWN\rxx'), 'unknown PROXY v1 protocol "UNKNOWN\\rxx"'],
    [v1('PROXY UNKNOWN '.padEnd(120, 'x')), 'PROXY v1 header longer than 107 bytes'],
    [v1('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n'), 'PROXY v1 fields must be separated by single spaces'],
    [v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), 'PROXY v1 fields must be separated by single spaces'],
    [v1('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), 'PROXY v1 TCP4 header needs 4 fields after the protocol'],
    [v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'), 'PROXY v1 TCP4 header needs 4 fields after the protocol'],
    [v1('PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n'), 'PROXY v1 source port 70000 out of range'],
    [v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'), 'PROXY v1 destination port 65536 out of range'],
    [
      v1('PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n'),
      'PROXY v1 source port "080" is not a decimal number without leading zeros',
    ],
    [
      v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
      'PROXY v1 destination port "2\\n" is not a decimal number without leading zeros',
    ],
    [v1('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), 'PROXY v1 source address "01.2.3.4" is not an IPv4 address'],
    [v1('PROXY TCP4 1.2.3.4 ::1 1 2\r\n'), 'PROXY v1 destination address "::1" is not an IPv4 address'],
    [v1('PROXY TCP6 1.2.3.4 ::1 1 2\r\n'), 'PROXY v1 source address "1.2.3.4" is not an IPv6 address'],
    [v1('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), 'PROXY v1 source address "fe80::1%eth0" is not an IPv6 address'],
    [
      v1('PROXY TCP6 1::2:3:4:5:6:7:8 ::1 1 2\r\n'),
      'PROXY v1 source address "1::2:3:4:5:6:7:8" is not an IPv6 address',
    ],
    [v2('11110000'), 'unknown PROXY v2 version 0x1'],
    [v2('23110000'), 'unknown PROXY v2 command 0x3'],
    [v2('21410000'), 'unknown PROXY v2 address family and transport 0x41'],
    [v2('21130000'), 'unknown PROXY v2 address family and transport 0x13'],
    [v2('21110008c0a80001c0a8000b'), 'PROXY v2 length 8 too short for TCP over IPv4 addresses (12 bytes)'],
    [v2('21210000'), 'PROXY v2 length 0 too short for TCP over IPv6 addresses (36 bytes)'],
    [v2('21310010'), 'PROXY v2 length 16 too short for UNIX stream addresses (216 bytes)'],
    [v2('21001389'), 'PROXY v2 header of 5017 bytes exceeds the 4096-byte limit'],
    [v2('21000005020009aaaa'), 'PROXY v2 TLV 0x02 of 9 bytes overruns the header'],
    [v2('21000005020000aaaa'), 'PROXY v2 header ends with 2 bytes, too few for a TLV'],
    [v2('21000006020000020000'), 'duplicate PROXY v2 TLV 0x02'],
    [v2('21000006030003aaaaaa'), 'PROXY v2 CRC32C TLV of 3 bytes, expected 4'],
    [hex(V2_TCP4_CRC.replace('dc04', 'dc05')), 'PROXY v2 CRC32C checksum mismatch'],
  ];
  for (const [input, reason] of cases) assert.equal(reasonFor(input), reason, input.toString('latin1'));
});

test('a bad header is rejected as soon as the deciding byte arrives', () => {
  const cases: Array<[Buffer, number]> = [
    [latin1('GET / HTTP/1.1\r\n'), 1],
    [latin1('PROXY TCP5'), 10],
    [latin1('PROXY TCP4 1.2.3.4 5.6.7.8 70000'), 32],
    [latin1('PROXY TCP4 1.2.3.256'), 20],
    [latin1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 '), 31],
    [hex(`${SIGNATURE}23`), 13],
    [hex(`${SIGNATURE}2141`), 14],
    [hex(`${SIGNATURE}2100ffff`), 16],
    [hex(`${SIGNATURE}21000010020010`), 19],
  ];
  for (const [input, decidedAt] of cases) {
    assert.equal(readProxyHeader(input.subarray(0, decidedAt - 1)).status, 'incomplete', input.toString('latin1'));
    assert.equal(readProxyHeader(input.subarray(0, decidedAt)).status, 'invalid', input.toString('latin1'));
  }
});

test('the encoders refuse fields no valid header can carry', () => {
  const source = at('1.2.3.4', 1);
  assert.throws(() => encodeProxyHeaderV1({ family: 'tcp4', source, destination: at('::1', 2) }), RangeError);
  assert.throws(() => encodeProxyHeaderV1({ family: 'tcp6', source: at('::1', 70000), destination: at('::1', 2) }));
  assert.throws(() => encodeProxyHeaderV2({ command: 'local', tlvs: new Map([[256, Buffer.alloc(0)]]) }));
  assert.throws(() =>
    encodeProxyHeaderV2({ command: 'local', tlvs: new Map([[1, Buffer.alloc(PROXY_V2_MAX_LENGTH)]]) }),
  );
  assert.throws(() =>
    encodeProxyHeaderV2({ command: 'local', checksum: true, tlvs: new Map([[PP2_TYPE_CRC32C, Buffer.alloc(4)]]) }),
  );
});

const canonicalIPv6 = (address: string): string => new SocketAddress({ address, family: 'ipv6' }).address;
const port = fc.integer({ min: 0, max: 0xffff });
const endpoint = (address: fc.Arbitrary<string>): fc.Arbitrary<ProxyAddress> =>
  fc.record({ address, port }, { noNullPrototype: true });
const tcpFields = fc.oneof(
  fc.record(
    { family: fc.constant('tcp4' as const), source: endpoint(fc.ipV4()), destination: endpoint(fc.ipV4()) },
    { noNullPrototype: true },
  ),
  fc.record(
    {
      family: fc.constant('tcp6' as const),
      source: endpoint(fc.ipV6().map(canonicalIPv6)),
      destination: endpoint(fc.ipV6().map(canonicalIPv6)),
    },
    { noNullPrototype: true },
  ),
);
const v1Fields: fc.Arbitrary<ProxyHeaderV1Fields> = fc.oneof(tcpFields, fc.constant({ family: 'unknown' as const }));
const tlvMap = fc
  .uniqueArray(
    fc.tuple(
      fc.integer({ min: 0, max: 0xff }).filter((type) => type !== PP2_TYPE_NOOP && type !== PP2_TYPE_CRC32C),
      fc.uint8Array({ maxLength: 40 }),
    ),
    { selector: ([type]) => type, maxLength: 4 },
  )
  .map((entries) => new Map(entries.map(([type, value]) => [type, Buffer.from(value)])));
const v2Fields: fc.Arbitrary<ProxyHeaderV2Fields> = fc
  .tuple(
    fc.oneof(
      tcpFields.map((fields) => ({ command: 'proxy' as const, ...fields })),
      fc.constantFrom(
        { command: 'proxy' as const, family: 'unix' as const },
        { command: 'proxy' as const, family: 'unknown' as const },
        { command: 'local' as const },
      ),
    ),
    tlvMap,
    fc.boolean(),
  )
  .map(([fields, tlvs, checksum]) => ({ ...fields, tlvs, checksum }));
const anyEncoded = fc.oneof(v1Fields.map(encodeProxyHeaderV1), v2Fields.map(encodeProxyHeaderV2));

function expectedV1(fields: ProxyHeaderV1Fields): ProxyHeader {
  const base = { version: 1, command: 'proxy', tlvs: noTlvs() } as const;
  if (fields.family === 'unknown') return { ...base, family: 'unknown' };
  return { ...base, family: fields.family, source: fields.source, destination: fields.destination };
}

function expectedV2(fields: ProxyHeaderV2Fields): ProxyHeader {
  const tlvs = new Map([...(fields.tlvs ?? [])].map(([type, value]) => [type, Buffer.from(value)]));
  const base = { version: 2, tlvs } as const;
  if (fields.command === 'local') return { ...base, command: 'local', family: 'unknown' };
  if (fields.family === 'tcp4' || fields.family === 'tcp6') {
    return { ...base, command: 'proxy', family: fields.family, source: fields.source, destination: fields.destination };
  }
  return { ...base, command: 'proxy', family: fields.family };
}

/** The parsed header with the checksum TLV, whose value the fields do not hold, taken out. */
function withoutChecksum(header: ProxyHeader): ProxyHeader {
  return { ...header, tlvs: new Map([...header.tlvs].filter(([type]) => type !== PP2_TYPE_CRC32C)) };
}

test('arbitrary bytes never throw and always get one of the three verdicts', () => {
  const mutated = fc.tuple(anyEncoded, fc.nat(), fc.integer({ min: 0, max: 0xff })).map(([bytes, index, value]) => {
    const copy = Buffer.from(bytes);
    copy[index % copy.length] = value;
    return copy;
  });
  const inputs = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((tail) => Buffer.concat([hex(SIGNATURE), tail])),
    fc.string({ maxLength: 120 }).map((tail) => latin1(`PROXY ${tail}`)),
    mutated,
  );
  fc.assert(
    fc.property(inputs, (input) => {
      const result = readProxyHeader(input);
      if (result.status === 'complete') assert.ok(result.length > 0 && result.length <= input.length);
      else if (result.status === 'invalid') assert.ok(result.reason.length > 0);
      else assert.equal(result.status, 'incomplete');
    }),
  );
});

test('once given, a verdict holds for every longer input', () => {
  const inputs = fc.oneof(
    fc.uint8Array({ maxLength: 120 }).map((tail) => Buffer.concat([hex(SIGNATURE), tail])),
    fc.string({ maxLength: 120 }).map((tail) => latin1(`PROXY ${tail}`)),
    fc
      .tuple(anyEncoded, fc.nat(), fc.integer({ min: 0, max: 0xff }), fc.uint8Array({ maxLength: 8 }))
      .map(([bytes, index, value, tail]) => {
        const copy = Buffer.concat([bytes, tail]);
        copy[index % bytes.length] = value;
        return copy;
      }),
  );
  fc.assert(
    fc.property(inputs, (input) => {
      let first: ReturnType<typeof readProxyHeader> | undefined;
      for (let end = 0; end <= input.length; end++) {
        const result = readProxyHeader(input.subarray(0, end));
        if (first === undefined) {
          if (result.status !== 'incomplete') first = result;
        } else if (first.status === 'complete') {
          assert.deepEqual(result, first, `at ${end}`);
        } else {
          // Reasons may quote more of a bad field as it grows; being invalid is what holds.
          assert.equal(result.status, 'invalid', `at ${end}`);
        }
      }
    }),
  );
});

test('no input of PROXY_V2_MAX_LENGTH bytes or more is incomplete', () => {
  const long = { minLength: PROXY_V2_MAX_LENGTH, maxLength: PROXY_V2_MAX_LENGTH + 64 };
  const inputs = fc.oneof(
    fc.uint8Array(long).map((tail) => Buffer.concat([hex(SIGNATURE), tail])),
    fc.uint8Array(long).map((tail) => Buffer.concat([hex(`${SIGNATURE}21`), tail])),
    fc.uint8Array(long).map((tail) => Buffer.concat([latin1('PROXY UNKNOWN '), tail])),
  );
  fc.assert(fc.property(inputs, (input) => assert.notEqual(readProxyHeader(input).status, 'incomplete')));
});

test('every strict prefix of a valid header is incomplete', () => {
  fc.assert(
    fc.property(anyEncoded, (encoded) => {
      for (let end = 0; end < encoded.length; end++) {
        assert.deepEqual(readProxyHeader(encoded.subarray(0, end)), { status: 'incomplete' }, `cut at ${end}`);
      }
    }),
  );
});

test('v1 encode then parse gives the fields back, whatever follows the header', () => {
  fc.assert(
    fc.property(v1Fields, fc.uint8Array({ maxLength: 64 }), (fields, after) => {
      const encoded = encodeProxyHeaderV1(fields);
      assert.ok(encoded.length <= PROXY_V1_MAX_LENGTH);
      const { header, length } = parsed(Buffer.concat([encoded, after]));
      assert.equal(length, encoded.length);
      assert.deepEqual(header, expectedV1(fields));
    }),
  );
});

test('v2 encode then parse gives the fields back, whatever follows the header', () => {
  fc.assert(
    fc.property(v2Fields, fc.uint8Array({ maxLength: 64 }), (fields, after) => {
      const encoded = encodeProxyHeaderV2(fields);
      const { header, length } = parsed(Buffer.concat([encoded, after]));
      assert.equal(length, encoded.length);
      assert.equal(header.tlvs.has(PP2_TYPE_CRC32C), fields.checksum === true);
      assert.deepEqual(withoutChecksum(header), expectedV2(fields));
    }),
  );
});

test('v1 TCP6 accepts any spelling of an address and prints it canonically', () => {
  fc.assert(
    fc.property(fc.ipV6(), port, (address, sourcePort) => {
      const line = latin1(`PROXY TCP6 ${address} ::1 ${sourcePort} 1\r\n`);
      fc.pre(line.length <= PROXY_V1_MAX_LENGTH);
      assert.deepEqual(parsed(line).header.source, at(canonicalIPv6(address), sourcePort));
    }),
  );
});
