import { isAbsolute, relative, resolve, sep } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { parseDuration } from '../platform/duration.js';
import { hostAllowed } from './hosts.js';
import { EndpointConfig } from './schema.js';
import { ENV_NAME, type Reference, referencesIn, substitute, valueOf } from './vars.js';

/** One thing wrong with a document, where it is. */
export interface ConfigProblem {
  pointer: string;
  message: string;
}

export interface ValidationContext {
  /** Hosts HTTP endpoints may reach (`SWITCHBOARD_ENDPOINT_HOSTS`). */
  allowedHosts: readonly string[];
  /** Where function modules live (`SWITCHBOARD_FUNCTIONS_DIR`). */
  functionsDir: string;
}

const MIN_INTERVAL_MS = 1000;
const MODULE_EXTENSIONS = /\.(m|c)?js$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const SECTION_KEYS: Record<string, string> = {
  '/vars':
    'is not a variable name: it must start with a letter or _ and hold at most 64 letters, digits, _ or -',
  '/endpoints':
    'is not an endpoint name: it must start with a letter or _ and hold at most 64 letters, digits, _ or -',
  '/functions':
    'is not a function name: it must start with a letter or _ and hold at most 64 letters, digits, _ or -',
  '/streams':
    'is not a channel name: a lowercase letter, then up to 63 of a-z 0-9 . _ - (config and user:… are reserved)',
};

const escapePointer = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
const pointerOf = (...keys: string[]) => keys.map((k) => `/${escapePointer(k)}`).join('');

/** TypeBox's messages, said the way the rest of the API says them. */
function humanize(message: string): string {
  if (message === 'Unexpected property') return 'is not a property this object may have';
  if (message.startsWith('Expected required property')) return 'is required';
  const expected = /^Expected (string|number|integer|boolean|object|array)$/.exec(message);
  if (expected)
    return `must be ${expected[1] === 'integer' || expected[1] === 'array' ? 'an' : 'a'} ${expected[1]}`;
  return message.replace(/^Expected /, 'must be ');
}

