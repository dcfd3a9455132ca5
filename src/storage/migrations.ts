import { type Kysely, type Migration, type MigrationResultSet, Migrator, sql } from 'kysely';
import type { Engine, Storage } from './database.js';
import * as instanceSecrets from './migrations/0001_instance_secrets.js';
import * as identity from './migrations/0002_identity.js';
import * as audit from './migrations/0003_audit.js';
import * as endpointConfig from './migrations/0004_endpoint_config.js';
import * as setupTokenHash from './migrations/0005_setup_token_hash.js';
import * as preferences from './migrations/0006_preferences.js';
import * as sso from './migrations/0007_sso.js';
import * as widgets from './migrations/0008_widgets.js';

type Up = (db: Kysely<unknown>, engine: Engine) => Promise<void>;

/** Versioned migrations, in order. Imported statically so they work from src/ and dist/ alike. */
const steps: Record<string, Up> = {
  '0001_instance_secrets': instanceSecrets.up,
  '0002_identity': identity.up,
  '0003_audit': audit.up,
  '0004_endpoint_config': endpointConfig.up,
  '0005_setup_token_hash': setupTokenHash.up,
  '0006_preferences': preferences.up,
  '0007_sso': sso.up,
  '0008_widgets': widgets.up,
};

export const MIGRATION_NAMES: readonly string[] = Object.keys(steps);

function migrationsFor(engine: Engine): Record<string, Migration> {
  return Object.fromEntries(
    Object.entries(steps).map(([name, up]) => [name, { up: (db: Kysely<unknown>) => up(db, engine) }]),
  );
}

export async function migrateToLatest(storage: Pick<Storage, 'db' | 'engine'>): Promise<string[]> {
  const { db } = storage;
  // Kysely looks for its bookkeeping tables in every schema unless told which one; name ours so that
  // databases holding several Switchboard schemas (one per test run, say) keep their histories apart.
  const migrationTableSchema =
    storage.engine === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    migrationTableSchema,
    provider: { getMigrations: async () => migrationsFor(storage.engine) },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`);
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
