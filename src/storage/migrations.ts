import { type Kysely, type Migration, type MigrationResultSet, Migrator, sql } from 'kysely';
import type { Storage } from './database.js';

/** Versioned migrations, in order. Imported statically so they work from src/ and dist/ alike. */
const migrations: Record<string, Migration> = {
  '0001_instance_secrets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('instance_secrets')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('instance_secrets').execute();
    },
  },
};

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
    provider: { getMigrations: async () => migrations },
  });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`);
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
