import { isIPv6 } from 'node:net';

/**
 * The part of a client address a limit counts by. IPv6 clients are counted by their /64, the block a single
 * site gets, so rotating through its addresses does not buy a fresh budget; IPv4-mapped addresses count as
 * the IPv4 address they carry.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const groups = expandIPv6(ip);
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    // ::ffff:102:304 is 1.2.3.4 written in hex.
    const [high = 0, low = 0] = groups.slice(6).map((g) => Number.parseInt(g, 16));
    return [high >> 8, high & 255, low >> 8, low & 255].join('.');
  }
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIPv6(ip: string): string[] {
  const [head = '', tail] = ip.split('%')[0]?.split('::') ?? [''];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - left.length - right.length;
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, missing)).fill('0'), ...right];
  return groups.map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16)));
}
