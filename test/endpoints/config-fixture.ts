import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const examples = fileURLToPath(new URL('../../docs/examples/', import.meta.url));

/** docs/examples/endpoints.json, the realistic configuration the documentation shows. */
export function exampleConfig(): Record<string, any> {
  return JSON.parse(readFileSync(join(examples, 'endpoints.json'), 'utf8'));
}

/** A functions directory of its own holding the example's modules. */
export function exampleFunctionsDir(): string {
  const functionsDir = mkdtempSync(join(tmpdir(), 'switchboard-functions-'));
  cpSync(join(examples, 'functions'), functionsDir, { recursive: true });
  return functionsDir;
}

/** What the example needs of a server: its hosts allowed and its function installed. */
export function exampleEnv(functionsDir = exampleFunctionsDir()): Record<string, string> {
  return {
    SWITCHBOARD_ENDPOINT_HOSTS: 'api.open-meteo.com,*.example.com,127.0.0.1',
    SWITCHBOARD_FUNCTIONS_DIR: functionsDir,
  };
}

/** A small valid configuration with one stream fed by a function of `functionsDir`. */
export function minimalConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    functions: { clock: { module: 'shift-roster.mjs', args: { timezone: 'UTC', shift_hours: 8 } } },
    streams: { 'roster.now': { function: 'clock', interval: '1m' } },
    ...extra,
  };
}
