import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely';

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

// biome-ignore lint/suspicious/noExplicitAny: migrations run before any table type holds
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`);
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
