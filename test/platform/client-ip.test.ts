import { randomInt } from 'node:crypto';
import fc from 'fast-check';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { addressKey, parseTrustedProxies } from '../../src/platform/client-ip.js';
import { ok } from '../../src/platform/envelope.js';
import { errorCode } from '../client.js';
import { startTestApp, type TestApp } from '../fixture.js';

const whoami: FastifyPluginAsync = async (app) => {
  app.get('/whoami', { config: { access: { public: true } } }, async (request) => ok({ ip: request.ip }));
};

const BUDGET = 3;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** An app whose unauthenticated tier allows BUDGET requests per client address. */
async function start(trustedProxies?: string): Promise<TestApp> {
  t = await startTestApp({
    env: {
      SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: String(BUDGET),
      ...(trustedProxies ? { SWITCHBOARD_TRUSTED_PROXIES: trustedProxies } : {}),
    },
    routes: whoami,
  });
  return t;
}

const randomIPv4 = () => Array.from({ length: 4 }, () => randomInt(1, 255)).join('.');

/** An unauthenticated API call (a 401 while the budget lasts) that claims to come via `forwardedFor`. */
async function spend(app: TestApp, forwardedFor?: string) {
  const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  return app.client().call('/api/v1/auth/me', { headers });
}

async function expectBudgetLeft(app: TestApp, forwardedFor?: string) {
  const res = await spend(app, forwardedFor);
  expect(res.status, `${forwardedFor} should still have budget`).toBe(401);
}

async function expectRefused(app: TestApp, forwardedFor?: string) {
  const res = await spend(app, forwardedFor);
  expect(res.status, `${forwardedFor} should be out of budget`).toBe(429);
  expect(errorCode(res)).toBe(5000);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

async function ipSeen(app: TestApp, headers: Record<string, string>): Promise<string> {
  const res = await app.client().call('/api/v1/whoami', { headers });
  expect(res.status).toBe(200);
  return res.body.data.ip;
}

describe('without trusted proxies', () => {
  it('never lets a forged X-Forwarded-For change the rate-limit key', async () => {
    const app = await start();
    for (let i = 0; i < BUDGET; i++) await expectBudgetLeft(app, randomIPv4());
    await expectRefused(app, randomIPv4());
    await expectRefused(app);
  });

  it('takes the socket peer as the client whatever forwarding headers say', async () => {
    const app = await start();
    const ip = await ipSeen(app, {
      'x-forwarded-for': '203.0.113.7',
      'x-real-ip': '203.0.113.8',
      forwarded: 'for=203.0.113.9',
    });
    expect(ip).toBe('127.0.0.1');
  });
});

describe('behind a trusted proxy', () => {
  it('takes the rightmost hop that is not trusted as the client', async () => {
    const app = await start('127.0.0.1');
    expect(await ipSeen(app, { 'x-forwarded-for': '203.0.113.7' })).toBe('203.0.113.7');
    expect(await ipSeen(app, { 'x-forwarded-for': '192.0.2.1, 203.0.113.7' })).toBe('203.0.113.7');
    // 10.1.2.3 is not trusted here, so it is the client.
    expect(await ipSeen(app, { 'x-forwarded-for': '203.0.113.7, 10.1.2.3' })).toBe('10.1.2.3');
    expect(await ipSeen(app, {})).toBe('127.0.0.1');
  });

  it('gives each forwarded client its own budget', async () => {
    const app = await start('127.0.0.1');
    for (let i = 0; i < BUDGET; i++) await expectBudgetLeft(app, '203.0.113.7');
    await expectRefused(app, '203.0.113.7');
    await expectBudgetLeft(app, '198.51.100.9');
    await expectBudgetLeft(app);
  });

  it('ignores the client-supplied left part of X-Forwarded-For', async () => {
    const app = await start('127.0.0.1');
    const forged = '192.0.2.66';
    for (let i = 0; i < BUDGET; i++) await expectBudgetLeft(app, `${forged}, 203.0.113.7`);
    await expectRefused(app, `${forged}, 203.0.113.7`);
    await expectRefused(app, `${randomIPv4()}, 203.0.113.7`);
    await expectRefused(app, '203.0.113.7');
    // None of those requests were counted against the forged address.
    await expectBudgetLeft(app, forged);
  });

  it('skips every trusted hop, CIDR blocks included', async () => {
    const app = await start('127.0.0.1,10.0.0.0/8');
    expect(await ipSeen(app, { 'x-forwarded-for': '203.0.113.7, 10.1.2.3' })).toBe('203.0.113.7');
    await expectBudgetLeft(app, '203.0.113.7, 10.1.2.3');
    await expectBudgetLeft(app, '192.0.2.66, 203.0.113.7, 10.200.0.1');
    await expectRefused(app, '203.0.113.7');
    await expectBudgetLeft(app, '198.51.100.9, 10.1.2.3');
  });

  it('counts IPv6 clients by their /64', async () => {
    const app = await start('127.0.0.1');
    expect(await ipSeen(app, { 'x-forwarded-for': '2001:db8:5:6::1' })).toBe('2001:db8:5:6::1');
    await expectBudgetLeft(app, '2001:db8:1:2::1');
    await expectBudgetLeft(app, '2001:db8:1:2::ffff');
    await expectBudgetLeft(app, '2001:db8:1:2:ffff:ffff:ffff:ffff');
    await expectRefused(app, '2001:0db8:0001:0002:0000:0000:0000:0002');
    await expectBudgetLeft(app, '2001:db8:1:3::1');
  });
});

describe('addressKey', () => {
  it.each([
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::ffff', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['2001:db8:1:2:3:4:1.2.3.4', '2001:db8:1:2::/64'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::ffff:102:304', '1.2.3.4'],
    ['0:0:0:0:0:FFFF:0A00:0001', '10.0.0.1'],
    ['::FFFF:203.0.113.7', '203.0.113.7'],
    ['203.0.113.7', '203.0.113.7'],
  ])('keys %s as %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });

  const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });

  it('gives the full and the compressed form of an address the key of its first 64 bits', () => {
    fc.assert(
      fc.property(groups, (g) => {
        const full = g.map((n) => n.toString(16).padStart(4, '0')).join(':');
        const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        const key = `${g
          .slice(0, 4)
          .map((n) => n.toString(16))
          .join(':')}::/64`;
        expect(addressKey(full)).toBe(key);
        expect(addressKey(compressed)).toBe(key);
      }),
    );
  });
});

