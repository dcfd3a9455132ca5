import semver from 'semver';

/** Versions are strict semantic versions (`1.4.2`, `2.0.0-rc.1`), compared by semver precedence. */
export function isVersion(text: string): boolean {
  return text.length <= 64 && semver.valid(text) === text;
}

export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

/** The next patch after the highest of `versions`; 1.0.0 when there is none. */
export function nextPatch(versions: readonly string[]): string {
  if (versions.length === 0) return '1.0.0';
  const highest = [...versions].sort(compareVersions).at(-1) as string;
  return semver.inc(highest, 'patch') ?? '1.0.0';
}
