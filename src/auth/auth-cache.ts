import { RecentCache } from '../platform/recent-cache.js';
import type { ApiKeyRecord } from './api-keys-store.js';
import type { AuthEvents } from './events.js';
import type { SessionRecord } from './sessions-store.js';
import type { UserRecord } from './users-store.js';

/**
 * How long a session, user or API key read serves later requests. The events that end live streams drop
 * entries at once, here and (relayed by src/auth/redis-events.ts) on every other instance; the expiry is the
 * backstop for changes no event announces here: those of the command line, another process that reaches
 * the servers only through the database, or an event Redis did not carry. Half a second keeps every such
 * change honoured within the one second revocation is promised in, the read itself included.
 */
export const AUTH_CACHE_TTL_MS = 500;
/** Per kind; far above the sessions and keys in use at once, and small in memory (a few MB at most). */
const MAX_ENTRIES = 10_000;

/**
 * What authenticating a request reads from the database, remembered briefly so that a burst of requests
 * with one credential reads it once. Only the non-transactional reads of authentication go through it:
 * every write and every check inside a transaction reads the tables.
 */
export class AuthCache {
  readonly sessions: RecentCache<string, SessionRecord>;
  /** With their groups. */
  readonly users: RecentCache<string, UserRecord>;
  /** By the key's HMAC, as a request presents it. */
  readonly apiKeys: RecentCache<string, ApiKeyRecord>;

  /**
   * Build it before anything else listens to `events`: listeners run in the order they were added, and one
   * that re-authenticates (live streams do, on user.changed) must not be served the entry being dropped.
   */
  constructor(events: AuthEvents, ttlMs = AUTH_CACHE_TTL_MS) {
    this.sessions = new RecentCache(ttlMs, MAX_ENTRIES);
    this.users = new RecentCache(ttlMs, MAX_ENTRIES);
    this.apiKeys = new RecentCache(ttlMs, MAX_ENTRIES);
    events.on('session.ended', ({ sessionId }) => this.sessions.drop(sessionId));
    events.on('user.changed', ({ userId }) => this.users.drop(userId));
    // The event names the key by id, not by the HMAC it is remembered under; revocations are rare.
    events.on('api_key.revoked', () => this.apiKeys.clear());
  }
}
