import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Manifest, type Unpacked, unpack } from './unpack.js';

/**
 * Unpacked bundles on this instance's disk: `<cache dir>/<package, percent-encoded>/<version>/`. A bundle
 * is unpacked into a staging directory beside them and renamed into place whole, so a reader never sees
 * half of one and a failure leaves nothing.
 */
export class BundleDirs {
  constructor(private readonly root: string) {}

  dirOf(pkg: string, version: string): string {
    return join(this.root, encodeURIComponent(pkg), version);
  }

  async has(pkg: string, version: string): Promise<boolean> {
    try {
      return (await stat(this.dirOf(pkg, version))).isDirectory();
    } catch {
      return false;
    }
  }

  /** Unpacks a verified tarball into place (replacing what was there); nothing stays behind on failure. */
  async install(
    pkg: string,
    version: string,
    tarball: Buffer,
    maxBytes: number,
  ): Promise<Unpacked & { manifest: Manifest }> {
    const staging = join(this.root, `.staging-${randomBytes(8).toString('hex')}`);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    try {
      const unpacked = await unpack(tarball, staging, maxBytes);
      const target = this.dirOf(pkg, version);
      await mkdir(join(target, '..'), { recursive: true, mode: 0o700 });
      await rm(target, { recursive: true, force: true });
      await rename(staging, target);
      return unpacked;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async remove(pkg: string, version: string): Promise<void> {
    await rm(this.dirOf(pkg, version), { recursive: true, force: true });
  }
}
