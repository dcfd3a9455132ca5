import type { IncomingMessage } from 'node:http';
import { isIP, isIPv6 } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

/**
 * `SWITCHBOARD_TRUSTED_PROXIES`: addresses and CIDR blocks (IPv4 or IPv6) of the reverse proxies in front of
 * Switchboard. Undefined when any entry is not one. The list goes to Fastify's `trustProxy`, whose
 * proxy-addr walks X-Forwarded-For from the right and stops at the first hop that is not trusted, so a
 * client cannot choose its address by sending the header itself.
 */
export function parseTrustedProxies(text: string): string[] | undefined {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return undefined;
    if (prefix !== undefined) {
      // A /0 would believe every hop, letting the client name its own address; proxy-addr refuses it too.
      const bits = Number(prefix);
      if (!/^\d{1,3}$/.test(prefix) || bits < 1 || bits > (family === 4 ? 32 : 128)) return undefined;
    }
  }
  return entries;
}

/**
 * The client address of a raw request, by the same rule Fastify applies to `request.ip`: for requests that
 * never reach Fastify's routing, such as WebSocket upgrades.
 */
export function clientAddressOf(trusted: readonly string[]): (request: IncomingMessage) => string {
  if (trusted.length === 0) return (request) => request.socket.remoteAddress ?? '';
  const trust = proxyAddr.compile([...trusted]);
  return (request) => proxyAddr(request, trust);
}

/**
 * The part of a client address that limits and lockouts count by, so they agree on who a client is. IPv6 clients are counted by their /64, the block a single
 * site gets, so rotating through its addresses does not buy a fresh budget; IPv4-mapped addresses count as
 * the IPv4 address they carry.
 */
export function addressKey(ip: string): string {
  // IPv4, the common case, has nothing to normalise.
  if (!ip.includes(':')) return ip;
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
