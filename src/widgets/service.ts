import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import semver from 'semver';
import type { AuditContext, AuditService } from '../audit/service.js';
import { AppError, ErrorCode, invalidField, notFound } from '../platform/problem.js';
import { RecentCache } from '../platform/recent-cache.js';
import type { Database } from '../storage/schema.js';
import { type Asset, AssetCache, assetSegments, etagOf } from './assets.js';
import { BundleDirs } from './bundles.js';
import { registryFailed, WidgetRefusal } from './fetch.js';
import { Registry } from './registry.js';
import type { WidgetSettings } from './settings.js';
import { type WidgetRecord, WidgetsStore } from './store.js';
import { manifestOf } from './unpack.js';

/** `@scope/name` as npm writes it: lower case, URL-safe, at most 214 characters. */
const PACKAGE = /^(@[a-z0-9][a-z0-9._-]*)\/[a-z0-9][a-z0-9._-]*$/;

/** A bundle that cannot be fetched again is not asked for again before this. */
const RESTORE_RETRY_MS = 60_000;

/** Why a registration failed, for the audit log. */
function reasonOf(error: unknown): string {
  if (error instanceof WidgetRefusal) return error.reason;
  if (
    error instanceof AppError &&
    (error.code === ErrorCode.upstream || error.code === ErrorCode.upstreamTimeout)
  ) {
    return 'registry_failed';
  }
  return 'error';
}

/** A file's approved digest, by its own key only: a file named `constructor` is not Object's. */
function digestIn(manifest: Readonly<Record<string, string>>, path: string): string | undefined {
  const digest = Object.hasOwn(manifest, path) ? manifest[path] : undefined;
  return typeof digest === 'string' ? digest : undefined;
}

/** How one bundle on disk compares with what was approved (`switchboard widgets verify`). */
export interface BundleCheck {
  name: string;
  cached: boolean;
  changed: string[];
  missing: string[];
  added: string[];
}

/** A file of an approved bundle: its ETag at once, its bytes on demand. */
export interface ApprovedFile {
  readonly etag: string;
  read(): Promise<Asset>;
}

export interface Registration {
  widget: WidgetRecord;
  /** False when it was registered already: the answer is then 200, not 201. */
  created: boolean;
}

/**
 * The widget registry's rules: which bundles may be registered (allowed scopes, exact versions), how they are
 * fetched and checked (allowed hosts, size, sha512 integrity, safe unpacking), one fetch per bundle however
 * many ask at once, and the files served only from bundles that were registered, as they were verified.
 */
