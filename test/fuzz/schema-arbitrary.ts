import fc from 'fast-check';

/**
 * fast-check arbitraries derived from JSON Schemas (the subset the OpenAPI document and the configuration's
 * schema use: type, enum, const, anyOf/oneOf/allOf, properties, required, additionalProperties,
 * patternProperties, items, the length, range and count bounds, pattern and format), and mutations that
 * break a valid value at one place in the ways a client gets wrong.
 */

export type JsonSchema = Record<string, any>;

/** A value taken from the run's world when the request is sent (an id that exists, a name in use). */
export class PoolRef {
  constructor(
    readonly pool: string,
    readonly k: number,
  ) {}
}

/** Whose values fill a field: the schema's own, or the world's (see PoolRef), by the field's name. */
export type Hint = (name: string, schema: JsonSchema) => fc.Arbitrary<unknown> | undefined;

const noHint: Hint = () => undefined;

/** A pool reference for `pool`, chosen when the request is made. */
export const ref = (pool: string): fc.Arbitrary<PoolRef> => fc.nat().map((k) => new PoolRef(pool, k));

/** Any JSON value, small. */
export const anyJson = (): fc.Arbitrary<unknown> =>
  fc.jsonValue({ maxDepth: 3, depthSize: 'small' }) as fc.Arbitrary<unknown>;

function typesOf(schema: JsonSchema): string[] | undefined {
  if (schema.type === undefined) return undefined;
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

const DATE_MIN = new Date('1970-01-01T00:00:00Z');
const DATE_MAX = new Date('2100-01-01T00:00:00Z');

function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min: number = schema.minLength ?? 0;
  const max: number | undefined = schema.maxLength;
  if (schema.format === 'date-time') {
    return fc.date({ min: DATE_MIN, max: DATE_MAX, noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (schema.format === 'json-pointer') {
    return fc
      .array(fc.string({ maxLength: 8 }), { maxLength: 4 })
      .map((parts) => parts.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join(''));
  }
  if (typeof schema.pattern === 'string') {
    const regex = new RegExp(schema.pattern);
    return fc
      .stringMatching(regex, { maxLength: Math.min(max ?? 200, 200), size: 'xsmall' })
      .filter((s) => s.length >= min && (max === undefined || s.length <= max) && regex.test(s));
  }
  const cap = Math.min(max ?? 40, 40);
  const bounds = { minLength: Math.min(min, cap), maxLength: Math.max(cap, Math.min(min, cap)) };
  const plain = fc.oneof(
    { weight: 3, arbitrary: fc.string({ ...bounds, unit: 'grapheme-ascii' }) },
    { weight: 1, arbitrary: fc.string({ ...bounds, unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.string({ ...bounds, unit: 'binary' }) },
  );
  const filtered = min > 0 ? plain.filter((s) => s.length >= min) : plain;
  // The bounds themselves, where off-by-one mistakes live.
  const edges: fc.Arbitrary<string>[] = [];
  if (max !== undefined && max <= 100_000) edges.push(fc.constant('x'.repeat(max)));
  if (min > 0) edges.push(fc.constant('y'.repeat(min)));
  return edges.length ? fc.oneof({ arbitrary: filtered, weight: 6 }, ...edges) : filtered;
}

function numberArbitrary(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min: number | undefined = schema.minimum ?? (schema.exclusiveMinimum as number | undefined);
  const max: number | undefined = schema.maximum ?? (schema.exclusiveMaximum as number | undefined);
  if (integer) {
    const lo = Math.max(min ?? -(2 ** 31), Number.MIN_SAFE_INTEGER);
    const hi = Math.min(max ?? 2 ** 31, Number.MAX_SAFE_INTEGER);
    const arb = fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) });
    return schema.exclusiveMinimum !== undefined || schema.exclusiveMaximum !== undefined
      ? arb.filter(
          (n) =>
            (schema.exclusiveMinimum === undefined || n > schema.exclusiveMinimum) &&
            (schema.exclusiveMaximum === undefined || n < schema.exclusiveMaximum),
        )
      : arb;
  }
  return fc.double({ min: min ?? -1e9, max: max ?? 1e9, noNaN: true, noDefaultInfinity: true });
}

function mergeAll(parts: JsonSchema[]): JsonSchema {
  const merged: JsonSchema = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (key === 'properties') merged.properties = { ...merged.properties, ...value };
      else if (key === 'required') merged.required = [...(merged.required ?? []), ...value];
      else merged[key] = value;
    }
  }
  return merged;
}

