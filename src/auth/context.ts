import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/service.js';
import type { Settings } from '../settings.js';
import type { Engine } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import type { AuthCache } from './auth-cache.js';
import type { AuthEvents } from './events.js';
import type { AuthKeys } from './keys.js';
import type { PasswordHasher } from './passwords.js';

/** What every auth service is built from. */
export interface AuthDeps {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  readonly settings: Settings;
  /** Derived from the instance secret, which the start-up sequence resolves before any service is built. */
  readonly keys: () => AuthKeys;
  readonly audit: AuditService;
  readonly hasher: PasswordHasher;
  readonly events: AuthEvents;
  /** Recent reads of authentication, dropped on `events`. */
  readonly cache: AuthCache;
  readonly now: () => number;
}

/** Where a request came from, for sessions and the audit log. */
export interface ClientMeta {
  ip: string | null;
  userAgent: string | null;
}

export const iso = (ms: number) => new Date(ms).toISOString();
