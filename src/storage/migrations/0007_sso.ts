import type { Kysely } from 'kysely';

/**
 * Who an SSO account is at its provider: the issuer and subject of its id tokens, which stay when a
 * username is reassigned there. And what a sign-in may use once only (an OIDC login's state, an MSAL id
 * token), kept until it would have expired anyway; a primary key that every instance races for.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sso_identities')
    .addColumn('provider', 'varchar(16)', (c) => c.notNull())
    .addColumn('issuer', 'varchar(512)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('user_id', 'varchar(36)', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('last_sign_in_at', 'varchar(32)', (c) => c.notNull())
    .addPrimaryKeyConstraint('sso_identities_pk', ['provider', 'issuer', 'subject'])
    .execute();
  await db.schema.createIndex('sso_identities_user').on('sso_identities').column('user_id').execute();

  await db.schema
    .createTable('sso_spent')
    .addColumn('key', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}
