import type { Kysely } from 'kysely';

/**
 * Saved versions of the endpoint configuration, the one state row that says which is active, which last
 * loaded cleanly and whether the last activation failed, and the leases that let one instance of a
 * cluster run each stream's producer.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('config_versions')
    .addColumn('version', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(36)')
    .addColumn('created_by_name', 'varchar(64)')
    .addColumn('message', 'varchar(1000)')
    .execute();

  await db.schema
    .createTable('config_state')
    .addColumn('name', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('active_version', 'varchar(64)')
    .addColumn('last_good_version', 'varchar(64)')
    .addColumn('recovery', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('recovery_version', 'varchar(64)')
    .addColumn('recovery_reason', 'text')
    .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('producer_leases')
    .addColumn('stream', 'varchar(80)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(64)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}