export class WidgetsService {
  private readonly dirs: BundleDirs;
  private readonly assets: AssetCache;
  private readonly registry: Registry | undefined;
  /** Bundles being fetched on this instance, by `package@version`. */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Registered bundles looked up lately, by `package@version`. */
  private readonly registered = new RecentCache<string, WidgetRecord>(2000, 1000);
  /** Bundles that could not be fetched again lately, and why. */
  private readonly failedRestores = new Map<string, { error: unknown; until: number }>();

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      audit: AuditService;
      settings: WidgetSettings;
      log: FastifyBaseLogger;
      now: () => number;
    },
  ) {
    const { settings } = deps;
    this.dirs = new BundleDirs(settings.cacheDir);
    this.assets = new AssetCache(settings.memoryBytes);
    this.registry =
      settings.registry === undefined
        ? undefined
        : new Registry(settings.registry, {
            allowedHosts: settings.allowedHosts,
            timeoutMs: settings.timeoutMs,
            maxBytes: settings.maxBytes,
          });
  }

  async list(): Promise<(WidgetRecord & { cached: boolean })[]> {
    const widgets = await new WidgetsStore(this.deps.db).list();
    return Promise.all(
      widgets.map(async (w) => ({ ...w, cached: await this.dirs.has(w.package, w.version) })),
    );
  }

  /** Registers `pkg@version` (idempotent): fetched, verified and unpacked before its row is written. */
  async register(pkg: string, version: string, context: AuditContext): Promise<Registration> {
    const registry = this.registry;
    if (!registry) {
      throw new AppError(
        ErrorCode.conflict,
        'widget registration is off: set SWITCHBOARD_WIDGETS_REGISTRY to the npm registry bundles come from',
      );
    }
    this.checkName(pkg, version);
    const store = new WidgetsStore(this.deps.db);
    const known = await store.find(pkg, version);
    if (known) return { widget: known, created: false };
    const key = `${pkg}@${version}`;
    // Who joins a registration in flight gets its bundle as one registered already.
    const joined = this.inFlight.has(key);
    const outcome = await this.once(key, async (): Promise<Registration> => {
      const again = await store.find(pkg, version);
      if (again) return { widget: again, created: false };
      let unpacked: { files: number; size: number; manifest: Record<string, string> };
      let integrity: string;
      try {
        const release = await registry.release(pkg, version);
        integrity = release.integrity;
        unpacked = await this.dirs.install(
          pkg,
          version,
          await registry.tarball(release),
          this.deps.settings.maxBytes,
        );
      } catch (error) {
        await this.deps.audit.record(context, {
          type: 'widget.registered',
          outcome: 'failure',
          target: { type: 'widget', id: `${pkg}@${version}` },
          detail: {
            reason: reasonOf(error),
            message: (error as Error).message,
          },
        });
        throw error;
      }
      const widget: WidgetRecord = {
        package: pkg,
        version,
        integrity,
        files: unpacked.files,
        size: unpacked.size,
        manifest: unpacked.manifest,
        registeredBy: context.actor?.username ?? null,
        registeredAt: new Date(this.deps.now()).toISOString(),
      };
      try {
        const created = await this.deps.db.transaction().execute(async (trx) => {
          const inserted = await new WidgetsStore(trx).insert(widget);
          if (inserted) {
            await this.deps.audit.record(
              context,
              {
                type: 'widget.registered',
                outcome: 'success',
                target: { type: 'widget', id: `${pkg}@${version}` },
                detail: { integrity, files: widget.files, size: widget.size },
              },
              trx,
            );
          }
          return inserted;
        });
        this.assets.forget(`${pkg}@${version}`);
        if (!created) return { widget: (await store.find(pkg, version)) ?? widget, created: false };
        return { widget, created: true };
      } catch (error) {
        await this.dirs.remove(pkg, version);
        throw error;
      }
    });
    return joined ? { widget: outcome.widget, created: false } : outcome;
  }

  async remove(pkg: string, version: string, context: AuditContext): Promise<void> {
    const removed = await this.deps.db.transaction().execute(async (trx) => {
      const deleted = await new WidgetsStore(trx).delete(pkg, version);
      if (deleted) {
        await this.deps.audit.record(
          context,
          {
            type: 'widget.removed',
            outcome: 'success',
            target: { type: 'widget', id: `${pkg}@${version}` },
          },
          trx,
        );
      }
      return deleted;
    });
    if (!removed) throw notFound(`widget ${pkg}@${version}`);
    this.registered.drop(`${pkg}@${version}`);
    await this.dirs.remove(pkg, version);
    this.assets.forget(`${pkg}@${version}`);
  }

  /**
   * A file of a registered bundle, by its path in it, or undefined for anything else (an unknown bundle or
   * file, a path that would leave the bundle). Its ETag is known at once, from the digest kept at
   * registration; its bytes are read on demand: from memory, else from disk, where a bundle missing (or
   * differing from what was approved) is fetched again and checked against the integrity stored then.
   */
  async file(pkg: string, version: string, path: string): Promise<ApprovedFile | undefined> {
    const segments = assetSegments(path);
    if (!segments) return undefined;
    const key = `${pkg}@${version}`;
    // Remembered two seconds: a bundle removed on another instance stops being served within them.
    const widget = await this.registered.get(key, () => new WidgetsStore(this.deps.db).find(pkg, version));
    // Only the files of the approved bundle, by their path in it: nothing else on disk is ever reached.
    const digest = widget && digestIn(widget.manifest, segments.join('/'));
    if (!widget || digest === undefined) return undefined;
    return { etag: etagOf(digest), read: () => this.read(widget, segments, digest) };
  }

  private async read(widget: WidgetRecord, segments: string[], digest: string): Promise<Asset> {
    const { package: pkg, version } = widget;
    const key = `${pkg}@${version}`;
    const remembered = this.assets.remembered(key, segments);
    if (remembered) return remembered;
    if (!(await this.dirs.has(pkg, version))) await this.restoreOrFail(widget);
    let asset = await this.assets.read(key, this.dirs.dirOf(pkg, version), segments, digest);
    if (asset === 'drifted' || asset === undefined) {
      // The copy on disk is not what was approved (changed or lost since): unpacked again from the registry.
      this.deps.log.warn(
        { widget: key, file: segments.join('/') },
        'a cached widget file differs from its bundle; fetching the bundle again',
      );
      await this.restoreOrFail(widget, true);
      asset = await this.assets.read(key, this.dirs.dirOf(pkg, version), segments, digest);
      if (asset === 'drifted' || asset === undefined) {
        throw registryFailed(
          `${key}: the bundle fetched again does not hold ${segments.join('/')} as approved`,
          false,
        );
      }
    }
    return asset;
  }

  /** `restore`, where a refusal of what the registry serves now is its failure (502): never served. */
  private async restoreOrFail(widget: WidgetRecord, replace = false): Promise<void> {
    await this.restore(widget, replace).catch((error: unknown) => {
      if (error instanceof WidgetRefusal) {
        throw registryFailed(`${widget.package}@${widget.version}: ${error.message}`, false);
      }
      throw error;
    });
  }

  /**
   * Every registered bundle's files on this instance's disk against the digests kept at registration: what
   * changed, what is missing and what was added. A bundle not on disk is reported as not cached.
   */
  async verify(): Promise<BundleCheck[]> {
    const checks: BundleCheck[] = [];
    for (const widget of await new WidgetsStore(this.deps.db).list()) {
      const name = `${widget.package}@${widget.version}`;
      if (!(await this.dirs.has(widget.package, widget.version))) {
        checks.push({ name, cached: false, changed: [], missing: [], added: [] });
        continue;
      }
      let onDisk: Record<string, string>;
      try {
        onDisk = await manifestOf(this.dirs.dirOf(widget.package, widget.version));
      } catch (error) {
        checks.push({ name, cached: true, changed: [(error as Error).message], missing: [], added: [] });
        continue;
      }
      const approved = widget.manifest;
      checks.push({
        name,
        cached: true,
        changed: Object.keys(approved).filter(
          (path) => Object.hasOwn(onDisk, path) && onDisk[path] !== approved[path],
        ),
        missing: Object.keys(approved).filter((path) => !Object.hasOwn(onDisk, path)),
        added: Object.keys(onDisk).filter((path) => !Object.hasOwn(approved, path)),
      });
    }
    return checks;
  }

  /** Fetches again every registered bundle missing from this instance's disk; failures are logged. */
  async prewarm(): Promise<void> {
    for (const widget of await new WidgetsStore(this.deps.db).list()) {
      if (await this.dirs.has(widget.package, widget.version)) continue;
      await this.restore(widget).catch((error: Error) =>
        this.deps.log.warn(
          { widget: `${widget.package}@${widget.version}`, reason: error.message },
          'a registered widget bundle could not be fetched again; it will be tried on its first request',
        ),
      );
    }
  }

  /**
   * Fetches a registered bundle again, verified against its stored integrity (not the registry's word now),
   * when it is not on disk or, with `replace`, over what is there. Under the bundle's one-at-a-time lock, so
   * concurrent requests share one fetch; a failure is remembered for a while, so that a registry serving
   * other bytes is not asked again on every request.
   */
  private async restore(widget: WidgetRecord, replace = false): Promise<void> {
    const registry = this.registry;
    if (!registry) {
      throw new AppError(
        ErrorCode.unavailable,
        `widget ${widget.package}@${widget.version} is not in this instance's cache and no registry is set to fetch it from`,
      );
    }
    const key = `${widget.package}@${widget.version}`;
    await this.once(key, async () => {
      if (!replace && (await this.dirs.has(widget.package, widget.version))) return;
      const failed = this.failedRestores.get(key);
      if (failed && failed.until > this.deps.now()) throw failed.error;
      try {
        const release = await registry.release(widget.package, widget.version);
        const tarball = await registry.tarball({ tarball: release.tarball, integrity: widget.integrity });
        await this.dirs.install(widget.package, widget.version, tarball, this.deps.settings.maxBytes);
        this.failedRestores.delete(key);
      } catch (error) {
        this.failedRestores.set(key, { error, until: this.deps.now() + RESTORE_RETRY_MS });
        throw error;
      } finally {
        this.assets.forget(key);
      }
    });
  }

  /** Runs `work` once per key at a time on this instance: callers that come meanwhile share its outcome. */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running as Promise<T>;
    const started = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  private checkName(pkg: string, version: string): void {
    const scope = PACKAGE.exec(pkg)?.[1];
    if (pkg.length > 214 || scope === undefined) {
      throw invalidField('/package', 'must be a scoped npm package name, @scope/name, in lower case');
    }
    if (!this.deps.settings.scopes.includes(scope)) {
      throw invalidField(
        '/package',
        `is in scope ${scope}, which SWITCHBOARD_WIDGETS_SCOPES does not allow (${this.deps.settings.scopes.join(', ') || 'none are'})`,
      );
    }
    if (semver.valid(version) !== version) {
      throw invalidField('/version', 'must be an exact version such as 1.2.3: no range, no tag');
    }
  }
}
