import { lstat, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { LRUCache } from 'lru-cache';
import mime from 'mime-types';
import { digestOf } from './unpack.js';

/** The ETag of a file whose sha256 (base64url) is `digest`. */
export const etagOf = (digest: string) => `"${digest.slice(0, 27)}"`;

/** One file of a bundle, as it is served. */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** A request path inside a bundle, decoded once, as segments; undefined when it could leave the bundle. */
export function assetSegments(path: string): string[] | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded === '' || decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) return undefined;
  return segments;
}

/**
 * Widget files from disk, the most used kept in memory within a byte budget (least recently used out
 * first). A file is served only from inside its bundle's directory, by its real path, never through a link.
 */
export class AssetCache {
  private readonly memory: LRUCache<string, Asset> | undefined;

  constructor(budgetBytes: number) {
    this.memory =
      budgetBytes > 0
        ? new LRUCache<string, Asset>({
            maxSize: budgetBytes,
            sizeCalculation: (asset) => Math.max(1, asset.body.length),
          })
        : undefined;
  }

  /** The file, if it is in memory. */
  remembered(key: string, segments: readonly string[]): Asset | undefined {
    return this.memory?.get(`${key}\0${segments.join('/')}`);
  }

  /**
   * The file at `segments` under `bundleDir` if its bytes have the sha256 `digest` (base64url) of the
   * approved bundle; `drifted` when they do not; undefined when there is no such plain file.
   */
  async read(
    key: string,
    bundleDir: string,
    segments: readonly string[],
    digest: string,
  ): Promise<Asset | 'drifted' | undefined> {
    const cacheKey = `${key}\0${segments.join('/')}`;
    const known = this.memory?.get(cacheKey);
    if (known) return known;
    const path = join(bundleDir, ...segments);
    let real: string;
    try {
      const stat = await lstat(path);
      if (!stat.isFile()) return undefined;
      real = await realpath(path);
    } catch {
      return undefined;
    }
    const inside = relative(await realpath(bundleDir), real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
      return undefined;
    const body = await readFile(real);
    if (digestOf(body) !== digest) return 'drifted';
    const name = segments[segments.length - 1] ?? '';
    const asset: Asset = {
      body,
      contentType: mime.contentType(name) || 'application/octet-stream',
      etag: etagOf(digest),
    };
    if (this.memory && body.length <= (this.memory.maxSize ?? 0)) this.memory.set(cacheKey, asset);
    return asset;
  }

  /** Forgets every file of a bundle (it was removed, or unpacked again). */
  forget(key: string): void {
    if (!this.memory) return;
    for (const cacheKey of this.memory.keys())
      if (cacheKey.startsWith(`${key}\0`)) this.memory.delete(cacheKey);
  }
}
