import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import ssri from 'ssri';
import { create } from 'tar';

/** What the test registry serves for one version. */
export interface TestRelease {
  tarball: Buffer;
  /** Defaults to the tarball's own sha512. */
  integrity?: string;
  /** Where `dist.tarball` points; default this registry's own URL for it. */
  tarballUrl?: string;
}

/**
 * Builds a gzipped npm tarball under `package/` from files (path → content). `links` adds symbolic links
 * (path → target); `raw` adds entries by path as given (`../x`, `/abs`), which npm never makes.
 */
export async function npmTarball(
  files: Record<string, string | Buffer>,
  extra: { links?: Record<string, string>; raw?: string[] } = {},
): Promise<Buffer> {
  const root = mkdtempSync(join(tmpdir(), 'widget-pack-'));
  try {
    const base = join(root, 'work', 'package');
    mkdirSync(base, { recursive: true });
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(base, path)), { recursive: true });
      writeFileSync(join(base, path), content);
    }
    for (const [path, target] of Object.entries(extra.links ?? {})) symlinkSync(target, join(base, path));
    const entries = ['package'];
    for (const path of extra.raw ?? []) {
      const onDisk = path.startsWith('/') ? path : join(root, 'work', path);
      mkdirSync(dirname(onDisk), { recursive: true });
      writeFileSync(onDisk, 'escaped');
      entries.push(path);
    }
    const chunks: Buffer[] = [];
    const stream = create(
      { gzip: true, cwd: join(root, 'work'), portable: true, preservePaths: true },
      entries,
    );
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export const integrityOf = (data: Buffer) => ssri.fromData(data, { algorithms: ['sha512'] }).toString();

/**
 * An npm-compatible registry on loopback, made by hand for what a real one would never serve: packages with
 * any tarball, integrity or tarball URL; a redirect; a hang; a 500. Counts requests per path.
 */
export class TestRegistry {
  readonly packages = new Map<string, Map<string, TestRelease>>();
  readonly hits = new Map<string, number>();
  /** Paths answered with a redirect to the URL given. */
  readonly redirects = new Map<string, string>();
  /** Paths that never answer. */
  readonly hanging = new Set<string>();
  /** Paths that answer 500. */
  readonly failing = new Set<string>();

  private constructor(
    readonly url: string,
    private readonly server: Server,
  ) {}

  get host(): string {
    return new URL(this.url).host;
  }

  static async start(): Promise<TestRegistry> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const registry = new TestRegistry(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, server);
    server.on('request', (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      registry.hits.set(path, (registry.hits.get(path) ?? 0) + 1);
      if (registry.hanging.has(path)) return;
      if (registry.failing.has(path)) {
        res.writeHead(500).end('{"error":"boom"}');
        return;
      }
      const redirect = registry.redirects.get(path);
      if (redirect) {
        res.writeHead(302, { location: redirect }).end();
        return;
      }
      const tarball = /^\/tarballs\/(.+)\/-\/([^/]+)\.tgz$/.exec(path);
      if (tarball) {
        const release = registry.packages.get(decodeURIComponent(tarball[1] ?? ''))?.get(tarball[2] ?? '');
        if (!release) res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(release.tarball);
        return;
      }
      const name = decodeURIComponent(path.slice(1));
      const versions = registry.packages.get(name);
      if (!versions) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
        return;
      }
      const packument = {
        name,
        versions: Object.fromEntries(
          [...versions].map(([version, release]) => [
            version,
            {
              name,
              version,
              dist: {
                tarball: release.tarballUrl ?? registry.tarballUrl(name, version),
                integrity: release.integrity ?? integrityOf(release.tarball),
              },
            },
          ]),
        ),
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
    });
    return registry;
  }

  tarballUrl(name: string, version: string): string {
    return `${this.url}/tarballs/${encodeURIComponent(name)}/-/${version}.tgz`;
  }

  publish(name: string, version: string, release: TestRelease): void {
    const versions = this.packages.get(name) ?? new Map<string, TestRelease>();
    versions.set(version, release);
    this.packages.set(name, versions);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
