import { readFile } from 'node:fs/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditContext, AuditOutcome, AuditService } from '../audit/service.js';
import { isDiskFull } from '../platform/disk-full.js';
import { AppError, ErrorCode, invalidField } from '../platform/problem.js';
import type { EndpointSettings } from '../settings.js';
import type { Database } from '../storage/schema.js';
import { BuildError, buildRuntime, type RuntimePlan } from './build.js';
import { canonicalJson } from './canonical.js';
import { type DraftDiff, draftDiffOffThread, storedDiffOffThread } from './diff-thread.js';
import { MAX_PROBLEMS } from './document-limits.js';
import type { StoredSide } from './draft.js';
import type { EndpointConfig } from './schema.js';
import { compareVersions, isVersion, nextPatch } from './semver.js';
import { type ConfigState, ConfigStore, type VersionRecord } from './store.js';
import { type ConfigProblem, validateConfig } from './validate.js';
import { maskSecrets, presentVars, resolveVars, restoreMaskedSecrets } from './vars.js';

export const MAX_MESSAGE_CHARS = 1000;

/** A save request, after the raw-or-wrapper rule has been applied. */
export interface SaveRequest {
  config: unknown;
  version?: string;
  activate?: boolean;
  message?: string;
  /** Where the document sits in the request body, for the pointers of its problems: '' or '/config'. */
  pointerPrefix?: string;
  /** What is wrong with the wrapper around the document, reported with the document's own problems. */
  problems?: ConfigProblem[];
}

export interface SaveResult {
  version: string;
  diff: string;
  active: boolean;
  /** Present when activation was asked for and failed: the version is saved, the old one still runs. */
  activationError?: string;
}

export interface VersionView {
  version: string;
  config: EndpointConfig;
  varsResolved: Record<string, unknown>;
  active: boolean;
  createdAt: string;
  createdBy: string | null;
  message: string | null;
}

export interface VersionList {
  versions: {
    version: string;
    createdAt: string;
    createdBy: string | null;
    message: string | null;
    active: boolean;
  }[];
  state: ConfigState;
  loaded: string | null;
}

/** Something the service reports on the `config` channel. */
export type ConfigNotice =
  | { type: 'saved'; version: string; by: string | null }
  | { type: 'activated'; version: string; by: string | null }
  | { type: 'recovery'; version: string; reason: string; running: string | null }
  | { type: 'deleted'; version: string; by: string | null };

/** Changes the server makes on its own (bootstrap, recovery at start). */
const SYSTEM: AuditContext = { actor: { id: null, username: 'system' }, ip: null, userAgent: null };

/** What runs the active version: the server's runtime, or nothing at all for the command line. */
export interface RuntimeHandle {
  readonly loaded: string | null;
  apply(plan: RuntimePlan): void;
}

export interface ConfigServiceDeps {
  db: Kysely<Database>;
  audit: AuditService;
  runtime: RuntimeHandle;
  settings: EndpointSettings;
  log: FastifyBaseLogger;
  /** What `${env:…}` reads. */
  env: NodeJS.ProcessEnv;
  /** Says something on the `config` channel. */
  publish(notice: ConfigNotice): Promise<unknown>;
  now?: () => number;
}

const problemCount = (problems: ConfigProblem[]) =>
  problems.length >= MAX_PROBLEMS
    ? `${MAX_PROBLEMS} problems or more (the first ${MAX_PROBLEMS} are listed)`
    : `${problems.length} problem${problems.length === 1 ? '' : 's'}`;

const unprocessable = (problems: ConfigProblem[]) =>
  new AppError(
    ErrorCode.invalidBody,
    `the configuration is not valid: ${problemCount(problems)}, ` +
      `first ${problems[0]?.pointer || '/'} ${problems[0]?.message}`,
    { errors: problems.map((p) => ({ pointer: p.pointer, message: p.message })) },
  );

const unknownVersion = (version: string) =>
  new AppError(ErrorCode.notFound, `no saved configuration version "${version}"`);

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The rules of the endpoint configuration: versions saved whole or not at all, activation that builds
 * before it swaps, recovery when a version cannot run, and a record of every change in the audit log.
 */
export class EndpointConfigService {
  /** Activations on this instance one at a time, so the runtime is swapped in the order versions commit. */
  private activating: Promise<unknown> = Promise.resolve();
  /** The active version that could not be loaded on this instance, if that is the case. */
  private failedHere: string | undefined;

