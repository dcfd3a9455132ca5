import type { EndpointConfig, Variable } from './schema.js';

/**
 * `${name}` refers to a variable, `${env:NAME}` to the server's environment (only `SWITCHBOARD_VAR_*`, so a
 * configuration cannot read the server's own secrets), and `$${` is a literal `${`. A `${` that is never
 * closed is matched too, so that it is reported rather than left in the text unnoticed.
 */
const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
export const ENV_NAME = /^SWITCHBOARD_VAR_[A-Z0-9_]{1,64}$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export const MASK = '********';

export type Reference = { kind: 'var'; name: string } | { kind: 'env'; name: string };

/** The references in a string; a malformed one is reported as an error message instead. */
export function referencesIn(text: string): { references: Reference[]; errors: string[] } {
  const references: Reference[] = [];
  const errors: string[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    const inner = match[1];
    if (inner === undefined) {
      if (match[0] === '${') errors.push('${ is not closed: write ${name}, or $${ for a literal ${');
      continue;
    }
    if (inner.startsWith('env:')) {
      const name = inner.slice(4);
      if (ENV_NAME.test(name)) references.push({ kind: 'env', name });
      else {
        errors.push(
          `\${env:${name}} may not be read: the configuration reads only environment variables named SWITCHBOARD_VAR_*`,
        );
      }
    } else if (VAR_NAME.test(inner)) {
      references.push({ kind: 'var', name: inner });
    } else {
      errors.push(`\${${inner}} is not a reference: write \${variable} or \${env:SWITCHBOARD_VAR_NAME}`);
    }
  }
  return { references, errors };
}

/** Replaces every reference with what `lookup` gives for it. */
export function substitute(text: string, lookup: (reference: Reference) => string): string {
  return text.replace(REFERENCE, (whole: string, inner: string | undefined) => {
    if (inner === undefined) return whole === '$${' ? '${' : whole;
    return lookup(
      inner.startsWith('env:') ? { kind: 'env', name: inner.slice(4) } : { kind: 'var', name: inner },
    );
  });
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
      const text = substitute(raw, (reference) => {
        if (reference.kind === 'env') {
          const value = ENV_NAME.test(reference.name) ? env[reference.name] : undefined;
          if (value === undefined) failure ??= `\${env:${reference.name}} is not set on this server`;
          return value ?? '';
        }
        const value = resolve(reference.name);
        if (value === undefined) {
          failure ??= declared.has(reference.name)
            ? (problems.get(reference.name) ?? `\${${reference.name}} has no value`)
            : `\${${reference.name}} is not a declared variable`;
        }
        if (secret.has(reference.name)) secret.add(name);
        return String(value ?? '');
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
  const vars: NonNullable<EndpointConfig['vars']> = {};
  for (const [name, variable] of Object.entries(config.vars)) {
    if (isSecret(variable) && typeof variable === 'object') {
      const shown = typeof variable.value === 'string' && onlyReferences(variable.value);
      vars[name] = shown ? variable : { ...variable, value: MASK };
    } else {
      vars[name] = variable;
    }
  }
  return { ...config, vars };
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
  if (!config.vars) return { config, unrestored: [] };
  const vars: NonNullable<EndpointConfig['vars']> = {};
  const unrestored: string[] = [];
  for (const [name, variable] of Object.entries(config.vars)) {
    if (typeof variable === 'object' && variable.value === MASK) {
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
