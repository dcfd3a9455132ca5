import { realpath } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import type { AccessRule } from '../auth/access.js';
import type { ChannelDeclaration } from '../live/channels.js';
import { parseDuration } from '../platform/duration.js';
import type { EndpointSettings } from '../settings.js';
import { canonicalJson } from './canonical.js';
import { checkLoadable, type FunctionLimits } from './functions/sandbox.js';
import type { ResolvedEndpoint } from './producers/http-source.js';
import type { EndpointConfig, HttpEndpoint, LocalFunction, Stream } from './schema.js';
import { secretMasker } from './scrub.js';
import { modulePath, urlProblem, validateConfig } from './validate.js';
import { type ResolvedVars, referencesIn, resolveVars, substitute, valueOf } from './vars.js';

export const DEFAULT_ENDPOINT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRIES = 2;
export const DEFAULT_FUNCTION_TIMEOUT_MS = 5_000;
export const DEFAULT_FUNCTION_MEMORY_MB = 128;

export interface FunctionPlan {
  readonly name: string;
  /** Absolute and real (symbolic links followed), inside the functions directory. */
  readonly modulePath: string;
  readonly exportName: string;
  readonly args: unknown;
  readonly limits: FunctionLimits;
}

export type SourcePlan =
  | { readonly kind: 'endpoint'; readonly endpoint: ResolvedEndpoint }
  | { readonly kind: 'function'; readonly fn: FunctionPlan };

export interface StreamPlan {
  readonly name: string;
  readonly declaration: ChannelDeclaration;
  readonly source: SourcePlan;
  readonly intervalMs: number;
  readonly select: Record<string, string> | undefined;
  /**
   * Everything that makes the stream what it is, resolved: equal fingerprints across two versions mean the
   * stream carries on untouched (subscribers, history and producer) when the new version is activated.
   */
  readonly fingerprint: string;
}

/** A version made ready to run: nothing in it can fail to start for reasons known in advance. */
export interface RuntimePlan {
  readonly version: string;
  readonly streams: ReadonlyMap<string, StreamPlan>;
  readonly functions: ReadonlyMap<string, FunctionPlan>;
}

/**
 * Why a version cannot run; `reason` says it in one line, `problems` each at its pointer. It goes to the
 * answer, the recovery state, the audit log and the server log, so the values of `secrets` are masked in
 * it: messages are built from the configuration as written, and this is the last line behind that.
 */
export class BuildError extends Error {
  readonly problems: readonly { pointer: string; message: string }[];

  constructor(
    problems: readonly { pointer: string; message: string }[],
    readonly version: string,
    secrets: readonly string[] = [],
  ) {
    const mask = secretMasker(secrets);
    const masked = problems.map((p) => ({ pointer: p.pointer, message: mask(p.message) }));
    super(
      `version ${version} cannot be loaded: ${masked
        .slice(0, 5)
        .map((p) => `${p.pointer || '/'} ${p.message}`)
        .join('; ')}${masked.length > 5 ? `; and ${masked.length - 5} more` : ''}`,
    );
    this.problems = masked;
    this.name = 'BuildError';
  }
}

function accessOf(stream: Stream): AccessRule {
  const groups = stream.access?.groups;
  return {
    minRole: stream.access?.min_role ?? 'viewer',
    ...(groups && {
      groups: {
        ...(groups.one_of && { oneOf: groups.one_of }),
        ...(groups.all_of && { allOf: groups.all_of }),
        ...(groups.none_of && { noneOf: groups.none_of }),
      },
    }),
  };
}

function resolveTemplate(text: string, vars: ResolvedVars, env: NodeJS.ProcessEnv): string {
  return substitute(text, (reference) =>
    reference.kind === 'env' ? (env[reference.name] ?? '') : String(vars.values.get(reference.name) ?? ''),
  );
}

function resolveDeep(value: unknown, vars: ResolvedVars, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') return resolveTemplate(value, vars, env);
  if (Array.isArray(value)) return value.map((item) => resolveDeep(item, vars, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(v, vars, env)]));
  }
  return value;
}

