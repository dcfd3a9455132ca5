import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { reservedNameProblem } from '../live/channel-kinds.js';
import { parseDuration } from '../platform/duration.js';
import { limitProblems, MAX_PROBLEMS } from './document-limits.js';
import { hostVerdict, STEERING_HEADERS } from './hosts.js';
import { EndpointConfig, type HttpEndpoint, type Variable } from './schema.js';
import { secretMasker } from './scrub.js';
import { INSPECTED_NAME_CHARS, type Shaped, type ShapedConfig, shapedParts, wholeShape } from './shaped.js';
import {
  ENV_NAME,
  MAX_EXPANDED_CHARS,
  type Reference,
  referencesIn,
  resolveVars,
  substitute,
  valueOf,
} from './vars.js';

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

const TYPE_NAMES: Partial<Record<ValueErrorType, string>> = {
  [ValueErrorType.Object]: 'an object',
  [ValueErrorType.Array]: 'an array',
  [ValueErrorType.String]: 'a string',
  [ValueErrorType.Number]: 'a number',
  [ValueErrorType.Integer]: 'an integer',
  [ValueErrorType.Boolean]: 'true or false',
  [ValueErrorType.Null]: 'null',
};

/** TypeBox's messages, said the way the rest of the API says them. */
function humanize(error: ValueError): string {
  const schema = error.schema as Record<string, unknown>;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a property this object may have';
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.StringMinLength:
      return schema.minLength === 1
        ? 'must not be empty'
        : `must be at least ${schema.minLength} characters long`;
    case ValueErrorType.StringMaxLength:
      return `must be at most ${schema.maxLength} characters long`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be at least ${schema.minimum}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be at most ${schema.maximum}`;
    case ValueErrorType.ArrayMaxItems:
      return `must hold at most ${schema.maxItems} items`;
    case ValueErrorType.ArrayMinItems:
      return `must hold at least ${schema.minItems} items`;
  }
  const type = TYPE_NAMES[error.type];
  return type ? `must be ${type}` : error.message.replace(/^Expected /, 'must be ');
}

/** Section key patterns, checked here for every key: TypeBox reports only the first key that fails. */
const SECTION_PATTERNS = new Map(
  Object.keys(SECTION_KEYS).map((section) => {
    const record = EndpointConfig.properties[section.slice(1) as keyof typeof EndpointConfig.properties];
    const [pattern, entry] = Object.entries(
      (record as { patternProperties?: Record<string, TSchema> }).patternProperties ?? {},
    )[0] ?? ['^$', undefined];
    return [section, { pattern: new RegExp(pattern), entry }] as const;
  }),
);

/**
 * Each key of a section that is not a name, and what is wrong inside its entry: TypeBox stops at the
 * name, and the entry's own problems would otherwise wait for the next save. Inside only under a name of
 * at most INSPECTED_NAME_CHARS, as the rules do.
 */
function* sectionKeyProblems(document: unknown): Generator<ConfigProblem> {
  if (!isRecord(document)) return;
  for (const [section, { pattern, entry }] of SECTION_PATTERNS) {
    const name = section.slice(1);
    const value = Object.hasOwn(document, name) ? document[name] : undefined;
    if (!isRecord(value)) continue;
    for (const [key, item] of Object.entries(value)) {
      if (pattern.test(key)) continue;
      const pointer = `${section}/${escapePointer(key)}`;
      yield { pointer, message: SECTION_KEYS[section] as string };
      if (entry && key.length <= INSPECTED_NAME_CHARS) yield* valueErrors(entry, item, pointer);
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** TypeBox's errors for `value` against `schema`, in words, at their pointers under `prefix`. */
function* valueErrors(schema: TSchema, value: unknown, prefix = ''): Generator<ConfigProblem> {
  const required = new Set<string>();
  for (const error of Value.Errors(schema, value)) {
    const pointer = `${prefix}${error.path}`;
    // A missing property is also "not a string": saying it is required is enough.
    if (required.has(pointer)) continue;
    if (error.type === ValueErrorType.ObjectRequiredProperty) required.add(pointer);
    const parent = pointer.slice(0, pointer.lastIndexOf('/'));
    const custom = (error.schema as { errorMessage?: string }).errorMessage;
    const message =
      error.type === ValueErrorType.ObjectAdditionalProperties && SECTION_KEYS[parent]
        ? SECTION_KEYS[parent]
        : error.type === ValueErrorType.ObjectRequiredProperty
          ? humanize(error)
          : (custom ?? humanize(error));
    yield { pointer, message };
  }
}

let compiledSchema: TypeCheck<typeof EndpointConfig> | undefined;

/**
 * Every way the document breaks the JSON Schema, each once, at its pointer, up to MAX_PROBLEMS of them. A
 * document past the limits of document-limits.ts is refused with that alone, before anything else walks it.
 */
export function schemaProblems(document: unknown): ConfigProblem[] {
  const limits = limitProblems(document);
  return limits.length > 0 ? limits : shapeProblems(document);
}

function* shapeErrors(document: unknown): Generator<ConfigProblem> {
  yield* valueErrors(EndpointConfig, document);
  yield* sectionKeyProblems(document);
}

/** schemaProblems, for a document within the limits. */
function shapeProblems(document: unknown): ConfigProblem[] {
  // Compiled, the schema says yes or no five times faster than TypeBox finds its errors (5 against 30 ms
  // for 1 MB); the errors are looked for only in a document that has some.
  compiledSchema ??= TypeCompiler.Compile(EndpointConfig);
  if (compiledSchema.Check(document)) return [];
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const problem of shapeErrors(document)) {
    const key = `${problem.pointer}\u0000${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
    if (problems.length >= MAX_PROBLEMS) break;
  }
  return problems;
}

