import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  isPlainObject,
  type SettingSpec,
  SettingsError,
  type SpecTable,
  type SpecValues,
} from './settings-spec.js';

/** The variable that names the optional settings file. */
export const CONFIG_FILE_VARIABLE = 'SWITCHBOARD_CONFIG_FILE';

export type SettingOrigin = 'environment' | 'file' | 'default';

/** Where one setting was read from, and the text read there (undefined: unset). */
export interface SettingReading {
  readonly key: string;
  readonly spec: SettingSpec;
  readonly origin: SettingOrigin;
  readonly text: string | undefined;
}

/** The environment and the settings file it names, read once for every section. */
export interface SettingSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly filePath: string | undefined;
  readonly file: Readonly<Record<string, unknown>>;
}

/** Reads the settings file, if the environment names one; a key no spec declares is refused. */
export function openSources(
  env: Readonly<Record<string, string | undefined>>,
  specs: readonly SettingSpec[],
): SettingSources {
  const filePath = env[CONFIG_FILE_VARIABLE] || undefined;
  const file = filePath === undefined ? {} : readSettingsFile(filePath);
  const known = specs.map((spec) => spec.file);
  for (const key of Object.keys(file)) {
    if (!known.includes(key))
      throw new SettingsError(`${filePath}: unknown setting "${key}"; known: ${known.join(', ')}`);
  }
  return { env, filePath, file };
}

function readSettingsFile(path: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SettingsError(
      `${CONFIG_FILE_VARIABLE}=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const json = path.endsWith('.json');
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(content) : parseYaml(content);
  } catch (error) {
    throw new SettingsError(
      `${CONFIG_FILE_VARIABLE}=${path}: not valid ${json ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (!isPlainObject(parsed)) {
    throw new SettingsError(`${CONFIG_FILE_VARIABLE}=${path}: expected an object of settings`);
  }
  return parsed;
}

/** One setting's text: the variable's, else the file's (a list or map written as the variable would be), else the default. */
export function readSetting(key: string, spec: SettingSpec, sources: SettingSources): SettingReading {
  const fromEnv = sources.env[spec.env];
  if (fromEnv !== undefined) return { key, spec, origin: 'environment', text: fromEnv };
  const fromFile = sources.file[spec.file];
  if (fromFile === undefined) return { key, spec, origin: 'default', text: spec.default };
  const text = Array.isArray(fromFile)
    ? fromFile.join(',')
    : isPlainObject(fromFile)
      ? Object.entries(fromFile)
          .map(([name, value]) => `${name}=${String(value)}`)
          .join(',')
      : String(fromFile);
  return { key, spec, origin: 'file', text };
}

/** The values of a section's settings, each read and parsed; the first one that does not parse is refused. */
export function readSection<Specs extends SpecTable>(
  specs: Specs,
  sources: SettingSources,
  readings: SettingReading[],
): SpecValues<Specs> {
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const reading = readSetting(key, spec, sources);
    readings.push(reading);
    if (reading.text === undefined) continue;
    const value = spec.parse(reading.text);
    if (value === undefined) {
      const where = reading.origin === 'file' ? `"${spec.file}" in ${sources.filePath}` : spec.env;
      const shown = spec.secret ? '(hidden)' : JSON.stringify(reading.text);
      throw new SettingsError(`Invalid setting ${where}=${shown}: expected ${spec.accepts}`);
    }
    values[key] = value;
  }
  return values as SpecValues<Specs>;
}
