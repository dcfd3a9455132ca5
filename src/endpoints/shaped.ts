import type { TObject, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import {
  type EndpointConfig,
  HttpEndpoint,
  type HttpEndpoint as HttpEndpointType,
  LocalFunction,
  type LocalFunction as LocalFunctionType,
  Stream,
  type Stream as StreamType,
  Variable,
  type Variable as VariableType,
} from './schema.js';

/**
 * An entry's properties that have their schema's shape. A property there in another shape is kept with
 * the value undefined: the entry still names it (a stream that gives `"endpoint": 5` names a source), but
 * no rule reads it; the schema reports it.
 */
export type Shaped<T> = { [K in keyof T]?: T[K] | undefined };

/** What the rules of validate.ts read: the parts of a document that have the schema's shape. */
export interface ShapedConfig {
  vars: Record<string, VariableType>;
  endpoints: Record<string, Shaped<HttpEndpointType>>;
  functions: Record<string, Shaped<LocalFunctionType>>;
  streams: Record<string, Shaped<StreamType>>;
  /**
   * The names each section declares, whatever the shape of their entries, so a reference to an entry the
   * schema refuses is not also "not declared". Undefined for a section that is no object: what it declares
   * is unknown, and references into it are not judged.
   */
  declared: { vars?: ReadonlySet<string>; endpoints?: ReadonlySet<string>; functions?: ReadonlySet<string> };
}

/**
 * The longest name whose entry the rules look into when the schema refuses the name. Every problem inside
 * an entry carries its name in its pointer: a name of megabytes inside would make an answer of gigabytes.
 */
export const INSPECTED_NAME_CHARS = 256;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A document that has the schema's shape, as the rules read it. */
export function wholeShape(config: EndpointConfig): ShapedConfig {
  const vars = config.vars ?? {};
  const endpoints = config.endpoints ?? {};
  const functions = config.functions ?? {};
  return {
    vars,
    endpoints,
    functions,
    streams: config.streams ?? {},
    declared: {
      vars: new Set(Object.keys(vars)),
      endpoints: new Set(Object.keys(endpoints)),
      functions: new Set(Object.keys(functions)),
    },
  };
}

type PropertyChecks = ReadonlyMap<string, TypeCheck<TSchema>>;
let checks: {
  variable: TypeCheck<TSchema>;
  endpoint: PropertyChecks;
  fn: PropertyChecks;
  stream: PropertyChecks;
};

const propertyChecks = (schema: TObject): PropertyChecks =>
  new Map(Object.entries(schema.properties).map(([key, property]) => [key, TypeCompiler.Compile(property)]));

/** The properties of `value` its schema knows and accepts; the others it knows kept as undefined. */
function shapedEntry<T>(value: unknown, properties: PropertyChecks): Shaped<T> | undefined {
  if (!isRecord(value)) return undefined;
  const kept = Object.entries(value).flatMap(([key, property]) => {
    const check = properties.get(key);
    if (!check) return [];
    return [[key, check.Check(property) ? property : undefined] as const];
  });
  return Object.fromEntries(kept) as Shaped<T>;
}

interface Section {
  entries: [string, unknown][];
  names: ReadonlySet<string> | undefined;
}

/**
 * The parts of a document that does not have the schema's shape that the rules can still read: every
 * entry, under a name of at most INSPECTED_NAME_CHARS, with the properties that have their shape. The
 * rules then report what is wrong in them in the same answer as the schema's problems, instead of one
 * save later. Object.fromEntries keeps a name such as `__proto__` an entry of its own.
 */
export function shapedParts(document: unknown): ShapedConfig {
  checks ??= {
    variable: TypeCompiler.Compile(Variable),
    endpoint: propertyChecks(HttpEndpoint),
    fn: propertyChecks(LocalFunction),
    stream: propertyChecks(Stream),
  };
  const root = isRecord(document) ? document : {};
  const section = (name: string): Section => {
    const value = Object.hasOwn(root, name) ? root[name] : undefined;
    if (value === undefined) return { entries: [], names: new Set() };
    if (!isRecord(value)) return { entries: [], names: undefined };
    return {
      entries: Object.entries(value).filter(([key]) => key.length <= INSPECTED_NAME_CHARS),
      names: new Set(Object.keys(value)),
    };
  };
  const pick = <T>(part: Section, shape: (value: unknown) => T | undefined): Record<string, T> =>
    Object.fromEntries(
      part.entries.flatMap(([key, value]) => {
        const shaped = shape(value);
        return shaped === undefined ? [] : [[key, shaped] as const];
      }),
    );
  const vars = section('vars');
  const endpoints = section('endpoints');
  const functions = section('functions');
  return {
    vars: pick(vars, (value) => (checks.variable.Check(value) ? (value as VariableType) : undefined)),
    endpoints: pick(endpoints, (value) => shapedEntry<HttpEndpointType>(value, checks.endpoint)),
    functions: pick(functions, (value) => shapedEntry<LocalFunctionType>(value, checks.fn)),
    streams: pick(section('streams'), (value) => shapedEntry<StreamType>(value, checks.stream)),
    declared: { vars: vars.names, endpoints: endpoints.names, functions: functions.names },
  };
}
