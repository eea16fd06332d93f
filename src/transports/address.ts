// Client addresses as limits count them.
import { isIPv4 } from 'node:net';

/**
 * One client, one key: an IPv4 client of a dual-stack listener ("::ffff:10.0.0.1") is the same
 * client as on an IPv4 listener ("10.0.0.1"), and counts as that for every per-address limit.
 */
export function canonicalAddress(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
