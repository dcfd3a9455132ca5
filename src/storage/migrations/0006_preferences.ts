import { type Kysely, sql } from 'kysely';
import type { Engine } from '../database.js';

/**
 * One preferences document per user (a JSON column: `json` on PostgreSQL, which keeps the front end's key
 * order as `jsonb` would not; checked text on SQLite), with a version that grows on every write, and the
 * grants that share a user's workspaces, with a count of changes to them. A grant to a user names them by id, so a later account with the
 * same username inherits nothing; rows go with the user they belong to.
 */
export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  await db.schema
    .createTable('preferences')
    .addColumn('user_id', 'varchar(36)', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('document', engine === 'postgres' ? 'json' : 'text', (c) =>
      engine === 'postgres' ? c.notNull() : c.notNull().check(sql`json_valid(document)`),
    )
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('workspace_grants')
    .addColumn('owner_id', 'varchar(36)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('owner_username', 'varchar(64)', (c) => c.notNull())
    .addColumn('workspace', 'varchar(100)', (c) => c.notNull())
    .addColumn('principal_type', 'varchar(8)', (c) => c.notNull())
    // A role, group or username; a user grant matches by grantee_id.
    .addColumn('principal', 'varchar(64)', (c) => c.notNull())
    .addColumn('grantee_id', 'varchar(36)', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('access', 'varchar(8)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('workspace_grants_pk', ['owner_id', 'workspace', 'principal_type', 'principal'])
    .execute();
  await db.schema
    .createIndex('workspace_grants_principal')
    .on('workspace_grants')
    .columns(['principal_type', 'principal'])
    .execute();
  await db.schema
    .createIndex('workspace_grants_grantee')
    .on('workspace_grants')
    .column('grantee_id')
    .execute();

  // A counter every change of grants raises, so a reader's cached library can be checked in one query.
  await db.schema
    .createTable('sharing_state')
    .addColumn('name', 'varchar(32)', (c) => c.primaryKey())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .execute();
  await (db as Kysely<{ sharing_state: { name: string; generation: number } }>)
    .insertInto('sharing_state')
    .values({ name: 'grants', generation: 0 })
    .execute();
}
