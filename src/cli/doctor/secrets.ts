import { type SettingsReport, settingSpecs } from '../../settings.js';
import type { Finding } from './check.js';

/** Shorter values are left alone: replacing them would garble the report, and none is shown anyway. */
const SHORTEST = 4;

function passwordOf(connection: string | undefined): string[] {
  if (!connection) return [];
  try {
    const url = new URL(connection);
    const found = [url.password, url.searchParams.get('password') ?? ''].filter(Boolean);
    return found.flatMap((value) => {
      try {
        return [value, decodeURIComponent(value)];
      } catch {
        return [value];
      }
    });
  } catch {
    return [];
  }
}

/**
 * The values the report must never hold: every secret setting (from the environment, and from the
 * settings file when it could be read) and the passwords in the database and Redis URLs.
 */
export function secretValues(
  env: Readonly<Record<string, string | undefined>>,
  report: SettingsReport | undefined,
): string[] {
  const values = settingSpecs.filter((spec) => spec.secret).map((spec) => env[spec.env]);
  for (const reading of report?.readings ?? []) if (reading.spec.secret) values.push(reading.text);
  const database = report?.settings.database;
  values.push(...passwordOf(database?.engine === 'postgres' ? database.url : env.SWITCHBOARD_DATABASE_URL));
  values.push(...passwordOf(report?.settings.redisUrl ?? env.SWITCHBOARD_REDIS_URL));
  const kept = values.filter((value): value is string => value !== undefined && value.length >= SHORTEST);
  // The longest first, so that a secret holding another is hidden whole.
  return [...new Set(kept)].sort((a, b) => b.length - a.length);
}

/**
 * The findings with every secret value replaced. The checks already avoid showing them (URLs without
 * passwords, the Redis URL not at all); this is the backstop for what a driver puts in an error message.
 */
export function hideSecrets(findings: readonly Finding[], secrets: readonly string[]): Finding[] {
  const hide = (text: string) =>
    secrets.reduce((shown, secret) => shown.split(secret).join('(hidden)'), text);
  return findings.map((f) => ({ ...f, finding: hide(f.finding), fix: f.fix === null ? null : hide(f.fix) }));
}
