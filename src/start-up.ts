import { AuditService } from './audit/service.js';
import { resolveSigningSecret } from './instance/service.js';
import { InstanceStore } from './instance/store.js';
import type { Settings } from './settings.js';
import { openStorage, type Storage } from './storage/database.js';
import { migrateToLatest } from './storage/migrations.js';

/** What every feature stands on, the server's and the command line's alike. */
export interface Foundation {
  /** Open and migrated to the latest schema. */
  readonly storage: Storage;
  /** The migrations this opening applied (none when the database was up to date). */
  readonly migrated: readonly string[];
  /**
   * SWITCHBOARD_JWT_SECRET, else the secret every instance on the database shares (made on the first
   * start): every signature (tokens, cursors) derives from it.
   */
  readonly secret: Buffer;
  readonly audit: AuditService;
}

/**
 * The start-up sequence before any feature: opens the storage, migrates it, resolves the instance secret
 * and builds the audit log. Used by the server (createApp) and by every command of the command line, so
 * they meet the same schema and sign with the same secret. A storage opened here is closed again when a
 * later step fails.
 */
export async function openFoundation(
  settings: Pick<Settings, 'database' | 'databasePoolSize' | 'jwtSecret'>,
  options: {
    /** An already opened storage (a test's); left open on failure, as it is the caller's. */
    storage?: Storage;
    /** Connections to PostgreSQL (default: the setting); the command line needs few. */
    poolSize?: number;
    /** The clock of the audit log (default Date.now). */
    now?: () => number;
  } = {},
): Promise<Foundation> {
  const storage =
    options.storage ?? openStorage(settings.database, options.poolSize ?? settings.databasePoolSize);
  try {
    const migrated = await migrateToLatest(storage);
    const secret = await resolveSigningSecret(new InstanceStore(storage.db), settings.jwtSecret);
    return { storage, migrated, secret, audit: new AuditService(storage.db, options.now) };
  } catch (error) {
    if (!options.storage) await storage.close();
    throw error;
  }
}
