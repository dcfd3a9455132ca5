/** A JSON Schema as served by /api/v1/config/schema: plain JSON, walked without compiling anything. */
export type Schema = { [keyword: string]: unknown };

const isSchema = (value: unknown): value is Schema =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The schema at a local `$ref` ("#/…") of `root`. */
function resolveRef(root: Schema, ref: string): Schema | null {
  if (!ref.startsWith('#')) return null;
  let at: unknown = root;
  for (const token of ref.slice(2).split('/').filter(Boolean)) {
    if (!isSchema(at)) return null;
    at = at[decodeURIComponent(token).replaceAll('~1', '/').replaceAll('~0', '~')];
  }
  return isSchema(at) ? at : null;
}

/** A schema with its references followed and its combinations (anyOf, oneOf, allOf) spread out. */
export function alternatives(root: Schema, schema: Schema, depth = 0): Schema[] {
  if (depth > 16) return [];
  const found: Schema[] = [schema];
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(root, schema.$ref);
    if (target) found.push(...alternatives(root, target, depth + 1));
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf']) {
    const list = schema[keyword];
    if (Array.isArray(list)) {
      for (const entry of list) if (isSchema(entry)) found.push(...alternatives(root, entry, depth + 1));
    }
  }
  return found;
}

function childOf(schema: Schema, token: string): Schema[] {
  const found: Schema[] = [];
  const properties = schema.properties;
  if (isSchema(properties) && isSchema(properties[token])) return [properties[token] as Schema];
  const patterns = schema.patternProperties;
  if (isSchema(patterns)) {
    for (const [pattern, sub] of Object.entries(patterns)) {
      try {
        if (isSchema(sub) && new RegExp(pattern, 'u').test(token)) found.push(sub);
      } catch {
        // A pattern this browser cannot read offers nothing.
      }
    }
  }
  if (found.length === 0 && isSchema(schema.additionalProperties)) found.push(schema.additionalProperties);
  if (/^\d+$/.test(token)) {
    if (Array.isArray(schema.prefixItems) && isSchema(schema.prefixItems[Number(token)])) {
      found.push(schema.prefixItems[Number(token)] as Schema);
    } else if (isSchema(schema.items)) {
      found.push(schema.items);
    }
  }
  return found;
}

/** Every schema that may describe the value at `path`. */
export function schemasAt(root: Schema, path: readonly string[]): Schema[] {
  let current = alternatives(root, root);
  for (const token of path) {
    current = current.flatMap((schema) => childOf(schema, token)).flatMap((s) => alternatives(root, s));
    if (current.length === 0) break;
  }
  return current;
}

export interface KeyOffer {
  key: string;
  description: string;
  type: string | null;
  required: boolean;
}

/** The keys an object at `path` may have, each with its description. */
export function keysAt(root: Schema, path: readonly string[]): KeyOffer[] {
  const offers = new Map<string, KeyOffer>();
  for (const schema of schemasAt(root, path)) {
    const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
    if (!isSchema(schema.properties)) continue;
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (offers.has(key) || !isSchema(sub)) continue;
      const described = alternatives(root, sub);
      offers.set(key, {
        key,
        description: describe(described),
        type: typeOf(described),
        required: required.has(key),
      });
    }
  }
  return [...offers.values()];
}

export function typeOf(schemas: readonly Schema[]): string | null {
  const types = new Set<string>();
  for (const schema of schemas) {
    if (typeof schema.type === 'string') types.add(schema.type);
    if (Array.isArray(schema.type)) for (const t of schema.type) types.add(String(t));
    if (schema.patternProperties || schema.properties) types.add('object');
  }
  return types.size === 0 ? null : [...types].join(' or ');
}

/** The first title and description among `schemas`, as one text. */
export function describe(schemas: readonly Schema[]): string {
  const title = schemas.find((s) => typeof s.title === 'string')?.title as string | undefined;
  const description = schemas.find((s) => typeof s.description === 'string')?.description as
    | string
    | undefined;
  return [title, description].filter(Boolean).join(': ');
}
