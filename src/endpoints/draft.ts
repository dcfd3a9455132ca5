import { canonicalJson } from './canonical.js';
import { unifiedTextDiff } from './diff.js';
import { MAX_PROBLEMS, textLimits } from './document-limits.js';
import type { EndpointConfig } from './schema.js';
import { type ConfigProblem, schemaProblems } from './validate.js';
import { maskSecrets, masksNothing } from './vars.js';

/**
 * Drafts and diffs as the diff thread works on them (see diff-thread.ts): from the text that arrived to the
 * diff as JSON, so the event loop never parses, walks or formats a document that anyone may send.
 */

/** What was sent: the body of POST /config/diff, or a document alone (the command line's --file). */
export type DraftForm = 'request' | 'document';

export type DraftReading =
  | { kind: 'malformed'; message: string }
  | { kind: 'invalid'; problems: ConfigProblem[] }
  | { kind: 'draft'; draft: EndpointConfig; baseVersion: string | undefined };

/** A saved version as the store holds it: canonical JSON, secrets unmasked. */
export interface StoredSide {
  label: string;
  text: string;
}

const REQUEST_KEYS = ['config', 'base_version'];
/** As long as the route's version parameters may be. */
const MAX_VERSION_CHARS = 64;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Fastify's words for the same faults, so the draft route answers like every other JSON route. */
const EMPTY = 'body is empty but Content-Type says JSON';
const NOT_JSON = 'body is not valid JSON';

/**
 * Reads a draft and checks it against the JSON Schema, and nothing more: a draft is work in progress,
 * and an editor wants its diff before its variables and sources are all declared. The rules (references,
 * hosts, modules) are a save's. Limits first, on the text, so that nothing too large is ever parsed.
 */
export function readDraft(sent: string, form: DraftForm): DraftReading {
  // As Fastify's parser does: a byte order mark is not JSON, but is no reason to refuse.
  const text = sent.charCodeAt(0) === 0xfeff ? sent.slice(1) : sent;
  if (text.trim() === '') return { kind: 'malformed', message: EMPTY };
  const nesting = form === 'request' ? 1 : 0;
  const limits = textLimits(text, nesting);
  if (!limits.ok) {
    return 'problem' in limits
      ? { kind: 'invalid', problems: [limits.problem] }
      : { kind: 'malformed', message: NOT_JSON };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'malformed', message: NOT_JSON };
  }
  if (form === 'document') return checked(parsed, '', undefined);
  if (!isObject(parsed)) {
    return invalid('', 'must be a JSON object: {"config": the draft, "base_version": "1.4.0" (optional)}');
  }
  const problems: ConfigProblem[] = Object.keys(parsed)
    .filter((key) => !REQUEST_KEYS.includes(key))
    .map((key) => ({
      pointer: `/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
      message: 'is not a property of a diff request (config, base_version)',
    }));
  const { config, base_version: baseVersion } = parsed;
  if (!('config' in parsed)) problems.push({ pointer: '/config', message: 'is required' });
  if (
    baseVersion !== undefined &&
    (typeof baseVersion !== 'string' || baseVersion === '' || baseVersion.length > MAX_VERSION_CHARS)
  ) {
    problems.push({ pointer: '/base_version', message: 'must be a version such as "1.4.0"' });
  }
  if (!('config' in parsed)) return { kind: 'invalid', problems };
  return checked(config, '/config', baseVersion as string | undefined, problems);
}

/** The draft, or its problems with those of the request around it (`wrapper`), in one answer. */
function checked(
  config: unknown,
  prefix: string,
  baseVersion: string | undefined,
  wrapper: ConfigProblem[] = [],
): DraftReading {
  if (!isObject(config)) {
    return { kind: 'invalid', problems: [...wrapper, { pointer: prefix, message: 'must be a JSON object' }] };
  }
  const problems = [
    ...wrapper,
    ...schemaProblems(config).map((p) => ({ pointer: `${prefix}${p.pointer}`, message: p.message })),
  ];
  if (problems.length > 0) return { kind: 'invalid', problems: problems.slice(0, MAX_PROBLEMS) };
  return { kind: 'draft', draft: config as EndpointConfig, baseVersion };
}

const invalid = (pointer: string, message: string): DraftReading => ({
  kind: 'invalid',
  problems: [{ pointer, message }],
});

/** A draft's canonical text, secrets masked. */
export function maskedDraftText(draft: EndpointConfig): string {
  return canonicalJson(maskSecrets(draft));
}

/**
 * A saved version's canonical text, secrets masked: its own text when it holds no secret to mask (secrets
 * read from the environment are shown as written), since it was stored in canonical form.
 */
export function maskedStoredText(side: StoredSide): string {
  const document = JSON.parse(side.text) as EndpointConfig;
  return masksNothing(document) ? side.text : canonicalJson(maskSecrets(document));
}

/** The unified diff of a saved version (or none) and a text, both masked already. */
export function maskedDiff(before: StoredSide | undefined, after: { label: string; text: string }): string {
  return unifiedTextDiff(before && { label: before.label, text: maskedStoredText(before) }, after);
}

/** A diff as a JSON string, in UTF-8: what an answer carries, made where the diff was. */
export function diffJson(diff: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(diff));
}
