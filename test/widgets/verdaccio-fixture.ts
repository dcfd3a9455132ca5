import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServer } from 'verdaccio';
import { integrityOf, npmTarball } from './registry-fixture.js';

/** One request that went through the counting front to Verdaccio, and what Verdaccio answered. */
export interface ForwardedRequest {
  method: string;
  path: string;
  status: number;
}

/** What a publish sent: the tarball's bytes and the dist fields of its version. */
export interface Published {
  /** Every file of the package by its path under package/, package.json included. */
  files: Record<string, Buffer>;
  tarball: Buffer;
  integrity: string;
  shasum: string;
}

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

const shut = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/**
 * Verdaccio 6 in this process on a loopback port, with a configuration made here: storage and htpasswd in
 * a fresh temporary directory, no uplinks (nothing goes to the network), scoped packages readable by anyone
 * and publishable by a signed-in user. In front of it, on another loopback port, a counting proxy that
 * forwards every request as it came (Host header included, so the tarball URLs Verdaccio writes name the
 * proxy): `url` and `host` are the proxy's, what the app is given; `requests` is what reached Verdaccio.
 */
export class Verdaccio {
  private constructor(
    /** The counting proxy in front of Verdaccio. */
    readonly url: string,
    /** Verdaccio itself. */
    readonly directUrl: string,
    private readonly verdaccio: Server,
    private readonly front: Server,
    private readonly dir: string,
    /** A token of the user made at start, that publishes. */
    private readonly token: string,
    /** What went through the proxy to Verdaccio, in order of Verdaccio's answers. */
    readonly requests: ForwardedRequest[],
  ) {}

  get host(): string {
    return new URL(this.url).host;
  }

  static async start(): Promise<Verdaccio> {
    const dir = mkdtempSync(join(tmpdir(), 'verdaccio-'));
    let verdaccio: Server | undefined;
    let front: Server | undefined;
    try {
      verdaccio = (await runServer({
        self_path: join(dir, 'config.yaml'),
        configPath: join(dir, 'config.yaml'),
        storage: join(dir, 'storage'),
        auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 10 } },
        uplinks: {},
        packages: {
          '@*/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
        },
        web: { enable: false },
        log: { type: 'stdout', format: 'json', level: 'warn' },
      })) as Server;
      const directUrl = `http://127.0.0.1:${await listen(verdaccio)}`;
      const target = new URL(directUrl);
      const requests: ForwardedRequest[] = [];
      front = createServer((req, res) => {
        const upstream = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            requests.push({ method: req.method ?? '', path: req.url ?? '', status: answer.statusCode ?? 0 });
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        upstream.on('error', () => {
          requests.push({ method: req.method ?? '', path: req.url ?? '', status: 502 });
          res.writeHead(502).end();
        });
        req.pipe(upstream);
      });
      const url = `http://127.0.0.1:${await listen(front)}`;
      const token = await adduser(directUrl, 'publisher', 'publisher-password-1');
      return new Verdaccio(url, directUrl, verdaccio, front, dir, token, requests);
    } catch (error) {
      if (front?.listening) await shut(front);
      if (verdaccio?.listening) await shut(verdaccio);
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** GETs of a tarball that Verdaccio answered 200: how many times it served `name@version`'s bytes. */
  tarballServed(name: string, version: string): number {
    const file = `${name.split('/').pop()}-${version}.tgz`;
    return this.requests.filter(
      (r) => r.method === 'GET' && r.status === 200 && r.path.split('?')[0]?.endsWith(`/-/${file}`),
    ).length;
  }

  /**
   * Publishes `name@version` as `npm publish` does: the tarball (package.json and `files` under package/)
   * in `_attachments`, base64, and the version's `dist` with its integrity and shasum; PUT to
   * `/@scope%2fname` with the publisher's token. Throws unless Verdaccio answers 201.
   */
  async publish(name: string, version: string, files: Record<string, string | Buffer>): Promise<Published> {
    const manifest = { name, version, description: `${name} for tests`, main: 'index.js' };
    const packed = Object.fromEntries(
      Object.entries({ 'package.json': JSON.stringify(manifest, null, 2), ...files }).map(
        ([path, content]) => [path, Buffer.from(content)],
      ),
    );
    const tarball = await npmTarball(packed);
    const integrity = integrityOf(tarball);
    const shasum = createHash('sha1').update(tarball).digest('hex');
    const document = {
      _id: name,
      name,
      description: manifest.description,
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          ...manifest,
          _id: `${name}@${version}`,
          dist: { integrity, shasum, tarball: `${this.directUrl}/${name}/-/${name}-${version}.tgz` },
        },
      },
      access: null,
      _attachments: {
        [`${name}-${version}.tgz`]: {
          content_type: 'application/octet-stream',
          data: tarball.toString('base64'),
          length: tarball.length,
        },
      },
    };
    const res = await fetch(`${this.directUrl}/${name.replace('/', '%2f')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify(document),
    });
    if (res.status !== 201)
      throw new Error(`publishing ${name}@${version}: ${res.status} ${await res.text()}`);
    return { files: packed, tarball, integrity, shasum };
  }

  /** The package document as Verdaccio serves it, straight from it (not counted). */
  async metadata(name: string): Promise<{
    versions: Record<string, { dist: { tarball: string; integrity: string; shasum: string } }>;
  }> {
    const res = await fetch(`${this.directUrl}/${name.replace('/', '%2f')}`);
    if (res.status !== 200) throw new Error(`metadata of ${name}: ${res.status} ${await res.text()}`);
    return res.json() as never;
  }

  async close(): Promise<void> {
    await shut(this.front);
    await shut(this.verdaccio);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `npm adduser`: PUT /-/user/org.couchdb.user:<name> makes the user and answers a token for it. */
async function adduser(base: string, name: string, password: string): Promise<string> {
  const res = await fetch(`${base}/-/user/org.couchdb.user:${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, type: 'user', roles: [] }),
  });
  const body = (await res.json()) as { token?: string };
  if (res.status !== 201 || typeof body.token !== 'string') {
    throw new Error(`adduser ${name}: ${res.status} ${JSON.stringify(body)}`);
  }
  return body.token;
}
