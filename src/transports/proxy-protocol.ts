// PROXY protocol header parser and encoder, versions 1 (text) and 2 (binary), per HAProxy's proxy-protocol.txt.

import { SocketAddress, isIPv4, isIPv6 } from 'node:net';

/** One endpoint of the proxied connection; IPv6 in Node's canonical form, as socket.remoteAddress prints it. */
export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

/** Address family a header announces; only 'tcp4' and 'tcp6' carry addresses. */
export type ProxyFamily = 'tcp4' | 'tcp6' | 'unix' | 'unknown';

/**
 * A parsed header. Without a source (v2 LOCAL, v1 UNKNOWN, UNIX or UNSPEC families) the
 * connection's real socket address stands. v1 has no commands, so its headers are 'proxy'.
 */
export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly command: 'proxy' | 'local';
  readonly family: ProxyFamily;
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
  /** v2 TLVs by type, NOOP padding left out; always empty for v1. */
  readonly tlvs: ReadonlyMap<number, Buffer>;
}

/** Verdict on the first bytes of a connection; `length` counts the header bytes, data follows them. */
export type ProxyHeaderResult =
  | { readonly status: 'incomplete' }
  | { readonly status: 'complete'; readonly header: ProxyHeader; readonly length: number }
  | { readonly status: 'invalid'; readonly reason: string };

/** Fields of a v1 header to encode. */
export type ProxyHeaderV1Fields =
  | { readonly family: 'tcp4' | 'tcp6'; readonly source: ProxyAddress; readonly destination: ProxyAddress }
  | { readonly family: 'unknown' };

/** Fields of a v2 header to encode; `checksum` appends a CRC32C TLV. UNIX paths are sent empty. */
export type ProxyHeaderV2Fields = (
  | {
      readonly command: 'proxy';
      readonly family: 'tcp4' | 'tcp6';
      readonly source: ProxyAddress;
      readonly destination: ProxyAddress;
    }
  | { readonly command: 'proxy'; readonly family: 'unix' | 'unknown' }
  | { readonly command: 'local' }
) & { readonly tlvs?: ReadonlyMap<number, Uint8Array>; readonly checksum?: boolean };

/** Longest v1 line the spec allows, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;

/**
 * Longest v2 header accepted, fixed part included. The spec allows 16 + 65535 bytes, but
 * senders aim to fit one 536-byte segment; 4096 leaves room for SSL and cloud TLVs while
 * bounding what an unauthenticated peer makes us buffer.
 */
export const PROXY_V2_MAX_LENGTH = 4096;

/** v2 TLV holding the CRC32C of the whole header; verified when present. */
export const PP2_TYPE_CRC32C = 0x03;

/** v2 TLV used as padding; skipped, so it may repeat. */
export const PP2_TYPE_NOOP = 0x04;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_LENGTH = 16;
const V2_VERSION = 2;
const V2_LOCAL = 0x0;
const V2_PROXY = 0x1;
const TLV_HEADER_LENGTH = 3;
const UNIX_ADDRESSES_LENGTH = 2 * 108;

const V1_PROTOCOLS = ['TCP4', 'TCP6', 'UNKNOWN'];
const V1_FIELD_NAMES = ['source address', 'destination address', 'source port', 'destination port'];
const DECIMAL = /^(0|[1-9][0-9]*)$/; // the spec forbids leading zeros, lest they read as octal
const IPV6_TEXT = /^[0-9A-Fa-f:.]{0,45}$/;

interface V2Layout {
  readonly family: ProxyFamily;
  readonly label: string;
  readonly addressLength: number;
}

// Datagram transports fall back to UNSPEC (the spec allows that for combinations a
// receiver does not support): their address block is skipped, never reported.
const V2_LAYOUTS: ReadonlyMap<number, V2Layout> = new Map([
  [0x00, { family: 'unknown', label: 'UNSPEC', addressLength: 0 }],
  [0x11, { family: 'tcp4', label: 'TCP over IPv4', addressLength: 12 }],
  [0x12, { family: 'unknown', label: 'UDP over IPv4', addressLength: 12 }],
  [0x21, { family: 'tcp6', label: 'TCP over IPv6', addressLength: 36 }],
  [0x22, { family: 'unknown', label: 'UDP over IPv6', addressLength: 36 }],
  [0x31, { family: 'unix', label: 'UNIX stream', addressLength: UNIX_ADDRESSES_LENGTH }],
  [0x32, { family: 'unknown', label: 'UNIX datagram', addressLength: UNIX_ADDRESSES_LENGTH }],
]);
const V2_FAMILY_BYTES: Readonly<Record<ProxyFamily, number>> = { unknown: 0x00, tcp4: 0x11, tcp6: 0x21, unix: 0x31 };