/** The strings of an endpoint that may hold references, with their pointers. */
function* templatedStrings(name: string, endpoint: Shaped<HttpEndpoint>) {
  if (endpoint.url !== undefined) yield { pointer: pointerOf('endpoints', name, 'url'), text: endpoint.url };
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

/** Stands for an `${env:…}` value, unknown until activation: a NUL, which no valid URL or header holds. */
const ENV_MARK = '\u0000env\u0000';

/** Own keys only: a document naming `toString` or `constructor` must not find Object's. */
const declares = (section: object, name: string) => Object.hasOwn(section, name);

/**
 * A string as far as it can be known without the environment: variables substituted, each `${env:…}`
 * left as a marker. Undefined when a reference cannot be followed (reported elsewhere).
 */
function withoutEnv(text: string, vars: ShapedConfig['vars']): string | undefined {
  let broken = false;
  const depth = new Set<string>();
  // Each variable expanded once: a chain of variables of thousands of references each is otherwise
  // followed thousands of times over at every level, and held the event loop for minutes.
  const done = new Map<string, string>();
  const expand = (text: string): string => {
    let length = text.length;
    return substitute(text, (reference: Reference) => {
      if (reference.kind === 'env') return ENV_MARK;
      const variable = declares(vars, reference.name) ? vars[reference.name] : undefined;
      if (broken || variable === undefined || depth.has(reference.name)) {
        broken = true;
        return '';
      }
      let expanded = done.get(reference.name);
      if (expanded === undefined) {
        depth.add(reference.name);
        const value = valueOf(variable);
        expanded = typeof value === 'string' ? expand(value) : String(value);
        depth.delete(reference.name);
        done.set(reference.name, expanded);
      }
      length += expanded.length;
      // Too long to be a URL or a header; resolveVars reports it when the version is activated.
      if (length > MAX_EXPANDED_CHARS) broken = true;
      return broken ? '' : expanded;
    });
  };
  const expanded = expand(text);
  return broken ? undefined : expanded;
}

/**
 * Where a URL may not go; undefined when it may. With `written` (the url as the configuration writes it,
 * given when its host comes from a secret variable), the message names that instead of the host.
 */
export function urlProblem(
  url: string,
  allowedHosts: readonly string[],
  written?: string,
): string | undefined {
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
  const verdict = hostVerdict(parsed, allowedHosts);
  if (verdict === 'allowed') return undefined;
  const reaches =
    written === undefined
      ? `reaches ${parsed.host}, `
      : `reaches a host that comes from a secret (${written}) and `;
  if (allowedHosts.length === 0) {
    return `${reaches}${written === undefined ? 'but SWITCHBOARD_ENDPOINT_HOSTS allows no host; add it there' : 'SWITCHBOARD_ENDPOINT_HOSTS allows no host'}`;
  }
  const notIn = `${written === undefined ? 'which ' : ''}is not in SWITCHBOARD_ENDPOINT_HOSTS (${allowedHosts.join(', ')})`;
  if (verdict === 'host') return `${reaches}${notIn}`;
  const add = written === undefined ? `; add ${parsed.host} to allow this one` : '';
  return `${reaches}${notIn}: an entry without a port allows ports 80 and 443 only${add}`;
}

/** True when `text` refers to one of `secret` (variables that are secret or built from one). */
function refersToSecret(text: string, secret: ReadonlySet<string>): boolean {
  return referencesIn(text).references.some(
    (reference) => reference.kind === 'var' && secret.has(reference.name),
  );
}

function headerProblem(header: string): string | undefined {
  if (!HEADER_NAME.test(header)) return 'is not a valid header name';
  const name = header.toLowerCase();
  if (name === 'host')
    return "may not be set: requests go to the url's host, as SWITCHBOARD_ENDPOINT_HOSTS allows";
  if (STEERING_HEADERS.has(name))
    return 'may not be set: it is about the connection, which the server runs itself';
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
  return shapedRuleProblems(wholeShape(config), context);
}

/**
 * The rules, for what of a document has the schema's shape (shaped.ts): a property in another shape is
 * the schema's to report, and a reference into a section that is no object is not judged.
 */
function shapedRuleProblems(config: ShapedConfig, context: ValidationContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { vars, endpoints, functions, declared } = config;
  const secret = resolveVars(vars, {}).secret;
  const undeclared = (names: ReadonlySet<string> | undefined, name: string) =>
    names !== undefined && !names.has(name);

  const checkReferences = (pointer: string, text: string) => {
    const { references, errors } = referencesIn(text);
    for (const message of errors) problems.push({ pointer, message });
    for (const reference of references) {
      if (reference.kind === 'var' && undeclared(declared.vars, reference.name)) {
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
      const invalid = headerProblem(header);
      if (invalid) problems.push({ pointer, message: invalid });
      // A line break from a variable would split the header as surely as one written here.
      const expanded = (withoutEnv(value, vars) ?? value).replaceAll(ENV_MARK, '');
      if (/[\r\n\0]/.test(expanded)) {
        problems.push({ pointer, message: 'must not contain line breaks' });
      }
    }
    const timeout = endpoint.timeout === undefined ? undefined : parseDuration(endpoint.timeout);
    if (timeout !== undefined && (timeout < 100 || timeout > 300_000)) {
      problems.push({
        pointer: pointerOf('endpoints', name, 'timeout'),
        message: 'must be between 100ms and 5m',
      });
    }
    const url = endpoint.url === undefined ? undefined : withoutEnv(endpoint.url, vars);
    // A host that comes from the environment is checked when the version is activated.
    if (endpoint.url !== undefined && url !== undefined && !hostFromEnvironment(url)) {
      const written = refersToSecret(endpoint.url, secret) ? endpoint.url : undefined;
      const message = urlProblem(url, context.allowedHosts, written);
      if (message) problems.push({ pointer: pointerOf('endpoints', name, 'url'), message });
    }
  }

  for (const [name, fn] of Object.entries(functions)) {
    const located = fn.module === undefined ? undefined : modulePath(context.functionsDir, fn.module);
    if (located && 'problem' in located) {
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

  for (const [name, stream] of Object.entries(config.streams)) {
    const pointer = pointerOf('streams', name);
    const reserved = reservedNameProblem(name);
    if (reserved) problems.push({ pointer, message: reserved });
    // Named, in whatever shape: a source written as 5 is still one source.
    if (Object.hasOwn(stream, 'endpoint') === Object.hasOwn(stream, 'function')) {
      problems.push({ pointer, message: 'must name exactly one source: "endpoint" or "function"' });
    }
    if (stream.endpoint !== undefined && undeclared(declared.endpoints, stream.endpoint)) {
      problems.push({
        pointer: `${pointer}/endpoint`,
        message: `no endpoint "${stream.endpoint}" is declared`,
      });
    }
    if (stream.function !== undefined && undeclared(declared.functions, stream.function)) {
      problems.push({
        pointer: `${pointer}/function`,
        message: `no function "${stream.function}" is declared`,
      });
    }
    const interval = stream.interval === undefined ? undefined : parseDuration(stream.interval);
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
function cycles(vars: ShapedConfig['vars']): ConfigProblem[] {
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
    if (!declares(vars, name)) return;
    const variable = vars[name] as Variable;
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

/**
 * Every problem of the document in one answer: the schema's, and the rules' for what has the schema's
 * shape (shaped.ts), up to MAX_PROBLEMS. Only a document past the limits of document-limits.ts is refused
 * with that alone, before anything else walks it.
 */
export function validateConfig(
  document: unknown,
  context: ValidationContext,
): { ok: true; config: EndpointConfig } | { ok: false; problems: ConfigProblem[] } {
  const limits = limitProblems(document);
  if (limits.length > 0) return { ok: false, problems: limits };
  const shape = shapeProblems(document);
  const parts = shape.length === 0 ? wholeShape(document as EndpointConfig) : shapedParts(document);
  const rules = shapedRuleProblems(parts, context);
  if (shape.length === 0 && rules.length === 0) return { ok: true, config: document as EndpointConfig };
  // Messages never quote a secret's value; masking the ones written in the document is the last line.
  const mask = secretMasker(literalSecrets(parts.vars));
  const masked = rules.map((p) => ({ pointer: p.pointer, message: mask(p.message) }));
  return { ok: false, problems: [...shape, ...masked].slice(0, MAX_PROBLEMS) };
}

/** The values of secret variables that the document itself holds (not those from the environment). */
function literalSecrets(vars: ShapedConfig['vars']): string[] {
  const resolved = resolveVars(vars, {});
  return [...resolved.secret].flatMap((name) => {
    const value = resolved.values.get(name);
    return value === undefined || typeof value === 'boolean' ? [] : [String(value)];
  });
}
