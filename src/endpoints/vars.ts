import type { EndpointConfig, Variable } from './schema.js';

/*
 * `${name}` refers to a variable, `${env:NAME}` to the server's environment (only `SWITCHBOARD_VAR_*`, so a
 * configuration cannot read the server's own secrets), and `$${` is a literal `${`. A `${` that is never
 * closed is reported rather than left in the text unnoticed.
 */
export const ENV_NAME = /^SWITCHBOARD_VAR_[A-Z0-9_]{1,64}$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Longer than any name can be: what a message quotes of a reference it refuses. */
const QUOTED_CHARS = 64;
const UNCLOSED = '${ is not closed: write ${name}, or $${ for a literal ${';

export const MASK = '********';

/**
 * The most a string may hold once its references are substituted. A chain of references multiplies size
 * as it goes (a variable of 16,000 references to one of 16,000 references to 64 KB is 16 TB), and past
 * about 512 MB a string cannot be made at all: the save or activation failed with a 500.
 */
export const MAX_EXPANDED_CHARS = 1_048_576;
export const TOO_LONG_EXPANDED = `expands to more than ${MAX_EXPANDED_CHARS.toLocaleString('en-US')} characters once its references are substituted`;

export type Reference = { kind: 'var'; name: string } | { kind: 'env'; name: string };

interface ReferenceVisitor {
  /** A `$${` at `at`. */
  escape?(at: number): void;
  /** `${inner}` from `at` up to `end` (exclusive). */
  reference?(at: number, end: number, inner: string): void;
  /** A `${` at `at` with no `}` anywhere after it. */
  unclosed?(at: number): void;
}

/**
 * Reads `text` once, left to right: `$${` is a literal, `${` up to the next `}` a reference, a `${` with
 * no `}` after it unclosed. The next `}` is looked up once and kept until passed, and once there is none
 * it is not looked for again, so the work grows with the length of the text. The regex this replaces
 * (`/\$\$\{|\$\{([^}]*)\}|\$\{/g`) looked for a `}` again from every `${`: 200 KB of `${` held the
 * server for 41 s.
 */
function scan(text: string, visitor: ReferenceVisitor): void {
  let from = 0;
  let close = -1;
  let closed = true;
  for (let at = text.indexOf('${', from); at !== -1; at = text.indexOf('${', from)) {
    // No token ends with `$`, so a `$` just before this `${` is free to start an escape.
    if (at > from && text.charCodeAt(at - 1) === 36) {
      visitor.escape?.(at - 1);
      from = at + 2;
      continue;
    }
    if (closed && close < at + 2) {
      close = text.indexOf('}', at + 2);
      closed = close !== -1;
    }
    if (!closed) {
      visitor.unclosed?.(at);
      from = at + 2;
      continue;
    }
    visitor.reference?.(at, close + 1, text.slice(at + 2, close));
    from = close + 1;
  }
}

const quoted = (text: string) => (text.length > QUOTED_CHARS ? `${text.slice(0, QUOTED_CHARS)}…` : text);

const referenceOf = (inner: string): Reference =>
  inner.startsWith('env:') ? { kind: 'env', name: inner.slice(4) } : { kind: 'var', name: inner };

/**
 * The references in a string; a malformed one is reported as an error message instead, each distinct
 * message once (a text of a thousand unclosed `${` has one problem, not a thousand).
 */
export function referencesIn(text: string): { references: Reference[]; errors: string[] } {
  const references: Reference[] = [];
  const errors = new Set<string>();
  scan(text, {
    unclosed: () => errors.add(UNCLOSED),
    reference: (_at, _end, inner) => {
      const reference = referenceOf(inner);
      if (reference.kind === 'env') {
        if (ENV_NAME.test(reference.name)) references.push(reference);
        else {
          errors.add(
            `\${env:${quoted(reference.name)}} may not be read: the configuration reads only environment variables named SWITCHBOARD_VAR_*`,
          );
        }
      } else if (VAR_NAME.test(inner)) {
        references.push(reference);
      } else {
        errors.add(
          `\${${quoted(inner)}} is not a reference: write \${variable} or \${env:SWITCHBOARD_VAR_NAME}`,
        );
      }
    },
  });
  return { references, errors: [...errors] };
}

/** Replaces every reference with what `lookup` gives for it; `$${` becomes `${`, an unclosed `${` stays. */
export function substitute(text: string, lookup: (reference: Reference) => string): string {
  const parts: string[] = [];
  let copied = 0;
  scan(text, {
    escape: (at) => {
      parts.push(text.slice(copied, at), '${');
      copied = at + 3;
    },
    reference: (at, end, inner) => {
      parts.push(text.slice(copied, at), lookup(referenceOf(inner)));
      copied = end;
    },
  });
  if (parts.length === 0) return text;
  parts.push(text.slice(copied));
  return parts.join('');
}

export function valueOf(variable: Variable): string | number | boolean {
  return typeof variable === 'object' ? variable.value : variable;
}

export function isSecret(variable: Variable): boolean {
  return typeof variable === 'object' && variable.secret === true;
}

export interface ResolvedVars {
  /** Every variable's value, secrets included: for the runtime only. */
  readonly values: ReadonlyMap<string, string | number | boolean>;
  /** Variables whose value is secret, or is built from a secret one. */
  readonly secret: ReadonlySet<string>;
  /** Per variable, why it has no value (an unset environment variable, a cycle, an unknown reference). */
  readonly problems: ReadonlyMap<string, string>;
}