const INCOMPLETE: ProxyHeaderResult = { status: 'incomplete' };

const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, byte) => {
  let crc = byte;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  return crc;
});

/**
 * Reads a PROXY header (v1 or v2) from the first bytes of a connection. Pure and total:
 * call it again with more bytes after 'incomplete'; it never returns 'incomplete' for
 * PROXY_V2_MAX_LENGTH bytes or more, and never throws.
 */
export function readProxyHeader(input: Uint8Array): ProxyHeaderResult {
  const buffer = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (startsLike(buffer, V2_SIGNATURE)) return readV2(buffer);
  if (startsLike(buffer, V1_PREFIX)) return readV1(buffer);
  return invalid('not a PROXY protocol header');
}

/** Encodes a v1 header line; throws a RangeError on fields no valid header could carry. */
export function encodeProxyHeaderV1(fields: ProxyHeaderV1Fields): Buffer {
  if (fields.family === 'unknown') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const protocol = fields.family === 'tcp4' ? 'TCP4' : 'TCP6';
  const source = canonicalText(fields.source.address, fields.family);
  const destination = canonicalText(fields.destination.address, fields.family);
  const ports = [checkedPort(fields.source.port), checkedPort(fields.destination.port)];
  return Buffer.from(`PROXY ${protocol} ${source} ${destination} ${ports.join(' ')}\r\n`, 'latin1');
}

/** Encodes a v2 header; throws a RangeError on fields no valid header could carry. */
export function encodeProxyHeaderV2(fields: ProxyHeaderV2Fields): Buffer {
  const command = fields.command === 'local' ? V2_LOCAL : V2_PROXY;
  const family = fields.command === 'local' ? 'unknown' : fields.family;
  const addresses = encodeV2Addresses(fields);
  const tlvs = [...(fields.tlvs ?? [])].map(([type, value]) => encodeTlv(type, value));
  if (fields.checksum) {
    if (fields.tlvs?.has(PP2_TYPE_CRC32C)) throw new RangeError('checksum requested beside a CRC32C TLV');
    tlvs.push(encodeTlv(PP2_TYPE_CRC32C, new Uint8Array(4)));
  }
  const body = Buffer.concat([addresses, ...tlvs]);
  if (V2_FIXED_LENGTH + body.length > PROXY_V2_MAX_LENGTH) {
    throw new RangeError(`PROXY v2 header of ${V2_FIXED_LENGTH + body.length} bytes exceeds ${PROXY_V2_MAX_LENGTH}`);
  }
  const fixed = Buffer.alloc(V2_FIXED_LENGTH);
  V2_SIGNATURE.copy(fixed);
  fixed[12] = (V2_VERSION << 4) | command;
  fixed[13] = V2_FAMILY_BYTES[family];
  fixed.writeUInt16BE(body.length, 14);
  const header = Buffer.concat([fixed, body]);
  // The checksum TLV goes last, so its value is the header's last 4 bytes.
  if (fields.checksum) header.writeUInt32BE(crc32c(header), header.length - 4);
  return header;
}

function readV1(buffer: Buffer): ProxyHeaderResult {
  if (buffer.length < V1_PREFIX.length) return INCOMPLETE;
  const window = buffer.subarray(0, PROXY_V1_MAX_LENGTH);
  const end = window.indexOf('\r\n');
  const result = readV1Line(window, end === -1 ? undefined : end);
  // Checked after the fields, so a bad field is reported as that rather than as an overlong line.
  if (result.status === 'incomplete' && window.length === PROXY_V1_MAX_LENGTH) {
    return invalid(`PROXY v1 header longer than ${PROXY_V1_MAX_LENGTH} bytes`);
  }
  return result;
}

