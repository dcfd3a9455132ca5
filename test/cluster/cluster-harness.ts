import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { exampleFunctionsDir } from '../endpoints/config-fixture.js';
import { freshDatabase } from '../fixture.js';
import { freePort } from '../ports.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const answers = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;

/**
 * One Switchboard process: `node dist/main.js serve`, as an operator runs it; or, from `source`, the same
 * through tsx (for suites of `npm test`, which must pass without a build).
 */
export class Instance {
  process: ChildProcess | null = null;
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly from: 'dist' | 'source' = 'dist',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const entry =
      this.from === 'dist' ? [join(root, 'dist/main.js')] : ['--import', 'tsx', join(root, 'src/main.ts')];
    const child = spawn(process.execPath, [...entry, 'serve'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...this.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const exitedEarly = this.exited.then((code) => {
        throw new Error(`${this.name} exited with ${code} before it was ready`);
      });
      await Promise.race([
        waitFor(() => answers(`${this.url}/readyz`), `${this.name} to be ready`),
        exitedEarly,
      ]);
    } catch (error) {
      // What the process said is the reason; the directory holding its log goes with the cluster.
      const said = readFileSync(this.logFile, 'utf8').slice(-2000);
      throw new Error(`${(error as Error).message}; its log ends with:\n${said}`);
    }
  }

  /** SIGKILL: no shutdown, no lease given back, sockets cut. */
  async kill(): Promise<void> {
    this.process?.kill('SIGKILL');
    await this.exited;
    this.process = null;
  }

  /** SIGTERM: the graceful shutdown (1012 to WebSockets, streams ended, leases given back). */
  async stop(): Promise<number | null> {
    this.process?.kill('SIGTERM');
    const code = await this.exited;
    this.process = null;
    return code;
  }
}

