import { parseDuration } from '../platform/duration.js';
import type { Rate } from './operations.js';

const MAX_LIMIT = 100_000_000;
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 86_400_000;

/** `<count>/<duration>`, e.g. `30/1m` or `10/1h`: at least one request per window of 1 s to 1 d. */
export function parseRate(text: string): Rate | undefined {
  const match = /^\s*(\d{1,9})\s*\/\s*(\S+)\s*$/.exec(text);
  if (!match) return undefined;
  const limit = Number(match[1]);
  const windowMs = parseDuration(match[2] ?? '');
  if (limit < 1 || limit > MAX_LIMIT || windowMs === undefined) return undefined;
  if (windowMs < MIN_WINDOW_MS || windowMs > MAX_WINDOW_MS) return undefined;
  return { limit, windowMs };
}

/**
 * `name=value, name=value`: overrides of named defaults, where a value is `off` (null) or whatever
 * `parseValue` accepts. Undefined when any name is unknown, repeated, or any value is unreadable.
 */
export function parseOverrides<T>(
  text: string,
  isName: (name: string) => boolean,
  parseValue: (value: string) => T | undefined,
): Map<string, T | null> | undefined {
  const overrides = new Map<string, T | null>();
  for (const entry of text.split(',')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    if (eq < 0) return undefined;
    const name = entry.slice(0, eq).trim();
    const raw = entry.slice(eq + 1).trim();
    if (!isName(name) || overrides.has(name)) return undefined;
    const value = raw.toLowerCase() === 'off' ? null : parseValue(raw);
    if (value === undefined) return undefined;
    overrides.set(name, value);
  }
  return overrides;
}
