import { AuditService } from '../audit/service.js';
import { resolveSigningSecret } from '../instance/service.js';
import { InstanceStore } from '../instance/store.js';
import type { Settings } from '../settings.js';
import type { Storage } from '../storage/database.js';
import { migrateToLatest } from '../storage/migrations.js';
import { AuthEvents } from './events.js';
import { type AuthKeys, deriveAuthKeys } from './keys.js';
import { PasswordHasher } from './passwords.js';
import { Auth } from './service.js';
import type { TicketStore } from './tickets.js';

export interface AuthOptions {
  /** The clock every expiry is measured against (default Date.now). */
  now?: () => number;
  /** Where connect tickets live (default: this process's memory). */
  ticketStore?: TicketStore;
}

export interface AuthAssembly {
  readonly auth: Auth;
  readonly audit: AuditService;
  /**
   * Migrates the database and resolves the signing secret (SWITCHBOARD_JWT_SECRET, else the one shared
   * through the database), from which the auth keys derive. Returns the secret. Until it resolves, anything
   * that needs the keys throws.
   */
  open(): Promise<Buffer>;
}

/** The identity services on a storage, as the app and the command line both build them. */
export function assembleAuth(settings: Settings, storage: Storage, options: AuthOptions = {}): AuthAssembly {
  const now = options.now ?? Date.now;
  const audit = new AuditService(storage.db, now);
  let authKeys: AuthKeys | undefined;
  const auth = new Auth(
    {
      db: storage.db,
      engine: storage.engine,
      settings,
      keys: () => {
        if (!authKeys) throw new Error('auth keys are available once the app is ready');
        return authKeys;
      },
      audit,
      hasher: new PasswordHasher(),
      events: new AuthEvents(),
      now,
    },
    options.ticketStore,
  );
  return {
    auth,
    audit,
    async open() {
      await migrateToLatest(storage);
      const secret = await resolveSigningSecret(new InstanceStore(storage.db), settings.jwtSecret);
      authKeys = deriveAuthKeys(secret);
      return secret;
    },
  };
}

/** Ready-to-use identity services (for the command line): migrated database, keys derived. */
export async function openAuth(
  settings: Settings,
  storage: Storage,
  options: AuthOptions = {},
): Promise<{ auth: Auth; audit: AuditService }> {
  const { auth, audit, open } = assembleAuth(settings, storage, options);
  await open();
  return { auth, audit };
}