/** An arbitrary of values valid against `schema`; `hint` may supply a field's values by its name. */
export function arbitraryOf(schema: JsonSchema, hint: Hint = noHint, name = ''): fc.Arbitrary<unknown> {
  const hinted = hint(name, schema);
  if (hinted)
    return fc.oneof({ arbitrary: hinted, weight: 4 }, { arbitrary: plainOf(schema, hint), weight: 1 });
  return plainOf(schema, hint);
}

function plainOf(schema: JsonSchema, hint: Hint): fc.Arbitrary<unknown> {
  if ((schema as unknown) === true || schema === undefined) return anyJson();
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...rest } = schema;
    return plainOf(mergeAll([rest, ...allOf]), hint);
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives)) {
    return fc.oneof(...alternatives.map((alt: JsonSchema) => arbitraryOf({ ...alt }, hint)));
  }
  const types = typesOf(schema);
  if (!types) {
    if (schema.properties || schema.patternProperties) return objectArbitrary(schema, hint);
    if (schema.items) return arrayArbitrary(schema, hint);
    return anyJson();
  }
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'string':
          return stringArbitrary(schema);
        case 'integer':
          return numberArbitrary(schema, true);
        case 'number':
          return numberArbitrary(schema, false);
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array':
          return arrayArbitrary(schema, hint);
        case 'object':
          return objectArbitrary(schema, hint);
        default:
          return anyJson();
      }
    }),
  );
}

function arrayArbitrary(schema: JsonSchema, hint: Hint): fc.Arbitrary<unknown[]> {
  const items = arbitraryOf(schema.items ?? {}, hint, 'items');
  const minLength: number = schema.minItems ?? 0;
  const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 4, 4));
  if (schema.uniqueItems) {
    return fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) });
  }
  return fc.array(items, { minLength, maxLength });
}

function objectArbitrary(schema: JsonSchema, hint: Hint): fc.Arbitrary<Record<string, unknown>> {
  const properties: Record<string, JsonSchema> = schema.properties ?? {};
  const required = new Set<string>(schema.required ?? []);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, sub] of Object.entries(properties)) model[key] = arbitraryOf(sub, hint, key);
  const record = fc.record(model, { requiredKeys: [...required].filter((k) => k in model) });
  const patterned = Object.entries((schema.patternProperties ?? {}) as Record<string, JsonSchema>);
  let result: fc.Arbitrary<Record<string, unknown>> = record;
  if (patterned.length > 0) {
    const extras = patterned.map(([pattern, sub]) =>
      fc.dictionary(
        stringArbitrary({ pattern }).filter((k) => !(k in properties)),
        arbitraryOf(sub, hint, pattern),
        { maxKeys: 3 },
      ),
    );
    result = fc.tuple(record, ...extras).map(([base, ...more]) => Object.assign({}, ...more, base));
  }
  const minProperties: number = schema.minProperties ?? 0;
  return minProperties > 0 ? result.filter((o) => Object.keys(o).length >= minProperties) : result;
}

/** A small deterministic generator, for the payloads of mutations (their choice comes from fast-check). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Mutation {
  /** Which way to break it (index into the applicable kinds, modulo their number). */
  kind: number;
  /** Where (index into the places a kind applies to, modulo their number). */
  at: number;
  seed: number;
}

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.nat(),
  at: fc.nat(),
  seed: fc.nat(),
});