describe('parseTrustedProxies', () => {
  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6();

  /** Fastify hands the list to proxy-addr, which throws on anything it cannot use. */
  const fastifyAccepts = (list: string[]) => {
    Fastify({ trustProxy: list });
    return true;
  };

  it('accepts every IPv4 address and CIDR block /1 to /32, as Fastify does', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(ipv4, fc.integer({ min: 1, max: 32 })), { minLength: 1 }), (blocks) => {
        const list = blocks.map(([address, bits]) => `${address}/${bits}`);
        expect(parseTrustedProxies(list.join(', '))).toEqual(list);
        expect(fastifyAccepts(list)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(ipv4, (address) => {
        expect(parseTrustedProxies(address)).toEqual([address]);
      }),
    );
  });

  it('accepts every IPv6 address and CIDR block /1 to /128, as Fastify does', () => {
    fc.assert(
      fc.property(ipv6, fc.integer({ min: 1, max: 128 }), (address, bits) => {
        expect(parseTrustedProxies(`${address}/${bits}`)).toEqual([`${address}/${bits}`]);
        expect(fastifyAccepts([`${address}/${bits}`])).toBe(true);
      }),
    );
  });

  it('refuses IPv4 prefixes over 32 and IPv6 prefixes over 128 anywhere in the list', () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 33, max: 9999 }), (address, bits) => {
        expect(parseTrustedProxies(`10.0.0.0/8,${address}/${bits}`)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(ipv6, fc.integer({ min: 129, max: 9999 }), (address, bits) => {
        expect(parseTrustedProxies(`${address}/${bits}`)).toBeUndefined();
      }),
    );
  });

  it.each([
    '0.0.0.0/0',
    '::/0',
    '10.0.0.0/8/8',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/255.0.0.0',
    '10.0.0.256',
    'proxy.internal',
    '127.0.0.1, nonsense',
  ])('refuses %s', (text) => {
    expect(parseTrustedProxies(text)).toBeUndefined();
  });

  it('reads an empty list as trusting no proxy', () => {
    expect(parseTrustedProxies('')).toEqual([]);
    expect(parseTrustedProxies(' , ')).toEqual([]);
  });
});