/** Every string of an endpoint that may hold references. */
function templatesOf(endpoint: HttpEndpoint): string[] {
  const strings: string[] = [
    endpoint.url,
    ...Object.values(endpoint.headers ?? {}),
    ...Object.values(endpoint.query ?? {}),
  ];
  const collect = (value: unknown): void => {
    if (typeof value === 'string') strings.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(endpoint.body);
  return strings;
}

/** The variables `texts` refer to, and those they refer to in turn. */
function variablesUsed(texts: readonly string[], declared: EndpointConfig['vars']): Set<string> {
  const used = new Set<string>();
  const pending = [...texts];
  for (let text = pending.pop(); text !== undefined; text = pending.pop()) {
    for (const reference of referencesIn(text).references) {
      if (reference.kind !== 'var' || used.has(reference.name)) continue;
      used.add(reference.name);
      const variable =
        declared && Object.hasOwn(declared, reference.name) ? declared[reference.name] : undefined;
      const value = variable === undefined ? undefined : valueOf(variable);
      if (typeof value === 'string') pending.push(value);
    }
  }
  return used;
}

/** The resolved values of the secret variables among `names` (booleans say too little to mask). */
function secretValues(vars: ResolvedVars, names: Iterable<string>): string[] {
  const values = new Set<string>();
  for (const name of names) {
    const value = vars.values.get(name);
    if (vars.secret.has(name) && value !== undefined && typeof value !== 'boolean') values.add(String(value));
  }
  return [...values].sort();
}

function resolveEndpoint(
  name: string,
  endpoint: HttpEndpoint,
  config: EndpointConfig,
  vars: ResolvedVars,
  env: NodeJS.ProcessEnv,
): ResolvedEndpoint {
  const map = (record: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(record ?? {}).map(([k, v]) => [k, resolveTemplate(v, vars, env)]));
  const urlFromSecret = [...variablesUsed([endpoint.url], config.vars)].some((v) => vars.secret.has(v));
  const secrets = secretValues(vars, variablesUsed(templatesOf(endpoint), config.vars));
  return {
    name,
    url: resolveTemplate(endpoint.url, vars, env),
    ...(urlFromSecret && { urlAsWritten: endpoint.url }),
    ...(secrets.length > 0 && { secrets }),
    method: (endpoint.method ?? 'GET') as ResolvedEndpoint['method'],
    headers: map(endpoint.headers),
    query: map(endpoint.query),
    ...(endpoint.body !== undefined && { body: resolveDeep(endpoint.body, vars, env) }),
    timeoutMs: endpoint.timeout
      ? (parseDuration(endpoint.timeout) ?? DEFAULT_ENDPOINT_TIMEOUT_MS)
      : DEFAULT_ENDPOINT_TIMEOUT_MS,
    retries: endpoint.retries ?? DEFAULT_RETRIES,
  };
}

async function planFunction(
  name: string,
  fn: LocalFunction,
  settings: EndpointSettings,
): Promise<FunctionPlan | { pointer: string; message: string }> {
  const pointer = `/functions/${name}/module`;
  const located = modulePath(settings.functionsDir, fn.module);
  if ('problem' in located) return { pointer, message: located.problem };
  let real: string;
  let root: string;
  try {
    root = await realpath(settings.functionsDir);
    real = await realpath(located.path);
  } catch {
    return { pointer, message: `${fn.module} does not exist in the functions directory` };
  }
  const inside = relative(root, real);
  if (inside.startsWith(`..${sep}`) || inside === '..' || inside === '') {
    return { pointer, message: 'leads outside the functions directory (through a symbolic link)' };
  }
  const limits: FunctionLimits = {
    timeoutMs: fn.timeout
      ? (parseDuration(fn.timeout) ?? DEFAULT_FUNCTION_TIMEOUT_MS)
      : DEFAULT_FUNCTION_TIMEOUT_MS,
    memoryMb: fn.memory_mb ?? DEFAULT_FUNCTION_MEMORY_MB,
  };
  const exportName = fn.export ?? 'default';
  const problem = await checkLoadable({ modulePath: real, exportName, limits, cwd: root });
  if (problem !== undefined) return { pointer, message: problem };
  return { name, modulePath: real, exportName, args: fn.args ?? null, limits };
}

/**
 * Makes a version ready to run without touching what runs: the document checked again (the allow-list
 * may have changed since it was saved), variables resolved against this server's environment, URLs
 * checked once resolved, every function module found and loaded once in a sandbox.
 */
export async function buildRuntime(
  document: unknown,
  version: string,
  settings: EndpointSettings,
  env: NodeJS.ProcessEnv,
): Promise<RuntimePlan> {
  const validation = validateConfig(document, {
    allowedHosts: settings.allowedHosts,
    functionsDir: settings.functionsDir,
  });
  if (!validation.ok) throw new BuildError(validation.problems, version, secretsOfDocument(document, env));
  const config: EndpointConfig = validation.config;
  const problems: { pointer: string; message: string }[] = [];

  const vars = resolveVars(config.vars, env);
  const secrets = secretValues(vars, vars.secret);
  for (const [name, message] of vars.problems) problems.push({ pointer: `/vars/${name}`, message });

  const endpoints = new Map<string, ResolvedEndpoint>();
  for (const [name, endpoint] of Object.entries(config.endpoints ?? {})) {
    const resolved = resolveEndpoint(name, endpoint, config, vars, env);
    const problem = urlProblem(resolved.url, settings.allowedHosts, resolved.urlAsWritten);
    if (problem) problems.push({ pointer: `/endpoints/${name}/url`, message: `once resolved, ${problem}` });
    endpoints.set(name, resolved);
  }

  const functions = new Map<string, FunctionPlan>();
  const planned = await Promise.all(
    Object.entries(config.functions ?? {}).map(
      async ([name, fn]) => [name, await planFunction(name, fn, settings)] as const,
    ),
  );
  for (const [name, plan] of planned) {
    if ('pointer' in plan) problems.push(plan);
    else functions.set(name, plan);
  }
  if (problems.length > 0) throw new BuildError(problems, version, secrets);

  const streams = new Map<string, StreamPlan>();
  for (const [name, stream] of Object.entries(config.streams ?? {})) {
    const source: SourcePlan =
      stream.endpoint !== undefined
        ? { kind: 'endpoint', endpoint: endpoints.get(stream.endpoint) as ResolvedEndpoint }
        : { kind: 'function', fn: functions.get(stream.function as string) as FunctionPlan };
    const intervalMs = parseDuration(stream.interval) as number;
    const maxAgeMs =
      stream.history?.max_age === undefined ? undefined : parseDuration(stream.history.max_age);
    const declaration: ChannelDeclaration = {
      name,
      access: accessOf(stream),
      meta: {
        ...(stream.title !== undefined && { title: stream.title }),
        ...(stream.description !== undefined && { description: stream.description }),
        source: source.kind === 'endpoint' ? { endpoint: stream.endpoint } : { function: stream.function },
        interval: stream.interval,
      },
      history: {
        ...(stream.history?.size !== undefined && { size: stream.history.size }),
        ...(maxAgeMs !== undefined && { maxAgeMs }),
      },
    };
    streams.set(name, {
      name,
      declaration,
      source,
      intervalMs,
      select: stream.select,
      fingerprint: canonicalJson({ declaration, source, intervalMs, select: stream.select ?? null }),
    });
  }
  return { version, streams, functions };
}

/** The secret values of a document that did not validate, as far as its variables can be read. */
function secretsOfDocument(document: unknown, env: NodeJS.ProcessEnv): string[] {
  const vars = (document as { vars?: unknown } | null)?.vars;
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) return [];
  try {
    const resolved = resolveVars(vars as EndpointConfig['vars'], env);
    return secretValues(resolved, resolved.secret);
  } catch {
    // A variable of the wrong shape: its problem is reported, and nothing of it was resolved to leak.
    return [];
  }
}