/** Judges the line before `end` (its CRLF), or the part of it seen so far when `end` is unknown. */
function readV1Line(window: Buffer, end: number | undefined): ProxyHeaderResult {
  const isComplete = end !== undefined;
  let line = window.toString('latin1', V1_PREFIX.length, end ?? window.length);
  // A CR at the very end may be the first half of a CRLF still on its way.
  if (!isComplete && line.endsWith('\r')) line = line.slice(0, -1);

  const [protocol = '', ...fields] = line.split(' ');
  if (!isComplete && fields.length === 0) {
    return V1_PROTOCOLS.some((p) => p.startsWith(protocol)) ? INCOMPLETE : unknownV1Protocol(protocol);
  }
  // The spec has the receiver ignore whatever follows UNKNOWN up to the CRLF.
  if (protocol === 'UNKNOWN') {
    if (!isComplete) return INCOMPLETE;
    return complete({ version: 1, command: 'proxy', family: 'unknown', tlvs: new Map() }, end + 2);
  }
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return unknownV1Protocol(protocol);

  const family = protocol === 'TCP4' ? 'tcp4' : 'tcp6';
  if (fields.some((field, i) => field === '' && (isComplete || i < fields.length - 1))) {
    return invalid('PROXY v1 fields must be separated by single spaces');
  }
  if (fields.length > V1_FIELD_NAMES.length || (isComplete && fields.length < V1_FIELD_NAMES.length)) {
    return invalid(`PROXY v1 ${protocol} header needs ${V1_FIELD_NAMES.length} fields after the protocol`);
  }
  for (const [i, field] of fields.entries()) {
    const isPartial = !isComplete && i === fields.length - 1;
    const problem = i < 2 ? checkV1Address(field, family, isPartial) : checkV1Port(field, isPartial);
    if (problem !== undefined) return invalid(`PROXY v1 ${V1_FIELD_NAMES[i]} ${problem}`);
  }
  if (!isComplete) return INCOMPLETE;

  const [source = '', destination = '', sourcePort = '', destinationPort = ''] = fields;
  return complete(
    {
      version: 1,
      command: 'proxy',
      family,
      source: { address: canonicalText(source, family), port: Number(sourcePort) },
      destination: { address: canonicalText(destination, family), port: Number(destinationPort) },
      tlvs: new Map(),
    },
    end + 2,
  );
}

function readV2(buffer: Buffer): ProxyHeaderResult {
  if (buffer.length <= V2_SIGNATURE.length) return INCOMPLETE;
  const versionCommand = buffer[12]!;
  if (versionCommand >> 4 !== V2_VERSION) return invalid(`unknown PROXY v2 version 0x${hex(versionCommand >> 4)}`);
  const command = versionCommand & 0x0f;
  if (command !== V2_LOCAL && command !== V2_PROXY) return invalid(`unknown PROXY v2 command 0x${hex(command)}`);
  if (buffer.length < 14) return INCOMPLETE;

  const familyByte = buffer[13]!;
  // LOCAL ignores the family (spec 2.2), and with it where an address block would end: TLVs
  // are read only when UNSPEC says there is none, otherwise the whole block is skipped.
  const layout = command === V2_LOCAL && familyByte !== 0x00 ? undefined : V2_LAYOUTS.get(familyByte);
  if (command === V2_PROXY && layout === undefined) {
    return invalid(`unknown PROXY v2 address family and transport 0x${hex(familyByte, 2)}`);
  }
  if (buffer.length < V2_FIXED_LENGTH) return INCOMPLETE;

  const bodyLength = buffer.readUInt16BE(14);
  const length = V2_FIXED_LENGTH + bodyLength;
  if (length > PROXY_V2_MAX_LENGTH) {
    return invalid(`PROXY v2 header of ${length} bytes exceeds the ${PROXY_V2_MAX_LENGTH}-byte limit`);
  }
  if (layout !== undefined && bodyLength < layout.addressLength) {
    return invalid(
      `PROXY v2 length ${bodyLength} too short for ${layout.label} addresses (${layout.addressLength} bytes)`,
    );
  }

  const tlvs = layout === undefined ? undefined : readTlvs(buffer, V2_FIXED_LENGTH + layout.addressLength, length);
  if (tlvs?.status === 'invalid') return tlvs;
  if (buffer.length < length) return INCOMPLETE;
  if (tlvs?.checksumAt !== undefined && !hasValidChecksum(buffer.subarray(0, length), tlvs.checksumAt)) {
    return invalid('PROXY v2 CRC32C checksum mismatch');
  }

  const base = { version: 2, tlvs: tlvs?.tlvs ?? new Map<number, Buffer>() } as const;
  if (command === V2_LOCAL || layout === undefined) {
    return complete({ ...base, command: 'local', family: 'unknown' }, length);
  }
  if (layout.family === 'tcp4') {
    const source = { address: formatIPv4(buffer, 16), port: buffer.readUInt16BE(24) };
    const destination = { address: formatIPv4(buffer, 20), port: buffer.readUInt16BE(26) };
    return complete({ ...base, command: 'proxy', family: 'tcp4', source, destination }, length);
  }
  if (layout.family === 'tcp6') {
    const source = { address: formatIPv6(buffer, 16), port: buffer.readUInt16BE(48) };
    const destination = { address: formatIPv6(buffer, 32), port: buffer.readUInt16BE(50) };
    return complete({ ...base, command: 'proxy', family: 'tcp6', source, destination }, length);
  }
  return complete({ ...base, command: 'proxy', family: layout.family }, length);
}

