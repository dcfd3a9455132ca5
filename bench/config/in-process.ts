/**
 * The steps of a save and a diff timed in the bench process, without HTTP, SQLite or Fastify: the same
 * functions the server calls (from src/endpoints), on the same documents, to show where the time goes.
 */
import { tmpdir } from 'node:os';
import { canonicalJson } from '../../src/endpoints/canonical.js';
import { unifiedDiff } from '../../src/endpoints/diff.js';
import type { EndpointConfig } from '../../src/endpoints/schema.js';
import { validateConfig } from '../../src/endpoints/validate.js';
import { maskSecrets } from '../../src/endpoints/vars.js';
import { type Repeats, repeat } from './timing.js';

export const STEPS = [
  'parse',
  'validate',
  'canonical',
  'diffIdentical',
  'diffSmall',
  'diffOnePercent',
  'diffWorst',
] as const;
export type Step = (typeof STEPS)[number];

export const STEP_LABELS: Record<Step, string> = {
  parse: '`JSON.parse` of the save request body',
  validate: '`validateConfig` (JSON Schema, then the rules)',
  canonical: '`canonicalJson` of the document',
  diffIdentical: '`unifiedDiff` of the document with itself: its two canonicalizations, nothing to compare',
  diffSmall: '`unifiedDiff`, one value changed',
  diffOnePercent: '`unifiedDiff`, 1% of the lines changed',
  diffWorst: '`unifiedDiff`, every value changed',
};

export interface InProcessInput {
  base: EndpointConfig;
  /** Small edits of `base`, one per repetition (warm-ups included), as for the saves. */
  smallEdits: readonly EndpointConfig[];
  onePercent: EndpointConfig;
  everything: EndpointConfig;
  /** A save request body: parsed by the `parse` step. */
  saveBody: string;
  allowedHosts: readonly string[];
}

/**
 * Each step `repeats` times (`worst` for the worst-case diff). Diffs are made as the server makes them:
 * secrets masked on both sides, then both canonicalized and compared line by line.
 */
export async function timeSteps(
  input: InProcessInput,
  repeats: Repeats,
  worst: Repeats,
): Promise<Record<Step, number[]>> {
  const context = { allowedHosts: input.allowedHosts, functionsDir: tmpdir() };
  const base = { label: 'version 1.0.0', document: maskSecrets(input.base) };
  const draft = (document: EndpointConfig) => ({ label: 'draft', document: maskSecrets(document) });
  const edit = (i: number) => input.smallEdits[i % input.smallEdits.length] as EndpointConfig;
  const checked = (ok: boolean, what: string) => {
    // A step whose result is not what was meant measures nothing: stop rather than report it.
    if (!ok) throw new Error(`in-process ${what} did not give the expected result`);
  };
  return {
    parse: await repeat(repeats, () => checked(typeof JSON.parse(input.saveBody) === 'object', 'parse')),
    validate: await repeat(repeats, (i) => checked(validateConfig(edit(i), context).ok, 'validation')),
    canonical: await repeat(repeats, (i) => checked(canonicalJson(edit(i)).length > 0, 'canonicalJson')),
    diffIdentical: await repeat(repeats, () =>
      checked(unifiedDiff(base, draft(input.base)) === '', 'diff of the same document'),
    ),
    diffSmall: await repeat(repeats, (i) => checked(unifiedDiff(base, draft(edit(i))) !== '', 'diff')),
    diffOnePercent: await repeat(repeats, () =>
      checked(unifiedDiff(base, draft(input.onePercent)) !== '', 'diff'),
    ),
    diffWorst: await repeat(worst, () => checked(unifiedDiff(base, draft(input.everything)) !== '', 'diff')),
  };
}
