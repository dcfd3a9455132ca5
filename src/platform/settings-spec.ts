import { parseDuration } from './duration.js';

/**
 * One setting, declared once: where it is read from, its default, what it accepts, what it means. The
 * type of its value, its default, the table in docs/configuration.md and `switchboard settings` all come
 * from this declaration.
 */
export interface SettingSpec<T = unknown> {
  /** Environment variable; it wins over the settings file. */
  readonly env: string;
  /** Key in the settings file named by SWITCHBOARD_CONFIG_FILE. */
  readonly file: string;
  /**
   * Written as an operator would write it and read by `parse` like any given value, so it cannot drift
   * from what the setting accepts. Absent: the setting is unset unless given (its doc says what that means).
   */
  readonly default?: string;
  /** Ends the message that refuses a value ("expected …") and fills the docs column. */
  readonly accepts: string;
  /** The value, or undefined when the text is not one. */
  readonly parse: (text: string) => T | undefined;
  /** The meaning column of docs/configuration.md, in Markdown. */
  readonly doc: string;
  /** Never shown: not in messages, logs, nor `switchboard settings`. */
  readonly secret?: boolean;
}

export type SpecTable = Readonly<Record<string, SettingSpec>>;

type Parsed<S extends SettingSpec> = Exclude<ReturnType<S['parse']>, undefined>;

/** What a setting holds once read: what its parser returns, or undefined too when it has no default. */
export type ValueOf<S extends SettingSpec> = S extends { readonly default: string }
  ? Parsed<S>
  : Parsed<S> | undefined;

export type SpecValues<Specs extends SpecTable> = { readonly [K in keyof Specs]: ValueOf<Specs[K]> };

/**
 * A slice's settings: their specs, and how their values become what the slice reads (derived values,
 * checks across its settings). `Context` is what it needs from other slices (e.g. the data directory).
 */
export interface SettingsSection<Specs extends SpecTable, Shape, Context> {
  readonly specs: Specs;
  readonly build: (values: SpecValues<Specs>, context: Context) => Shape;
}

/** What a section gives its slice, frozen all the way down as loadSettings leaves it. */
export type SectionSettings<S extends { build: (...args: never[]) => unknown }> = Frozen<
  ReturnType<S['build']>
>;

export type Frozen<T> = T extends readonly (infer E)[]
  ? readonly Frozen<E>[]
  : T extends object
    ? { readonly [K in keyof T]: Frozen<T[K]> }
    : T;

export function defineSection<Specs extends SpecTable>(
  specs: Specs,
): SettingsSection<Specs, SpecValues<Specs>, unknown>;
export function defineSection<Specs extends SpecTable, Shape, Context = unknown>(
  specs: Specs,
  build: (values: SpecValues<Specs>, context: Context) => Shape,
): SettingsSection<Specs, Shape, Context>;
export function defineSection(
  specs: SpecTable,
  build: (values: SpecValues<SpecTable>, context: unknown) => unknown = (values) => values,
): SettingsSection<SpecTable, unknown, unknown> {
  return { specs, build };
}

/** A setting that cannot be used as given; the message names it and says what it accepts. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** What a kind of value accepts and how it is read; spread into a spec. */
export interface ValueKind<T> {
  readonly accepts: string;
  readonly parse: (text: string) => T | undefined;
}

export const integer = (min: number, max: number): ValueKind<number> => ({
  accepts: `an integer from ${min} to ${max}`,
  parse: (text) => {
    if (!/^\d+$/.test(text.trim())) return undefined;
    const n = Number(text);
    return n >= min && n <= max ? n : undefined;
  },
});

/** Milliseconds, written with a unit ("90s", "15m"); the bounds are written the same way. */
export const duration = (min: string, max: string): ValueKind<number> => ({
  accepts: `a duration with a unit (ms, s, m, h, d) from ${min} to ${max}`,
  parse: (text) => {
    const ms = parseDuration(text);
    return ms !== undefined && ms >= (parseDuration(min) ?? 0) && ms <= (parseDuration(max) ?? 0)
      ? ms
      : undefined;
  },
});

const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
]);

export const boolean: ValueKind<boolean> = {
  accepts: 'true or false',
  parse: (text) => BOOLEANS.get(text.trim().toLowerCase()),
};

/** Any text but blank, trimmed; `accepts` says what it names (a path, an address). */
export const text = (accepts: string): ValueKind<string> => ({
  accepts,
  parse: (value) => (value.trim() === '' ? undefined : value.trim()),
});

/** Secrets and tokens: as given, at least `min` characters. */
export const atLeast = (min: number): ValueKind<string> => ({
  accepts: `at least ${min} characters`,
  parse: (value) => (value.length >= min ? value : undefined),
});

export const oneOf = <const T extends string>(...choices: T[]): ValueKind<T> => ({
  accepts: `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`,
  parse: (value) => choices.find((choice) => choice === value),
});

/** An http(s) URL without its trailing slash, query or fragment. */
export const parseHttpUrl = (value: string): string | undefined => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:'
      ? url.origin + url.pathname.replace(/\/$/, '')
      : undefined;
  } catch {
    return undefined;
  }
};

export const httpUrl: ValueKind<string> = { accepts: 'an http:// or https:// URL', parse: parseHttpUrl };

/** Comma-separated entries, trimmed, empty ones dropped; undefined when any entry is refused. */
export const commaList =
  (isEntry: (entry: string) => boolean) =>
  (value: string): string[] | undefined => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    return entries.every(isEntry) ? entries : undefined;
  };

/** Freezes plain objects and arrays all the way down, as settings are handed out. */
export function deepFreeze<T>(value: T): Frozen<T> {
  if (value !== null && typeof value === 'object' && (Array.isArray(value) || isPlainObject(value))) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value as Frozen<T>;
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