type TlvResult =
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'read'; readonly tlvs: Map<number, Buffer>; readonly checksumAt?: number };

/** Walks the TLVs in [start, end) as far as bytes have arrived, so a bad one is caught early. */
function readTlvs(buffer: Buffer, start: number, end: number): TlvResult {
  const tlvs = new Map<number, Buffer>();
  let checksumAt: number | undefined;
  let offset = start;
  while (offset < end) {
    if (end - offset < TLV_HEADER_LENGTH) {
      return invalid(`PROXY v2 header ends with ${end - offset} bytes, too few for a TLV`);
    }
    if (buffer.length < offset + TLV_HEADER_LENGTH) break;
    const type = buffer[offset]!;
    const valueLength = buffer.readUInt16BE(offset + 1);
    const valueStart = offset + TLV_HEADER_LENGTH;
    if (valueStart + valueLength > end) {
      return invalid(`PROXY v2 TLV 0x${hex(type, 2)} of ${valueLength} bytes overruns the header`);
    }
    if (type !== PP2_TYPE_NOOP && tlvs.has(type)) return invalid(`duplicate PROXY v2 TLV 0x${hex(type, 2)}`);
    if (type === PP2_TYPE_CRC32C) {
      if (valueLength !== 4) return invalid(`PROXY v2 CRC32C TLV of ${valueLength} bytes, expected 4`);
      checksumAt = valueStart;
    }
    if (buffer.length < valueStart + valueLength) break;
    // A copy, so the header outlives the connection's read buffer.
    if (type !== PP2_TYPE_NOOP) tlvs.set(type, Buffer.from(buffer.subarray(valueStart, valueStart + valueLength)));
    offset = valueStart + valueLength;
  }
  return checksumAt === undefined ? { status: 'read', tlvs } : { status: 'read', tlvs, checksumAt };
}

/** Spec 2.2.3: the CRC32C of the whole header, computed with the checksum field zeroed. */
function hasValidChecksum(header: Buffer, checksumAt: number): boolean {
  const zeroed = Buffer.from(header);
  zeroed.fill(0, checksumAt, checksumAt + 4);
  return crc32c(zeroed) === header.readUInt32BE(checksumAt);
}

/** CRC-32C (Castagnoli), as RFC 4960 appendix B computes it. */
function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checkV1Address(field: string, family: 'tcp4' | 'tcp6', isPartial: boolean): string | undefined {
  if (family === 'tcp4') {
    const isValid = isPartial ? isIPv4Prefix(field) : isIPv4(field);
    return isValid ? undefined : `${JSON.stringify(field)} is not an IPv4 address`;
  }
  const isValid = isPartial ? IPV6_TEXT.test(field) : isIPv6Address(field);
  return isValid ? undefined : `${JSON.stringify(field)} is not an IPv6 address`;
}

