import type { Kysely } from 'kysely';

/**
 * Registered widget bundles: what an admin approved, by package and exact version, with the integrity of its
 * tarball and the digest of each file unpacked from it, which every byte served is checked against. The
 * files themselves live in each instance's cache directory.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('widgets')
    .addColumn('package', 'varchar(214)', (c) => c.notNull())
    .addColumn('version', 'varchar(64)', (c) => c.notNull())
    .addColumn('integrity', 'varchar(200)', (c) => c.notNull())
    .addColumn('files', 'integer', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    // JSON: each file's path in the bundle and the sha256 of its bytes, as unpacked from the verified tarball.
    .addColumn('manifest', 'text', (c) => c.notNull())
    .addColumn('registered_by', 'varchar(64)')
    .addColumn('registered_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('widgets_pk', ['package', 'version'])
    .execute();
}