  private readonly db: Kysely<Database>;
  private readonly audit: AuditService;
  readonly runtime: RuntimeHandle;
  private readonly settings: EndpointSettings;
  private readonly log: FastifyBaseLogger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly publish: (notice: ConfigNotice) => Promise<unknown>;
  private readonly now: () => number;

  constructor(deps: ConfigServiceDeps) {
    this.db = deps.db;
    this.audit = deps.audit;
    this.runtime = deps.runtime;
    this.settings = deps.settings;
    this.log = deps.log;
    this.env = deps.env;
    this.publish = deps.publish;
    this.now = deps.now ?? Date.now;
  }

  private get store(): ConfigStore {
    return new ConfigStore(this.db);
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private validation(document: unknown) {
    return validateConfig(document, {
      allowedHosts: this.settings.allowedHosts,
      functionsDir: this.settings.functionsDir,
    });
  }

  /** A body is the wrapper exactly when it has a top-level `config` key. */
  static saveRequestOf(body: unknown): SaveRequest {
    if (!isObject(body)) {
      throw unprocessable([
        { pointer: '', message: 'must be a JSON object: the configuration, or {config, …}' },
      ]);
    }
    if (!('config' in body)) return { config: body, pointerPrefix: '' };
    const problems: ConfigProblem[] = [];
    for (const key of Object.keys(body)) {
      if (!['config', 'version', 'activate', 'message'].includes(key)) {
        problems.push({
          pointer: `/${key}`,
          message: 'is not a property of a save request (config, version, activate, message)',
        });
      }
    }
    const { config, version, activate, message } = body;
    if (version !== undefined && (typeof version !== 'string' || !isVersion(version))) {
      problems.push({ pointer: '/version', message: 'must be a semantic version such as "1.4.0"' });
    }
    if (activate !== undefined && typeof activate !== 'boolean') {
      problems.push({ pointer: '/activate', message: 'must be true or false' });
    }
    if (message !== undefined && (typeof message !== 'string' || message.length > MAX_MESSAGE_CHARS)) {
      problems.push({
        pointer: '/message',
        message: `must be a string of at most ${MAX_MESSAGE_CHARS} characters`,
      });
    }
    return {
      config,
      pointerPrefix: '/config',
      ...(problems.length > 0 && { problems }),
      ...(version !== undefined && { version: version as string }),
      ...(activate !== undefined && { activate: activate as boolean }),
      ...(message !== undefined && { message: message as string }),
    };
  }

  private async documentOf(version: string): Promise<VersionRecord> {
    const record = await this.store.get(version);
    if (!record) throw unknownVersion(version);
    return record;
  }

  private parse(record: VersionRecord): EndpointConfig {
    return JSON.parse(record.document) as EndpointConfig;
  }

  async get(version: string | undefined): Promise<VersionView> {
    const state = await this.store.state();
    const wanted = version ?? state.activeVersion;
    if (wanted === null)
      throw new AppError(ErrorCode.notFound, 'no configuration is active yet; POST /config saves one');
    const record = await this.documentOf(wanted);
    const config = this.parse(record);
    const resolved = resolveVars(config.vars, this.env);
    return {
      version: record.version,
      config: maskSecrets(config),
      varsResolved: presentVars(resolved, Object.keys(config.vars ?? {})),
      active: record.version === state.activeVersion,
      createdAt: record.createdAt,
      createdBy: record.createdByName,
      message: record.message,
    };
  }

  async list(): Promise<VersionList> {
    const [versions, state] = await Promise.all([this.store.listVersions(), this.store.state()]);
    versions.sort((a, b) => compareVersions(b.version, a.version));
    return {
      versions: versions.map((v) => ({
        version: v.version,
        createdAt: v.createdAt,
        createdBy: v.createdByName,
        message: v.message,
        active: v.version === state.activeVersion,
      })),
      state,
      loaded: this.runtime.loaded,
    };
  }

  /** The document a new version is compared with and inherits masked secrets from: the active one. */
  private async baseline(): Promise<VersionRecord | undefined> {
    const state = await this.store.state();
    return state.activeVersion === null ? undefined : this.store.get(state.activeVersion);
  }

  async save(request: SaveRequest, context: AuditContext): Promise<SaveResult> {
    const prefix = request.pointerPrefix ?? '';
    const wrapper = request.problems ?? [];
    if (!isObject(request.config)) {
      throw unprocessable([...wrapper, { pointer: prefix, message: 'must be a JSON object' }]);
    }
    const base = await this.baseline();
    const baseConfig = base ? this.parse(base) : undefined;
    const { config: restored, unrestored } = restoreMaskedSecrets(
      request.config as EndpointConfig,
      baseConfig,
    );
    const masked = unrestored.map((name) => ({
      pointer: `/vars/${name}/value`,
      message:
        'holds the mask "********" but the active version has no secret of that name to keep; give the value',
    }));
    const validation = this.validation(restored);
    if (!validation.ok || masked.length > 0 || wrapper.length > 0) {
      const inDocument = [...(validation.ok ? [] : validation.problems), ...masked].map((p) => ({
        pointer: `${prefix}${p.pointer}`,
        message: p.message,
      }));
      throw unprocessable([...wrapper, ...inDocument].slice(0, MAX_PROBLEMS));
    }
    const document = canonicalJson(validation.config);
    const at = this.iso();
    const version = await this.db.transaction().execute(async (trx) => {
      const store = new ConfigStore(trx);
      const version = request.version ?? nextPatch(await store.versionNumbers());
      if (await store.exists(version)) {
        throw new AppError(
          ErrorCode.duplicate,
          `version ${version} is already saved; choose another or leave it out`,
        );
      }
      await store
        .insert({
          version,
          document,
          createdAt: at,
          createdBy: context.actor?.id ?? null,
          createdByName: context.actor?.username ?? null,
          message: request.message ?? null,
        })
        .catch((error: unknown) => {
          throw duplicateFromConstraint(error, version);
        });
      await this.record(trx, context, 'config.saved', version, {
        version,
        message: request.message ?? null,
        base_version: base?.version ?? null,
      });
      return version;
    });
    const diff = await storedDiffOffThread(
      base && storedSide(base),
      { label: `version ${version}`, text: document },
      'text',
    );
    this.notify({ type: 'saved', version, by: context.actor?.username ?? null });
    if (request.activate === false) return { version, diff, active: false };
    try {
      await this.activate(version, context);
      return { version, diff, active: true };
    } catch (error) {
      if (error instanceof AppError && error.status === 422) {
        return { version, diff, active: false, activationError: error.message };
      }
      // The version is saved: a failure of the whole request would tell the client it was not (and its
      // retry would find the version taken).
      if (isDiskFull(error)) {
        return {
          version,
          diff,
          active: false,
          activationError:
            "saved, but not activated: the server's disk is full; activate it once space is freed",
        };
      }
      throw error;
    }
  }

  /**
   * Builds the version completely, then commits it as active and swaps the runtime. A version that cannot
   * be built leaves the running one running, sets recovery, and says why (422).
   */
  activate(version: string, context: AuditContext): Promise<void> {
    return this.serialized(() => this.activateNow(version, context));
  }

  private async activateNow(version: string, context: AuditContext): Promise<void> {
    const record = await this.documentOf(version);
    let plan: Awaited<ReturnType<typeof buildRuntime>>;
    try {
      plan = await buildRuntime(JSON.parse(record.document), version, this.settings, this.env);
    } catch (error) {
      if (!(error instanceof BuildError)) throw error;
      await this.enterRecovery(version, error.message, context);
      throw new AppError(ErrorCode.invalidBody, error.message, {
        errors: error.problems.map((p) => ({ pointer: p.pointer, message: p.message })),
      });
    }
    await this.db.transaction().execute(async (trx) => {
      const store = new ConfigStore(trx);
      // Deleted while it was being built: nothing to activate.
      if (!(await store.exists(version))) throw unknownVersion(version);
      const state = await store.state();
      await store.writeState(
        {
          activeVersion: version,
          lastGoodVersion: fallbackAfter(state, version),
          recovery: false,
          recoveryVersion: null,
          recoveryReason: null,
        },
        this.iso(),
      );
      await this.record(trx, context, 'config.activated', version, { version });
    });
    this.runtime.apply(plan);
    this.log.info({ version }, 'endpoint configuration activated');
    this.notify({ type: 'activated', version, by: context.actor?.username ?? null });
  }

  private async enterRecovery(version: string, reason: string, context: AuditContext): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await new ConfigStore(trx).writeState(
        { recovery: true, recoveryVersion: version, recoveryReason: reason },
        this.iso(),
      );
      await this.record(
        trx,
        context,
        'config.recovery',
        version,
        { version, reason, running: this.runtime.loaded },
        'failure',
      );
    });
    this.log.error(
      { version, reason, running: this.runtime.loaded },
      'endpoint configuration could not be loaded',
    );
    this.notify({ type: 'recovery', version, reason, running: this.runtime.loaded });
  }

  /** A change's audit entry, in the transaction that makes the change. */
  private record(
    trx: Kysely<Database>,
    context: AuditContext,
    type: `config.${'saved' | 'activated' | 'recovery' | 'deleted'}`,
    version: string,
    detail: Record<string, unknown>,
    outcome: AuditOutcome = 'success',
  ): Promise<void> {
    return this.audit.record(
      context,
      { type, outcome, target: { type: 'config_version', id: version }, detail },
      trx,
    );
  }

  async delete(version: string, context: AuditContext): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const store = new ConfigStore(trx);
      if (!(await store.exists(version))) throw unknownVersion(version);
      const state = await store.state();
      if (state.activeVersion === version) {
        throw new AppError(
          ErrorCode.conflict,
          `version ${version} is active; activate another version before deleting it`,
        );
      }
      if (state.lastGoodVersion === version) {
        if (activeFailed(state)) {
          throw new AppError(
            ErrorCode.conflict,
            `version ${version} is what runs while the active version ${state.activeVersion} cannot load; activate a version that loads first`,
          );
        }
        // Never left pointing at nothing: without it there is no fallback until the next activation.
        await store.writeState({ lastGoodVersion: null }, this.iso());
      }
      await store.delete(version);
      await this.record(trx, context, 'config.deleted', version, { version });
    });
    this.notify({ type: 'deleted', version, by: context.actor?.username ?? null });
  }

  /**
   * POST /config/diff: the body as it arrived, `{config, base_version?}`, compared with a saved version (the
   * active one by default), secrets masked on both sides; the diff as a JSON string in UTF-8. The draft is
   * checked against the JSON Schema only (a 422 lists every problem), not the rules: it is work in
   * progress. It is read, checked and compared on the diff thread, never on the event loop.
   */
  async diffDraftRequest(body: string): Promise<Uint8Array> {
    return this.settledDraft(
      await draftDiffOffThread(body, 'request', 'json', (version) => this.draftBase(version)),
    );
  }

  /** The command line's draft (a document read from a file) against a saved version, as text. */
  async diffDraft(config: unknown, baseVersion: string | undefined): Promise<string> {
    return this.settledDraft(
      await draftDiffOffThread(JSON.stringify(config) ?? '', 'document', 'text', () =>
        this.draftBase(baseVersion),
      ),
    );
  }

  private async draftBase(version: string | undefined): Promise<StoredSide | undefined> {
    const base = version === undefined ? await this.baseline() : await this.documentOf(version);
    return base && storedSide(base);
  }

  private settledDraft<T>(outcome: DraftDiff<T>): T {
    if ('malformed' in outcome) throw new AppError(ErrorCode.malformedRequest, outcome.malformed);
    if ('problems' in outcome) throw unprocessable(outcome.problems);
    return outcome.diff;
  }

  /** Two saved versions; either left out means the active one. */
  async diffVersions(from: string | undefined, to: string | undefined): Promise<string> {
    const [a, b] = await this.versionPair(from, to);
    return storedDiffOffThread(a, b, 'text');
  }

  /** The same diff as a JSON string in UTF-8, for an answer to carry as it is. */
  async diffVersionsJson(from: string | undefined, to: string | undefined): Promise<Uint8Array> {
    const [a, b] = await this.versionPair(from, to);
    return storedDiffOffThread(a, b, 'json');
  }

  private async versionPair(from: string | undefined, to: string | undefined) {
    const state = await this.store.state();
    const pick = async (version: string | undefined, name: string) => {
      const wanted = version ?? state.activeVersion;
      if (wanted === null) {
        throw invalidField(
          `/querystring/${name}`,
          'is required while no version is active',
          `give ${name}: no version is active to stand in for it`,
        );
      }
      return this.documentOf(wanted);
    };
    return [storedSide(await pick(from, 'from')), storedSide(await pick(to, 'to'))] as const;
  }

  /**
   * At start: saves the bootstrap file as 1.0.0 when nothing is stored yet, then loads the active version,
   * or the last good one (in recovery) when the active one cannot run here.
   */
  async start(): Promise<void> {
    await this.bootstrap();
    await this.serialized(() => this.loadActive());
  }

  /**
   * Loads the active version when another instance activated one that this instance does not run. One that
   * failed to load here is not tried again (nor recorded again) until another version is activated.
   */
  sync(): Promise<void> {
    return this.serialized(async () => {
      const { activeVersion } = await this.store.state();
      if (activeVersion === null || activeVersion === this.runtime.loaded) return;
      if (activeVersion === this.failedHere) return;
      await this.loadActive();
    });
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const run = this.activating.then(work);
    this.activating = run.catch(() => {});
    return run;
  }

  private async loadActive(): Promise<void> {
    const state = await this.store.state();
    if (state.activeVersion === null) return;
    const active = state.activeVersion;
    try {
      const record = await this.documentOf(active);
      this.runtime.apply(await buildRuntime(JSON.parse(record.document), active, this.settings, this.env));
      this.log.info({ version: active }, 'endpoint configuration loaded');
      return;
    } catch (error) {
      this.failedHere = active;
      await this.enterRecovery(active, (error as Error).message, SYSTEM);
    }
    const fallback = state.lastGoodVersion;
    if (fallback === null || fallback === active || fallback === this.runtime.loaded) return;
    try {
      const record = await this.documentOf(fallback);
      this.runtime.apply(await buildRuntime(JSON.parse(record.document), fallback, this.settings, this.env));
      this.log.warn({ version: fallback, active }, 'running the last good endpoint configuration (recovery)');
    } catch (error) {
      this.log.error(
        { version: fallback, reason: (error as Error).message },
        'the last good endpoint configuration cannot be loaded either; no streams run',
      );
    }
  }

  private async bootstrap(): Promise<void> {
    const file = this.settings.bootstrapFile;
    if (file === undefined) return;
    if ((await this.store.versionNumbers()).length > 0) return;
    let document: unknown;
    try {
      document = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      this.log.error(
        { file, reason: (error as Error).message },
        'SWITCHBOARD_ENDPOINTS_FILE cannot be read as JSON; nothing was bootstrapped',
      );
      return;
    }
    try {
      const result = await this.save(
        { config: document, version: '1.0.0', message: `bootstrapped from ${file}` },
        SYSTEM,
      );
      if (result.activationError) {
        this.log.error(
          { file, reason: result.activationError },
          'the bootstrapped configuration was saved but cannot be loaded',
        );
      } else {
        this.log.info({ file, version: result.version }, 'endpoint configuration bootstrapped from file');
      }
    } catch (error) {
      const problems = error instanceof AppError ? error.options.errors : undefined;
      this.log.error(
        { file, reason: (error as Error).message, problems },
        'SWITCHBOARD_ENDPOINTS_FILE is not a valid endpoint configuration; nothing was bootstrapped',
      );
    }
  }

  private notify(notice: ConfigNotice): void {
    this.publish(notice).catch((error: Error) => {
      this.log.warn({ reason: error.message }, 'could not publish on the config channel');
    });
  }
}

const storedSide = (record: VersionRecord): StoredSide => ({
  label: `version ${record.version}`,
  text: record.document,
});

/** The active version itself could not be loaded (at start, on some instance): the fallback is running. */
const activeFailed = (state: ConfigState) => state.recovery && state.recoveryVersion === state.activeVersion;

/**
 * The version to fall back to once `next` is active: the one active until now, which loaded, unless it is
 * the one that failed (then the fallback stays), or `next` is activated again.
 */
function fallbackAfter(state: ConfigState, next: string): string | null {
  if (state.activeVersion === null || state.activeVersion === next) return state.lastGoodVersion;
  return activeFailed(state) ? state.lastGoodVersion : state.activeVersion;
}

/** Two saves of one version at once: the loser's unique violation is a 409, not a 500. */
function duplicateFromConstraint(error: unknown, version: string): unknown {
  const text = String((error as Error)?.message ?? '');
  if (/unique|duplicate key|primary key/i.test(text)) {
    return new AppError(
      ErrorCode.duplicate,
      `version ${version} was saved by someone else just now; choose another`,
    );
  }
  return error;
}