/** Whether more text could still make `field` a dotted quad without leading zeros. */
function isIPv4Prefix(field: string): boolean {
  const parts = field.split('.');
  return (
    parts.length <= 4 &&
    parts.every((part, i) =>
      part === '' ? i === parts.length - 1 : DECIMAL.test(part) && part.length <= 3 && Number(part) <= 255,
    )
  );
}

// Digits only grow a number, so a partial port is judged like a whole one, empty aside.
function checkV1Port(field: string, isPartial: boolean): string | undefined {
  if (isPartial && field === '') return undefined;
  if (!DECIMAL.test(field)) return `${JSON.stringify(field)} is not a decimal number without leading zeros`;
  return Number(field) > 0xffff ? `${field} out of range` : undefined;
}

function unknownV1Protocol(protocol: string): ProxyHeaderResult {
  return invalid(`unknown PROXY v1 protocol ${JSON.stringify(protocol)}`);
}

function encodeV2Addresses(fields: ProxyHeaderV2Fields): Buffer {
  if (fields.command === 'local') return Buffer.alloc(0);
  if (fields.family === 'tcp4' || fields.family === 'tcp6') {
    const toBytes = fields.family === 'tcp4' ? ipv4Bytes : ipv6Bytes;
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(checkedPort(fields.source.port), 0);
    ports.writeUInt16BE(checkedPort(fields.destination.port), 2);
    return Buffer.concat([
      toBytes(canonicalText(fields.source.address, fields.family)),
      toBytes(canonicalText(fields.destination.address, fields.family)),
      ports,
    ]);
  }
  return Buffer.alloc(fields.family === 'unix' ? UNIX_ADDRESSES_LENGTH : 0);
}

function encodeTlv(type: number, value: Uint8Array): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`TLV type ${type} is not a byte`);
  if (value.length > 0xffff) throw new RangeError(`TLV 0x${hex(type, 2)} value of ${value.length} bytes is too long`);
  const tlv = Buffer.alloc(TLV_HEADER_LENGTH + value.length);
  tlv[0] = type;
  tlv.writeUInt16BE(value.length, 1);
  tlv.set(value, TLV_HEADER_LENGTH);
  return tlv;
}

/** The address as Node prints it; throws a RangeError when it is not of the family. */
function canonicalText(address: string, family: 'tcp4' | 'tcp6'): string {
  if (family === 'tcp4') {
    if (!isIPv4(address)) throw new RangeError(`${JSON.stringify(address)} is not an IPv4 address`);
    return address;
  }
  if (!isIPv6Address(address)) throw new RangeError(`${JSON.stringify(address)} is not an IPv6 address`);
  return new SocketAddress({ address, family: 'ipv6' }).address;
}

// Node accepts a zone ("fe80::1%eth0"), which means nothing on the proxy's far side.
function isIPv6Address(text: string): boolean {
  return isIPv6(text) && !text.includes('%');
}

function checkedPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port ${port} out of range`);
  return port;
}

function ipv4Bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** Bytes of a canonical IPv6 address: one "::" at most, maybe a dotted IPv4 tail. */
function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const groupsOf = (text: string): number[] =>
    text === ''
      ? []
      : text.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const front = groupsOf(head);
  const back = tail === undefined ? [] : groupsOf(tail);
  const groups = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(group, i * 2));
  return bytes;
}

function formatIPv4(buffer: Buffer, at: number): string {
  return [...buffer.subarray(at, at + 4)].join('.');
}

function formatIPv6(buffer: Buffer, at: number): string {
  const groups = Array.from({ length: 8 }, (_, i) => buffer.readUInt16BE(at + i * 2).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** Whether the bytes so far agree with `magic`, however few there are. */
function startsLike(buffer: Buffer, magic: Buffer): boolean {
  const n = Math.min(buffer.length, magic.length);
  return buffer.subarray(0, n).equals(magic.subarray(0, n));
}

function hex(value: number, width = 1): string {
  return value.toString(16).padStart(width, '0');
}

function complete(header: ProxyHeader, length: number): ProxyHeaderResult {
  return { status: 'complete', header, length };
}

function invalid(reason: string): { readonly status: 'invalid'; readonly reason: string } {
  return { status: 'invalid', reason };
}
