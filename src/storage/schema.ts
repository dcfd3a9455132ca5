/** Tables as Kysely sees them. Times are ISO-8601 UTC text on both engines, so one code path serves both. */
export interface InstanceSecretsTable {
  name: string;
  value: string;
  created_at: string;
}

export interface Database {
  instance_secrets: InstanceSecretsTable;
}