function nginxConfig(dir: string, port: number, upstreams: readonly number[]): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  log_format cluster '$status $request_method $uri $upstream_addr $upstream_status $request_time';
  access_log ${dir}/access.log cluster;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  # A WebSocket upgrade passes Upgrade on; anything else keeps its upstream connection alive.
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream switchboard {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://switchboard;
      # Configuration documents and preference imports may be larger than nginx's 1 MiB default.
      client_max_body_size 8m;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Event streams go out as they are written; a buffered proxy would hold them back.
      proxy_buffering off;
      proxy_request_buffering off;
      # Above the 15 s keep-alive of event streams and WebSocket pings: idle live connections stay open.
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      # A request whose instance is gone goes to another, once, if nothing was sent yet.
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

/** Debian's nginx on loopback in front of the instances: round robin, WebSocket upgrade, SSE unbuffered. */
export class Nginx {
  process: ChildProcess | null = null;
  readonly dir: string;

  constructor(
    readonly binary: string,
    readonly port: number,
    upstreams: readonly number[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-nginx-'));
    // Its workers may run as another user (nobody): they must reach the temporary paths.
    chmodSync(this.dir, 0o755);
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      mkdirSync(join(this.dir, 'tmp', sub), { recursive: true, mode: 0o777 });
      chmodSync(join(this.dir, 'tmp', sub), 0o777);
    }
    writeFileSync(join(this.dir, 'nginx.conf'), nginxConfig(this.dir, port, upstreams));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const check = spawnSync(this.binary, ['-t', '-p', this.dir, '-c', join(this.dir, 'nginx.conf')], {
      encoding: 'utf8',
    });
    if (check.status !== 0) throw new Error(`nginx refused its configuration: ${check.stderr}`);
    this.process = spawn(this.binary, ['-p', this.dir, '-c', join(this.dir, 'nginx.conf')], {
      stdio: 'ignore',
    });
    await waitFor(() => answers(`${this.url}/healthz`), 'nginx');
  }

  /** The statuses nginx answered, one per request (its access log). */
  statuses(): number[] {
    try {
      return readFileSync(join(this.dir, 'access.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => Number(line.split(' ')[0]));
    } catch {
      return [];
    }
  }

  accessLog(): string[] {
    try {
      return readFileSync(join(this.dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.process?.once('exit', resolve));
    this.process?.kill('SIGTERM');
    if (this.process) await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const ADMIN = { username: 'admin', password: 'north-plant-Operator-42' };

/**
 * Three Switchboard processes on one PostgreSQL schema and one Redis key prefix of their own, behind nginx,
 * with the first admin made from a password file. `env` is added to every instance's settings.
 */
export class Cluster {
  readonly instances: Instance[] = [];
  nginx!: Nginx;
  private dir = '';
  private dropDatabase: () => Promise<void> = async () => {};
  functionsDir = '';
  /** The database every instance uses (a schema of its own on PostgreSQL). */
  databaseUrl = '';

  /**
   * `through` may put something between the instances and their services (a proxy a test can cut): it gets
   * the real database and Redis URLs and returns those the instances use.
   */
  static async start(
    env: Record<string, string> = {},
    options: {
      size?: number;
      /** nginx's port, when something must know the public URL before the cluster starts. */
      nginxPort?: number;
      through?: (urls: { database: string; redis: string }) => { database: string; redis: string };
    } = {},
  ): Promise<Cluster> {
    const cluster = new Cluster();
    await cluster.boot(env, options.size ?? 3, options.through ?? ((urls) => urls), options.nginxPort);
    return cluster;
  }

  get url(): string {
    return this.nginx.url;
  }

  private async boot(
    env: Record<string, string>,
    size: number,
    through: (urls: { database: string; redis: string }) => { database: string; redis: string },
    nginxPort?: number,
  ): Promise<void> {
    // Read when a cluster starts: a bench sets them to the machine's services first.
    const redisUrl = process.env.SWITCHBOARD_TEST_REDIS_URL;
    const nginx = process.env.SWITCHBOARD_TEST_NGINX;
    if (!redisUrl || !nginx) throw new Error('the cluster suite needs PostgreSQL, Redis and nginx');
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-cluster-'));
    const database = await freshDatabase();
    this.dropDatabase = database.drop;
    this.databaseUrl = database.url;
    this.functionsDir = exampleFunctionsDir();
    const passwordFile = join(this.dir, 'admin-password');
    writeFileSync(passwordFile, ADMIN.password, { mode: 0o600 });
    const used = through({ database: database.url, redis: redisUrl });
    const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
    const publicPort = nginxPort ?? (await freePort());
    const shared = {
      HOST: '127.0.0.1',
      SWITCHBOARD_PUBLIC_URL: `http://127.0.0.1:${publicPort}`,
      SWITCHBOARD_DATABASE_URL: used.database,
      SWITCHBOARD_REDIS_URL: used.redis,
      SWITCHBOARD_REDIS_KEY_PREFIX: `sb-cluster-${process.pid}-${Date.now()}:`,
      SWITCHBOARD_TRUSTED_PROXIES: '127.0.0.1',
      SWITCHBOARD_ADMIN_PASSWORD_FILE: passwordFile,
      SWITCHBOARD_FUNCTIONS_DIR: this.functionsDir,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      ...env,
    };
    for (const [index, port] of ports.entries()) {
      const name = `instance-${index + 1}`;
      const dataDir = join(this.dir, name);
      mkdirSync(dataDir, { mode: 0o700 });
      this.instances.push(
        new Instance(name, port, { ...shared, SWITCHBOARD_DATA_DIR: dataDir }, join(this.dir, `${name}.log`)),
      );
    }
    // The first one migrates the database; the others find it ready.
    await this.instances[0]?.start();
    await Promise.all(this.instances.slice(1).map((instance) => instance.start()));
    this.nginx = new Nginx(nginx, publicPort, ports);
    await this.nginx.start();
  }

  log(name: string): string {
    try {
      return readFileSync(join(this.dir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    await this.nginx?.stop();
    await Promise.all(this.instances.map((instance) => instance.stop()));
    await this.dropDatabase();
    rmSync(this.functionsDir, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis server of the suite's own (no persistence), which a test may stop and start again. */
export class PrivateRedis {
  process: ChildProcess | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(this.port, '127.0.0.1', () => {
            socket.end();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        }),
      'the private Redis',
    );
  }

  /** Stops it the way a restart does: its data (history, counters) is gone. */
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.process?.once('exit', resolve));
    this.process?.kill('SIGKILL');
    if (this.process) await exited;
    this.process = null;
  }
}

/** The directory of PostgreSQL's server programs on this machine (Debian keeps them out of PATH). */
function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const version = readdirSync(base).sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error(`no PostgreSQL server programs under ${base}`);
  return join(base, version, 'bin');
}

/**
 * A PostgreSQL server of the suite's own, in a temporary directory, which a test may stop and start again
 * (a real restart: every connection closed, new ones refused until it is back). PostgreSQL refuses to run
 * as root, so as root it runs as the `postgres` user.
 */
export class PrivatePostgres {
  process: ChildProcess | null = null;
  private readonly dir: string;

  constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'switchboard-postgres-'));
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private command(program: string, args: string[]): [string, string[]] {
    const path = join(postgresBin(), program);
    if (process.getuid?.() !== 0) return [path, args];
    const owner = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    const group = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    chownSync(this.dir, Number(owner), Number(group));
    return ['setpriv', [`--reuid=${owner}`, `--regid=${group}`, '--clear-groups', path, ...args]];
  }

  async start(): Promise<void> {
    const data = join(this.dir, 'data');
    if (!existsSync(data)) {
      const [program, args] = this.command('initdb', [
        '-D',
        data,
        '-A',
        'trust',
        '-U',
        'postgres',
        '--no-sync',
      ]);
      const made = spawnSync(program, args, { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`initdb failed: ${made.stderr}`);
    }
    const [program, args] = this.command('postgres', [
      '-D',
      data,
      '-p',
      String(this.port),
      '-k',
      this.dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
    ]);
    this.process = spawn(program, args, { stdio: 'ignore' });
    await waitFor(async () => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    }, 'the private PostgreSQL');
  }

  /** A fast shutdown, as a restart begins: sessions are ended, new connections refused. */
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.process?.once('exit', resolve));
    this.process?.kill('SIGINT');
    if (this.process) await exited;
    this.process = null;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
