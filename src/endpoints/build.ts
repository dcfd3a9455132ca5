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
import { modulePath, urlProblem, validateConfig } from './validate.js';
import { type ResolvedVars, resolveVars, substitute } from './vars.js';

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

/** Why a version cannot run; `reason` says it in one line, `problems` each at its pointer. */
export class BuildError extends Error {
  constructor(
    readonly problems: readonly { pointer: string; message: string }[],
    readonly version: string,
  ) {
    super(
      `version ${version} cannot be loaded: ${problems
        .slice(0, 5)
        .map((p) => `${p.pointer || '/'} ${p.message}`)
        .join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
    );
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

function resolveEndpoint(
  name: string,
  endpoint: HttpEndpoint,
  vars: ResolvedVars,
  env: NodeJS.ProcessEnv,
): ResolvedEndpoint {
  const map = (record: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(record ?? {}).map(([k, v]) => [k, resolveTemplate(v, vars, env)]));
  return {
    name,
    url: resolveTemplate(endpoint.url, vars, env),
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
  if (!validation.ok) throw new BuildError(validation.problems, version);
  const config: EndpointConfig = validation.config;
  const problems: { pointer: string; message: string }[] = [];

  const vars = resolveVars(config.vars, env);
  for (const [name, message] of vars.problems) problems.push({ pointer: `/vars/${name}`, message });

  const endpoints = new Map<string, ResolvedEndpoint>();
  for (const [name, endpoint] of Object.entries(config.endpoints ?? {})) {
    const resolved = resolveEndpoint(name, endpoint, vars, env);
    const problem = urlProblem(resolved.url, settings.allowedHosts);
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
  if (problems.length > 0) throw new BuildError(problems, version);

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
