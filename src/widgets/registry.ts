import ssri from 'ssri';
import { type FetchLimits, fetchAllowed, registryFailed, WidgetRefusal } from './fetch.js';

/** A package's metadata can be far larger than one of its tarballs (every version is listed). */
const METADATA_MAX_BYTES = 32 * 1024 * 1024;
const METADATA_TYPES = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8';

/** What the registry says of one version: where its tarball is and what it must hash to. */
export interface Release {
  readonly tarball: string;
  /** The sha512 Subresource Integrity string (`dist.integrity`). */
  readonly integrity: string;
}

/** An npm-compatible registry, read through the allowed hosts only. */
export class Registry {
  constructor(
    private readonly url: string,
    private readonly limits: FetchLimits,
  ) {}

  /** The release of `pkg@version`: 422 when the registry has no such version or no sha512 integrity for it. */
  async release(pkg: string, version: string): Promise<Release> {
    // A scoped name travels as one path segment: @scope%2fname.
    const where = `${this.url}/${pkg.replace('/', '%2f')}`;
    const answer = await fetchAllowed(
      where,
      {
        ...this.limits,
        maxBytes: METADATA_MAX_BYTES,
        maxBytesSetting: 'the most metadata Switchboard reads',
      },
      METADATA_TYPES,
    );
    if (answer.status === 404) {
      throw new WidgetRefusal('not_found', `the registry has no package ${pkg}`);
    }
    if (answer.status !== 200) throw registryFailed(`metadata of ${pkg} answered ${answer.status}`, false);
    let metadata: { versions?: Record<string, { dist?: { tarball?: unknown; integrity?: unknown } }> };
    try {
      metadata = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw registryFailed(`the metadata of ${pkg} is not JSON`, false);
    }
    const dist = metadata.versions?.[version]?.dist;
    if (!dist)
      throw new WidgetRefusal('not_found', `the registry has no version ${version} of ${pkg}`, '/version');
    if (typeof dist.tarball !== 'string') throw registryFailed(`${pkg}@${version} names no tarball`, false);
    const integrity = typeof dist.integrity === 'string' ? strongest(dist.integrity) : undefined;
    if (integrity === undefined) {
      throw new WidgetRefusal(
        'no_integrity',
        `the registry gives ${pkg}@${version} no sha512 integrity, so what it serves could not be checked`,
        '/version',
      );
    }
    return { tarball: dist.tarball, integrity };
  }

  /** The tarball of a release, refused unless its bytes have the integrity given (the one stored, on a re-fetch). */
  async tarball(release: Release): Promise<Buffer> {
    const answer = await fetchAllowed(release.tarball, this.limits, 'application/octet-stream');
    if (answer.status !== 200) throw registryFailed(`the tarball answered ${answer.status}`, false);
    if (!ssri.checkData(answer.body, release.integrity)) {
      throw new WidgetRefusal(
        'integrity_mismatch',
        `the tarball does not match its integrity ${release.integrity.slice(0, 20)}…: nothing was kept`,
      );
    }
    return answer.body;
  }
}

/** The sha512 entries of an SRI string, as one string; undefined when it has none. */
export function strongest(integrity: string): string | undefined {
  const parsed = ssri.parse(integrity);
  const sha512 = parsed.sha512;
  if (!sha512 || sha512.length === 0) return undefined;
  return sha512.map((hash) => hash.toString()).join(' ');
}
