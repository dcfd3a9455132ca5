import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { orUnavailable } from '../platform/redis.js';
import type { IssuedTicket, TicketGrant, TicketStore } from './tickets.js';

/**
 * Per user, a sorted set of pending ticket hashes scored by when they lapse (Redis's clock); a ticket is
 * stored only if fewer than the cap are pending, both in one step so two instances cannot both take the
 * last place.
 */
const ISSUE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`;

/** Milliseconds until the soonest pending ticket lapses, 0 when none is pending. */
const NEXT_EXPIRY = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local soonest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #soonest == 0 then return 0 end
return math.max(0, tonumber(soonest[2]) - now)
`;

type Scripted = Redis & {
  ticketIssue(
    pendingKey: string,
    ticketKey: string,
    ttlMs: number,
    max: number,
    grant: string,
    hash: string,
  ): Promise<number>;
  ticketNextExpiry(pendingKey: string): Promise<number>;
};

const fingerprint = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/** Connect tickets in Redis, so a ticket issued by one instance is redeemed on any. Keyed by a hash of the ticket. */
export class RedisTicketStore implements TicketStore {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly now: () => number = Date.now,
  ) {
    redis.defineCommand('ticketIssue', { numberOfKeys: 2, lua: ISSUE });
    redis.defineCommand('ticketNextExpiry', { numberOfKeys: 1, lua: NEXT_EXPIRY });
    this.redis = redis as Scripted;
  }

  async issue(grant: TicketGrant, ttlMs: number, maxPending: number): Promise<IssuedTicket | null> {
    const ticket = randomBytes(32).toString('base64url');
    const hash = fingerprint(ticket);
    const stored = JSON.stringify({ userId: grant.userId, sessionId: grant.sessionId });
    const issued = await orUnavailable(
      'connect tickets',
      this.redis.ticketIssue(pendingKey(grant.userId), ticketKey(hash), ttlMs, maxPending, stored, hash),
    );
    return issued === 1 ? { ticket, expiresAt: this.now() + ttlMs } : null;
  }

  async redeem(ticket: string): Promise<TicketGrant | null> {
    const hash = fingerprint(ticket);
    // GETDEL makes it single use however many instances race for it; the pending entry is bookkeeping.
    const stored = await orUnavailable('connect tickets', this.redis.getdel(ticketKey(hash)));
    if (stored === null) return null;
    const grant = JSON.parse(stored) as TicketGrant;
    await this.redis.zrem(pendingKey(grant.userId), hash).catch(() => {});
    return { userId: grant.userId, sessionId: grant.sessionId };
  }

  async nextExpiry(userId: string): Promise<number> {
    return orUnavailable('connect tickets', this.redis.ticketNextExpiry(pendingKey(userId)));
  }
}

const ticketKey = (hash: string) => `ticket:${hash}`;
const pendingKey = (userId: string) => `tickets:${userId}`;
