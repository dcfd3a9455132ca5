/**
 * Whether a write failed because a row it refers to is gone (deleted by a transaction that committed
 * meanwhile): PostgreSQL's foreign_key_violation, or SQLite's foreign key constraint.
 */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * Whether a write failed because another transaction committed the same unique key meanwhile:
 * PostgreSQL's unique_violation, or SQLite's unique or primary key constraint.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
