import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
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
