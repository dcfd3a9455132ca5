import type { Settings } from '../settings.js';
import type { Foundation } from '../start-up.js';
import { AuthCache } from './auth-cache.js';
import { AuthEvents } from './events.js';
import { deriveAuthKeys } from './keys.js';
import { PasswordHasher } from './passwords.js';
import { Auth } from './service.js';
import type { TicketStore } from './tickets.js';

export interface AuthOptions {
  /** The clock every expiry is measured against (default Date.now). */
  now?: () => number;
  /** Where connect tickets live (default: this process's memory). */
  ticketStore?: TicketStore;
}

/**
 * The identity services on an opened foundation, as the app and the command line both build them: its
 * storage is migrated and its secret resolved, so the keys derive here once.
 */
export function assembleAuth(settings: Settings, foundation: Foundation, options: AuthOptions = {}): Auth {
  const keys = deriveAuthKeys(foundation.secret);
  const events = new AuthEvents();
  // First to listen to the events (see AuthCache).
  const cache = new AuthCache(events);
  return new Auth(
    {
      db: foundation.storage.db,
      engine: foundation.storage.engine,
      settings,
      keys: () => keys,
      audit: foundation.audit,
      hasher: new PasswordHasher(),
      events,
      cache,
      now: options.now ?? Date.now,
    },
    options.ticketStore,
  );
}