interface Place {
  path: (string | number)[];
  schema: JsonSchema;
  value: unknown;
}

/** Every node of `value` with the schema that governs it (the first alternative that fits, for unions). */
function placesOf(schema: JsonSchema, value: unknown, path: (string | number)[] = [], out: Place[] = []) {
  const effective = narrow(schema, value);
  out.push({ path, schema: effective, value });
  if (Array.isArray(value)) {
    value.forEach((item, i) => placesOf(effective.items ?? {}, item, [...path, i], out));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const sub =
        effective.properties?.[key] ??
        Object.entries((effective.patternProperties ?? {}) as Record<string, JsonSchema>).find(([p]) =>
          new RegExp(p).test(key),
        )?.[1] ??
        {};
      placesOf(sub, item, [...path, key], out);
    }
  }
  return out;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function narrow(schema: JsonSchema, value: unknown): JsonSchema {
  if (!schema || typeof schema !== 'object') return {};
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...rest } = schema;
    return narrow(mergeAll([rest, ...allOf]), value);
  }
  const alternatives: JsonSchema[] | undefined = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives)) {
    const kind = kindOf(value);
    const fit = alternatives.find((alt) => {
      const types = typesOf(alt);
      if (Array.isArray(alt.enum)) return alt.enum.includes(value);
      return !types || types.includes(kind) || (kind === 'integer' && types.includes('number'));
    });
    return narrow(fit ?? {}, value);
  }
  return schema;
}

const OTHER_TYPES: unknown[] = [12345, -1.5, 'a string', true, false, null, [], {}, [1, 'two'], { x: 1 }];

/**
 * A value `depth` levels deep (arrays or objects). It stays a marker until `jsonText` writes it out as
 * text: JSON.stringify recurses and would give out before the server is tested.
 */
export class DeepJson {
  constructor(
    readonly depth: number,
    readonly objects: boolean,
  ) {}

  text(): string {
    return this.objects
      ? `${'{"a":'.repeat(this.depth)}0${'}'.repeat(this.depth)}`
      : `${'['.repeat(this.depth)}0${']'.repeat(this.depth)}`;
  }
}

const DEEP_MARK = '\u0000deep-json:';

/** `value` as JSON text, DeepJson markers written out in place. */
export function jsonText(value: unknown): string {
  const deep: DeepJson[] = [];
  const text = JSON.stringify(value, (_key, v) => {
    if (v instanceof DeepJson) {
      deep.push(v);
      return `${DEEP_MARK}${deep.length - 1}`;
    }
    return v;
  });
  if (deep.length === 0) return text;
  return text.replace(/"\\u0000deep-json:(\d+)"/g, (_m, i: string) => (deep[Number(i)] as DeepJson).text());
}

function setAt(root: unknown, path: (string | number)[], replace: (old: unknown) => unknown): unknown {
  if (path.length === 0) return replace(root);
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as object) };
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  copy[head] = setAt(copy[head], rest, replace);
  return copy;
}

function deleteAt(root: unknown, path: (string | number)[], key: string): unknown {
  return setAt(root, path, (old) => {
    const copy = { ...(old as Record<string, unknown>) };
    delete copy[key];
    return copy;
  });
}

/** What a mutation did, for the report of a failure. */
export interface Mutated {
  value: unknown;
  how: string;
}

/**
 * `value` (valid against `schema`) broken at one place: a wrong type, a required field gone, a field the
 * schema does not know, a bound overstepped, a pattern or format broken, a value outside its enum, a huge
 * string or a deeply nested value. `hugeBytes` caps the huge strings.
 */