/**
 * Resolves every variable against `env`. A variable referring to a secret one is secret too, so a secret
 * cannot leak by being copied into another variable.
 */
export function resolveVars(vars: EndpointConfig['vars'], env: NodeJS.ProcessEnv): ResolvedVars {
  const declared = new Map(Object.entries(vars ?? {}));
  const values = new Map<string, string | number | boolean>();
  const secret = new Set<string>();
  const problems = new Map<string, string>();
  const visiting = new Set<string>();

  const resolve = (name: string): string | number | boolean | undefined => {
    if (values.has(name)) return values.get(name);
    if (problems.has(name)) return undefined;
    const variable = declared.get(name);
    if (variable === undefined) return undefined;
    if (visiting.has(name)) {
      const path = [...visiting];
      problems.set(name, `refers to itself through ${[...path.slice(path.indexOf(name)), name].join(' → ')}`);
      return undefined;
    }
    visiting.add(name);
    try {
      const raw = valueOf(variable);
      if (isSecret(variable)) secret.add(name);
      if (typeof raw !== 'string') {
        values.set(name, raw);
        return raw;
      }
      let failure: string | undefined;
      let length = raw.length;
      const text = substitute(raw, (reference) => {
        let value: string | number | boolean | undefined;
        if (reference.kind === 'env') {
          value = ENV_NAME.test(reference.name) ? env[reference.name] : undefined;
          if (value === undefined) failure ??= `\${env:${reference.name}} is not set on this server`;
        } else {
          value = resolve(reference.name);
          if (value === undefined) {
            failure ??= declared.has(reference.name)
              ? (problems.get(reference.name) ?? `\${${reference.name}} has no value`)
              : `\${${reference.name}} is not a declared variable`;
          }
          if (secret.has(reference.name)) secret.add(name);
        }
        const part = String(value ?? '');
        length += part.length;
        if (length <= MAX_EXPANDED_CHARS) return part;
        failure ??= TOO_LONG_EXPANDED;
        return '';
      });
      if (failure !== undefined) {
        problems.set(name, failure);
        return undefined;
      }
      values.set(name, text);
      return text;
    } finally {
      visiting.delete(name);
    }
  };

  for (const name of declared.keys()) resolve(name);
  return { values, secret, problems };
}

/** What GET /config shows of the variables: values, secrets masked, `null` for one that has none. */
export function presentVars(resolved: ResolvedVars, names: Iterable<string>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const name of names) {
    if (resolved.secret.has(name)) shown[name] = MASK;
    else shown[name] = resolved.values.get(name) ?? null;
  }
  return shown;
}

/** True when `text` is nothing but references: `${env:A}${b}`, not `Bearer ${env:A}` nor `k3y${env:A}`. */
function onlyReferences(text: string): boolean {
  const { references, errors } = referencesIn(text);
  return references.length > 0 && errors.length === 0 && substitute(text, () => '') === '';
}

/**
 * The document as anyone may see it: literal values of secret variables become the mask. A value made
 * only of references (`${env:…}`) is shown as written: it names where a secret comes from, not the
 * secret. One that mixes in literal text is masked whole, since that text may be (part of) the secret.
 */
export function maskSecrets(config: EndpointConfig): EndpointConfig {
  if (!config.vars) return config;
  // Entries made into own properties: assigning a variable named "__proto__" would drop it, secret and all.
  const vars: NonNullable<EndpointConfig['vars']> = Object.fromEntries(
    Object.entries(config.vars).map(([name, variable]) => {
      if (!isSecret(variable) || typeof variable !== 'object') return [name, variable];
      const shown = typeof variable.value === 'string' && onlyReferences(variable.value);
      return [name, shown ? variable : { ...variable, value: MASK }];
    }),
  );
  return { ...config, vars };
}

/** True when maskSecrets would change nothing in the document: it holds no secret value to mask. */
export function masksNothing(config: EndpointConfig): boolean {
  return Object.values(config.vars ?? {}).every(
    (variable) =>
      !isSecret(variable) ||
      typeof variable !== 'object' ||
      (typeof variable.value === 'string' && onlyReferences(variable.value)),
  );
}

/**
 * A saved document whose secret variable still holds the mask (an editor round-tripped what GET /config
 * showed) keeps that variable's value from `previous`: the mask is never stored as a value. Only a
 * variable that stays secret keeps it: `{"value": "********", "secret": false}` would otherwise show the
 * previous secret in the clear.
 */
export function restoreMaskedSecrets(
  config: EndpointConfig,
  previous: EndpointConfig | undefined,
): {
  config: EndpointConfig;
  unrestored: string[];
} {
  // Not an object: left as it is, for validation to refuse (read as one, `-1.5` would become `{}` and pass).
  const given: unknown = config.vars;
  if (given === null || typeof given !== 'object' || Array.isArray(given)) return { config, unrestored: [] };
  const vars: NonNullable<EndpointConfig['vars']> = {};
  const unrestored: string[] = [];
  for (const [name, variable] of Object.entries(given as NonNullable<EndpointConfig['vars']>)) {
    if (variable !== null && typeof variable === 'object' && variable.value === MASK) {
      const before = previous?.vars && Object.hasOwn(previous.vars, name) ? previous.vars[name] : undefined;
      if (isSecret(variable) && typeof before === 'object' && isSecret(before)) {
        vars[name] = { ...variable, value: before.value };
        continue;
      }
      unrestored.push(name);
    }
    vars[name] = variable;
  }
  return { config: { ...config, vars }, unrestored };
}