/** Every way the document breaks the JSON Schema, each once, at its pointer. */
export function schemaProblems(document: unknown): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(EndpointConfig, document)) {
    const parent = error.path.slice(0, error.path.lastIndexOf('/'));
    const custom = (error.schema as { errorMessage?: string }).errorMessage;
    const message =
      error.message === 'Unexpected property' && SECTION_KEYS[parent]
        ? SECTION_KEYS[parent]
        : (custom ?? humanize(error.message));
    const pointer = error.path;
    const key = `${pointer}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ pointer, message });
  }
  return problems;
}

/** The strings of an endpoint that may hold references, with their pointers. */
function* templatedStrings(name: string, endpoint: NonNullable<EndpointConfig['endpoints']>[string]) {
  yield { pointer: pointerOf('endpoints', name, 'url'), text: endpoint.url };
  for (const [key, value] of Object.entries(endpoint.headers ?? {})) {
    yield { pointer: pointerOf('endpoints', name, 'headers', key), text: value };
  }
  for (const [key, value] of Object.entries(endpoint.query ?? {})) {
    yield { pointer: pointerOf('endpoints', name, 'query', key), text: value };
  }
  yield* stringsIn(endpoint.body, pointerOf('endpoints', name, 'body'));
}

function* stringsIn(value: unknown, pointer: string): Generator<{ pointer: string; text: string }> {
  if (typeof value === 'string') yield { pointer, text: value };
  else if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* stringsIn(item, `${pointer}/${index}`);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value))
      yield* stringsIn(item, `${pointer}/${escapePointer(key)}`);
  }
}

/**
 * The URL as far as it can be known without the environment: variables substituted, each `${env:…}`
 * left as a marker. Undefined when a reference cannot be followed (reported elsewhere).
 */
function urlWithoutEnv(url: string, vars: NonNullable<EndpointConfig['vars']>): string | undefined {
  const ENV_MARK = '\u0000env\u0000';
  let broken = false;
  const depth = new Set<string>();
  const expand = (text: string): string =>
    substitute(text, (reference: Reference) => {
      if (reference.kind === 'env') return ENV_MARK;
      const variable = vars[reference.name];
      if (variable === undefined || depth.has(reference.name)) {
        broken = true;
        return '';
      }
      depth.add(reference.name);
      const value = valueOf(variable);
      const expanded = typeof value === 'string' ? expand(value) : String(value);
      depth.delete(reference.name);
      return expanded;
    });
  const text = expand(url);
  return broken ? undefined : text;
}

/** Where a URL may not go; undefined when it may. `host` may still be unknown (from the environment). */
export function urlProblem(url: string, allowedHosts: readonly string[]): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not an absolute URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL';
  if (parsed.username || parsed.password) {
    return 'must not carry credentials: put them in a header that refers to a secret variable';
  }
  if (!hostAllowed(parsed, allowedHosts)) {
    return allowedHosts.length === 0
      ? `reaches ${parsed.host}, but SWITCHBOARD_ENDPOINT_HOSTS allows no host; add it there`
      : `reaches ${parsed.host}, which is not in SWITCHBOARD_ENDPOINT_HOSTS (${allowedHosts.join(', ')})`;
  }
  return undefined;
}

/** The absolute path of a function module, or why it may not be used. */
export function modulePath(functionsDir: string, module: string): { path: string } | { problem: string } {
  if (isAbsolute(module) || /^[A-Za-z]:/.test(module)) {
    return { problem: 'must be a path relative to SWITCHBOARD_FUNCTIONS_DIR' };
  }
  const root = resolve(functionsDir);
  const path = resolve(root, module);
  const inside = relative(root, path);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    return { problem: 'must stay inside SWITCHBOARD_FUNCTIONS_DIR' };
  }
  if (!MODULE_EXTENSIONS.test(path)) return { problem: 'must be a .js, .mjs or .cjs file' };
  return { path };
}

/**
 * The rules a JSON Schema cannot say, for a document that passed it: references resolve, streams name
 * exactly one source that exists, hosts are allowed, modules stay in their directory.
 */
export function ruleProblems(config: EndpointConfig, context: ValidationContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const vars = config.vars ?? {};
  const endpoints = config.endpoints ?? {};
  const functions = config.functions ?? {};

  const checkReferences = (pointer: string, text: string) => {
    const { references, errors } = referencesIn(text);
    for (const message of errors) problems.push({ pointer, message });
    for (const reference of references) {
      if (reference.kind === 'var' && vars[reference.name] === undefined) {
        problems.push({ pointer, message: `\${${reference.name}} is not a declared variable` });
      }
      if (reference.kind === 'env' && !ENV_NAME.test(reference.name)) {
        problems.push({ pointer, message: `\${env:${reference.name}} may not be read` });
      }
    }
  };

  for (const [name, variable] of Object.entries(vars)) {
    const value = valueOf(variable);
    if (typeof value !== 'string') continue;
    const pointer = typeof variable === 'object' ? pointerOf('vars', name, 'value') : pointerOf('vars', name);
    checkReferences(pointer, value);
  }
  problems.push(...cycles(vars));

  for (const [name, endpoint] of Object.entries(endpoints)) {
    for (const { pointer, text } of templatedStrings(name, endpoint)) checkReferences(pointer, text);
    for (const [header, value] of Object.entries(endpoint.headers ?? {})) {
      const pointer = pointerOf('endpoints', name, 'headers', header);
      if (!HEADER_NAME.test(header)) problems.push({ pointer, message: 'is not a valid header name' });
      if (/[\r\n\0]/.test(value)) problems.push({ pointer, message: 'must not contain line breaks' });
    }
    const timeout = endpoint.timeout === undefined ? undefined : parseDuration(endpoint.timeout);
    if (timeout !== undefined && (timeout < 100 || timeout > 300_000)) {
      problems.push({
        pointer: pointerOf('endpoints', name, 'timeout'),
        message: 'must be between 100ms and 5m',
      });
    }
    const url = urlWithoutEnv(endpoint.url, vars);
    // A host that comes from the environment is checked when the version is activated.
    if (url !== undefined && !hostFromEnvironment(url)) {
      const message = urlProblem(url, context.allowedHosts);
      if (message) problems.push({ pointer: pointerOf('endpoints', name, 'url'), message });
    }
  }

  for (const [name, fn] of Object.entries(functions)) {
    const located = modulePath(context.functionsDir, fn.module);
    if ('problem' in located) {
      problems.push({ pointer: pointerOf('functions', name, 'module'), message: located.problem });
    }
    const timeout = fn.timeout === undefined ? undefined : parseDuration(fn.timeout);
    if (timeout !== undefined && (timeout < 10 || timeout > 600_000)) {
      problems.push({
        pointer: pointerOf('functions', name, 'timeout'),
        message: 'must be between 10ms and 10m',
      });
    }
  }

  for (const [name, stream] of Object.entries(config.streams ?? {})) {
    const pointer = pointerOf('streams', name);
    if (name === 'config') problems.push({ pointer, message: '"config" is a built-in channel' });
    if ((stream.endpoint === undefined) === (stream.function === undefined)) {
      problems.push({ pointer, message: 'must name exactly one source: "endpoint" or "function"' });
    }
    if (stream.endpoint !== undefined && endpoints[stream.endpoint] === undefined) {
      problems.push({
        pointer: `${pointer}/endpoint`,
        message: `no endpoint "${stream.endpoint}" is declared`,
      });
    }
    if (stream.function !== undefined && functions[stream.function] === undefined) {
      problems.push({
        pointer: `${pointer}/function`,
        message: `no function "${stream.function}" is declared`,
      });
    }
    const interval = parseDuration(stream.interval);
    if (interval !== undefined && interval < MIN_INTERVAL_MS) {
      problems.push({ pointer: `${pointer}/interval`, message: 'must be at least 1s' });
    }
    const maxAge = stream.history?.max_age === undefined ? undefined : parseDuration(stream.history.max_age);
    if (maxAge !== undefined && maxAge < 1000) {
      problems.push({ pointer: `${pointer}/history/max_age`, message: 'must be at least 1s' });
    }
  }
  return problems;
}

function hostFromEnvironment(url: string): boolean {
  const afterScheme = url.indexOf('//');
  if (afterScheme === -1) return url.includes('\u0000');
  const rest = url.slice(afterScheme + 2);
  const end = rest.search(/[/?#]/);
  return (
    (end === -1 ? rest : rest.slice(0, end)).includes('\u0000') ||
    url.slice(0, afterScheme).includes('\u0000')
  );
}

/** Variables that refer back to themselves, each reported once at the variable that closes the loop. */
function cycles(vars: NonNullable<EndpointConfig['vars']>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (name: string) => {
    if (done.has(name)) return;
    const at = path.indexOf(name);
    if (at !== -1) {
      problems.push({
        pointer: pointerOf('vars', name),
        message: `refers to itself: ${[...path.slice(at), name].join(' → ')}`,
      });
      return;
    }
    const variable = vars[name];
    if (variable === undefined) return;
    const value = valueOf(variable);
    path.push(name);
    if (typeof value === 'string') {
      for (const reference of referencesIn(value).references) {
        if (reference.kind === 'var') visit(reference.name);
      }
    }
    path.pop();
    done.add(name);
  };
  for (const name of Object.keys(vars)) visit(name);
  return problems;
}

/** Schema first; the rules only for a document that has the schema's shape. */
export function validateConfig(
  document: unknown,
  context: ValidationContext,
): { ok: true; config: EndpointConfig } | { ok: false; problems: ConfigProblem[] } {
  const problems = schemaProblems(document);
  if (problems.length > 0) return { ok: false, problems };
  const config = document as EndpointConfig;
  const rules = ruleProblems(config, context);
  return rules.length > 0 ? { ok: false, problems: rules } : { ok: true, config };
}