export function mutate(schema: JsonSchema, value: unknown, m: Mutation, hugeBytes: number): Mutated {
  const random = prng(m.seed);
  const places = placesOf(schema, value);
  type Kind = { name: string; applies: (p: Place) => boolean; apply: (p: Place) => unknown };
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  const replaceWith = (p: Place, make: (old: unknown) => unknown) => setAt(value, p.path, make);
  const kinds: Kind[] = [
    {
      name: 'wrong type',
      applies: () => true,
      apply: (p) => replaceWith(p, (old) => pick(OTHER_TYPES.filter((o) => kindOf(o) !== kindOf(old)))),
    },
    {
      name: 'missing required',
      applies: (p) => kindOf(p.value) === 'object' && (p.schema.required ?? []).length > 0,
      apply: (p) => deleteAt(value, p.path, pick(p.schema.required as string[])),
    },
    {
      name: 'extra property',
      applies: (p) => kindOf(p.value) === 'object',
      apply: (p) =>
        replaceWith(p, (old) => ({
          ...(old as object),
          [pick(['extra', '__proto__', 'constructor', 'is_admin', '', 'x'.repeat(300)])]: pick(OTHER_TYPES),
        })),
    },
    {
      name: 'too long',
      applies: (p) => typeof p.value === 'string' && p.schema.maxLength !== undefined,
      apply: (p) =>
        replaceWith(p, () => 'z'.repeat((p.schema.maxLength as number) + 1 + Math.floor(random() * 3))),
    },
    {
      name: 'too short',
      applies: (p) => typeof p.value === 'string' && (p.schema.minLength ?? 0) > 0,
      apply: (p) => replaceWith(p, () => ''),
    },
    {
      name: 'pattern or format broken',
      applies: (p) =>
        typeof p.value === 'string' && (p.schema.pattern !== undefined || p.schema.format !== undefined),
      apply: (p) =>
        replaceWith(p, (old) =>
          pick([
            `${old} !`,
            `\u0000${old}`,
            '../../etc/passwd',
            'not-a-date',
            '2024-13-45T99:99:99Z',
            '~2',
            ' ',
            '\ud800',
            `${old}\n`,
            '%00',
          ]),
        ),
    },
    {
      name: 'out of range',
      applies: (p) => typeof p.value === 'number',
      apply: (p) =>
        replaceWith(p, () =>
          pick([
            (p.schema.minimum ?? 0) - 1,
            (p.schema.maximum ?? 0) + 1,
            1e308,
            -1e308,
            2 ** 53 + 1,
            0.5,
            -0,
            Number.MIN_VALUE,
          ]),
        ),
    },
    {
      name: 'too many or too few items',
      applies: (p) => Array.isArray(p.value),
      apply: (p) =>
        replaceWith(p, (old) => {
          const items = old as unknown[];
          if (random() < 0.3) return [];
          const count = (p.schema.maxItems ?? 20) + 1;
          const filler = items[0] ?? 'item';
          return Array.from({ length: Math.min(count, 20_000) }, (_, i) =>
            random() < 0.5 ? filler : `${i}`,
          );
        }),
    },
    {
      name: 'not in enum',
      applies: (p) => Array.isArray(p.schema.enum) || p.schema.const !== undefined,
      apply: (p) => replaceWith(p, (old) => pick([`${String(old)}x`, String(old).toUpperCase(), 'root', ''])),
    },
    {
      name: 'huge string',
      applies: () => true,
      apply: (p) => {
        const size = pick([Math.floor(hugeBytes / 100), Math.floor(hugeBytes / 8), hugeBytes]);
        return replaceWith(p, () => pick(['a', '€', '${', '\\', '"']).repeat(Math.ceil(size / 3)));
      },
    },
    {
      name: 'deep nesting',
      applies: () => true,
      apply: (p) =>
        replaceWith(p, () => new DeepJson(pick([65, 200, 1_000, 10_000, 100_000]), random() < 0.5)),
    },
  ];
  const start = m.kind % kinds.length;
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[(start + i) % kinds.length] as Kind;
    const where = places.filter(kind.applies);
    if (where.length === 0) continue;
    const place = where[m.at % where.length] as Place;
    return { value: kind.apply(place), how: `${kind.name} at /${place.path.join('/')}` };
  }
  return { value: 12345, how: 'wrong type at /' };
}
