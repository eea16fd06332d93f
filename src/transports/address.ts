// Client addresses as limits count them.
import { BlockList, isIPv4 } from 'node:net';

/**
 * One client, one key: an IPv4 client of a dual-stack listener ("::ffff:10.0.0.1") is the same
 * client as on an IPv4 listener ("10.0.0.1"), and counts as that for every per-address limit.
 */
export function canonicalAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Addresses and CIDR ranges ("10.0.0.0/8", "2001:db8::/32", "::1"), checked beforehand, as a
 * test of one address. An IPv4-mapped IPv6 address matches IPv4 ranges, and the other way round.
 */
export function addressRanges(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return (address) => list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
