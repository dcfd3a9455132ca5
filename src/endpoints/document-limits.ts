import type { ConfigProblem } from './validate.js';

/**
 * How large a configuration may be in values and nesting. A realistic document of 8 MB holds about
 * 230,000 values nested 6 deep; past these limits a document is refused before anything walks it:
 * canonicalizing or searching a body nested 100,000 deep overflowed the stack (a 500), and every level
 * adds two spaces to each line of its canonical form, so depth multiplies what a diff carries.
 */
export const MAX_DEPTH = 32;
export const MAX_VALUES = 500_000;
/** A document with more problems than this is refused with the first of them. */
export const MAX_PROBLEMS = 1000;

export const TOO_DEEP = `is nested too deeply: objects and arrays may nest at most ${MAX_DEPTH} levels in a configuration`;
export const TOO_MANY_VALUES = `holds more than ${MAX_VALUES.toLocaleString('en-US')} values (objects, arrays, strings, numbers, true, false, null)`;

const escapeToken = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

interface Visit {
  value: unknown;
  depth: number;
  parent: Visit | undefined;
  key: string;
}

function pointerOf(visit: Visit): string {
  const tokens: string[] = [];
  for (let at: Visit | undefined = visit; at?.parent; at = at.parent) tokens.push(escapeToken(at.key));
  return tokens
    .reverse()
    .map((token) => `/${token}`)
    .join('');
}

/**
 * The first value nested deeper than MAX_DEPTH (at its pointer), or the root when the document holds more
 * than MAX_VALUES values. Walks with a stack of its own, so no depth makes it overflow.
 */
export function limitProblems(document: unknown): ConfigProblem[] {
  const stack: Visit[] = [{ value: document, depth: 0, parent: undefined, key: '' }];
  let values = 0;
  for (let visit = stack.pop(); visit; visit = stack.pop()) {
    values += 1;
    if (values > MAX_VALUES) return [{ pointer: '', message: TOO_MANY_VALUES }];
    if (visit.depth > MAX_DEPTH) return [{ pointer: pointerOf(visit), message: TOO_DEEP }];
    const { value } = visit;
    if (value === null || typeof value !== 'object') continue;
    const entries = Array.isArray(value)
      ? value.map((item, i) => [String(i), item] as const)
      : Object.entries(value);
    // Pushed last to first, so the walk meets values in document order.
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      const [key, item] = entries[i] as readonly [string, unknown];
      stack.push({ value: item, depth: visit.depth + 1, parent: visit, key });
    }
  }
  return [];
}

/** What reading JSON text for its shape found: a limit broken, a key JSON parsers must not take, or nothing. */
export type TextLimits =
  | { ok: true }
  | { ok: false; problem: ConfigProblem }
  | { ok: false; forbiddenKey: string };

interface Level {
  array: boolean;
  /** The key or index of the value being read at this level. */
  key: string;
  index: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index of the quote that closes the string opening at `start`; -1 when there is none. */
function stringEnd(text: string, start: number): number {
  for (let quote = text.indexOf('"', start + 1); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
  }
  return -1;
}

function decodeKey(text: string, start: number, end: number): string {
  const raw = text.slice(start + 1, end);
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    return raw;
  }
}

/**
 * The same limits read from JSON text before it is parsed, in one pass: parsing 8 MB of `[[[[…` or of
 * `{},{},…` takes a second or more and hundreds of megabytes, so such text is refused unparsed. The
 * document sits `nesting` levels inside the text (1 for `{"config": …}`); pointers are the text's. It
 * also finds what Fastify's JSON parser refuses (`__proto__`, `constructor.prototype`), so a body read here
 * is refused exactly as it would be there. Malformed text is left to JSON.parse; the exact count of values
 * is limitProblems', on the parsed document: this one allows a value or two for the wrapper.
 */
export function textLimits(text: string, nesting: number): TextLimits {
  const levels: Level[] = [];
  let values = 0;
  let expectingKey = false;
  const tooDeep = (): TextLimits => {
    const pointer = levels.map((level) => `/${escapeToken(level.array ? String(level.index) : level.key)}`);
    return { ok: false, problem: { pointer: pointer.join(''), message: TOO_DEEP } };
  };
  /** Counts a value starting here; a limit it breaks, if any. */
  const value = (): TextLimits | undefined => {
    const depth = levels.length - nesting;
    if (depth < 0) return undefined;
    values += 1;
    if (values > MAX_VALUES + nesting) {
      const root = levels.slice(0, nesting).map((level) => `/${escapeToken(level.key)}`);
      return { ok: false, problem: { pointer: root.join(''), message: TOO_MANY_VALUES } };
    }
    return depth > MAX_DEPTH ? tooDeep() : undefined;
  };
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 0x7b || code === 0x5b) {
      // { or [
      const broken = value();
      if (broken) return broken;
      levels.push({ array: code === 0x5b, key: '', index: 0 });
      expectingKey = code === 0x7b;
      i += 1;
    } else if (code === 0x7d || code === 0x5d) {
      // } or ]
      levels.pop();
      expectingKey = false;
      i += 1;
    } else if (code === 0x2c) {
      // ,
      const level = levels.at(-1);
      if (level?.array) level.index += 1;
      else expectingKey = level !== undefined;
      i += 1;
    } else if (code === 0x3a) {
      // :
      expectingKey = false;
      i += 1;
    } else if (code === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) return { ok: true };
      const level = levels.at(-1);
      if (expectingKey && level && !level.array) {
        level.key = decodeKey(text, i, end);
        const parent = levels.at(-2);
        if (
          level.key === '__proto__' ||
          (level.key === 'prototype' && parent && !parent.array && parent.key === 'constructor')
        ) {
          return { ok: false, forbiddenKey: level.key };
        }
      } else {
        const broken = value();
        if (broken) return broken;
      }
      i = end + 1;
    } else if (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) {
      i += 1;
    } else {
      // A number, true, false or null: one value, up to the next delimiter.
      const broken = value();
      if (broken) return broken;
      i += 1;
      while (i < text.length && !DELIMITERS.has(text.charCodeAt(i))) i += 1;
    }
  }
  return { ok: true };
}

const DELIMITERS = new Set([0x2c, 0x5d, 0x7d, 0x3a, 0x22, 0x7b, 0x5b, 0x20, 0x0a, 0x0d, 0x09]);
