import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses as numbers, for the address check of endpoints (src/endpoints/hosts.ts): which ones are not
 * on the public internet, and whether a range holds one. An IPv4-mapped IPv6 address (`::ffff:10.0.0.5`)
 * is read as the IPv4 address it connects to, so it is judged and allowed as that address.
 */
export type IpAddress =
  | { readonly family: 4; readonly value: bigint }
  | { readonly family: 6; readonly value: bigint };

const BITS = { 4: 32, 6: 128 } as const;

function ipv4Value(text: string): bigint | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Value(text: string): bigint | undefined {
  if (!isIPv6(text)) return undefined;
  const [head = '', tail] = text.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  const front = groupsOf(head);
  const back = tail === undefined ? [] : groupsOf(tail);
  const last = tail === undefined ? front : back;
  const dotted = last.at(-1);
  if (dotted?.includes('.')) {
    const v4 = ipv4Value(dotted) as bigint;
    last.splice(-1, 1, (v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
  }
  const groups =
    tail === undefined ? front : [...front, ...Array(8 - front.length - back.length).fill('0'), ...back];
  return groups.reduce((value, group) => (value << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** Reads `10.0.0.5`, `::1`, `[::1]` or `fe80::1%eth0` (the zone is dropped); undefined for anything else. */
export function parseAddress(text: string): IpAddress | undefined {
  const v4 = ipv4Value(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v6 = ipv6Value(bare.replace(/%.*$/, ''));
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === MAPPED_PREFIX >> 32n) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** Whether `address` lies in the range of `network` with the first `prefix` bits fixed. */
export function inRange(address: IpAddress, network: IpAddress, prefix: number): boolean {
  if (address.family !== network.family) return false;
  const shift = BigInt(BITS[address.family] - prefix);
  return address.value >> shift === network.value >> shift;
}

/** True when no bit of `network` past `prefix` is set, so the range is exactly what it says. */
export function isNetworkAddress(network: IpAddress, prefix: number): boolean {
  const bits = BITS[network.family];
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return false;
  return (network.value & ((1n << BigInt(bits - prefix)) - 1n)) === 0n;
}

type Special = readonly [network: string, prefix: number, kind: string];

// First match wins: the broadcast address before the reserved range that holds it.
const SPECIAL_V4: readonly Special[] = [
  ['0.0.0.0', 8, 'an unspecified address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.168.0.0', 16, 'a private address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['255.255.255.255', 32, 'the broadcast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];

const SPECIAL_V6: readonly Special[] = [
  ['::', 128, 'an unspecified address'],
  ['::1', 128, 'a loopback address'],
  ['fe80::', 10, 'a link-local address'],
  ['fec0::', 10, 'a site-local address'],
  ['fc00::', 7, 'a unique-local address'],
  ['ff00::', 8, 'a multicast address'],
];

/**
 * IPv6 ranges that carry an IPv4 address a gateway or the host connects to: NAT64 (`64:ff9b::/96`), the
 * deprecated IPv4-compatible form (`::/96`), and 6to4 (`2002::/16`, the address in bits 16 to 48). Each is
 * judged by that IPv4 address.
 */
const EMBEDDING_V4: readonly (readonly [network: string, prefix: number, shift: bigint])[] = [
  ['64:ff9b::', 96, 0n],
  ['::', 96, 0n],
  ['2002::', 16, 80n],
];

const parsed = (list: readonly Special[]) =>
  list.map(([network, prefix, kind]) => ({ network: parseAddress(network) as IpAddress, prefix, kind }));
const SPECIAL = [...parsed(SPECIAL_V4), ...parsed(SPECIAL_V6)];
const EMBEDDING = EMBEDDING_V4.map(([network, prefix, shift]) => ({
  network: parseAddress(network) as IpAddress,
  prefix,
  shift,
}));

/**
 * What kind of address this is when it is not an ordinary public one ("a loopback address", "a private
 * address", …); undefined for an ordinary address.
 */
export function specialKind(address: IpAddress): string | undefined {
  const special = SPECIAL.find(({ network, prefix }) => inRange(address, network, prefix));
  if (special) return special.kind;
  const embedding = EMBEDDING.find(({ network, prefix }) => inRange(address, network, prefix));
  if (embedding) return specialKind({ family: 4, value: (address.value >> embedding.shift) & 0xffffffffn });
  return undefined;
}
