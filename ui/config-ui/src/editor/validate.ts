import { type OutputUnit, Validator } from '@cfworker/json-schema';
import type { FieldProblem } from '../api.js';
import type { Schema } from './schema.js';

/** Keywords that only report that something below them failed: the failure below is the one to show. */
const ONLY_PASSING_ON = new Set([
  'properties',
  'patternProperties',
  'additionalProperties',
  'items',
  'prefixItems',
  'allOf',
  '$ref',
]);
const COMBINATIONS = new Set(['anyOf', 'oneOf']);

function schemaAtLocation(root: Schema, keywordLocation: string): Schema | null {
  let at: unknown = root;
  const tokens = keywordLocation.replace(/^#/, '').split('/').filter(Boolean).slice(0, -1);
  for (const token of tokens) {
    if (at === null || typeof at !== 'object') return null;
    at = (at as Record<string, unknown>)[
      decodeURIComponent(token).replaceAll('~1', '/').replaceAll('~0', '~')
    ];
  }
  return at !== null && typeof at === 'object' ? (at as Schema) : null;
}

function messageOf(root: Schema, unit: OutputUnit): string {
  const own = schemaAtLocation(root, unit.keywordLocation)?.errorMessage;
  if (typeof own === 'string') return own;
  switch (unit.keyword) {
    case 'false':
      return 'is not a known field';
    case 'type': {
      const expected = /Expected (.+)\.$/.exec(unit.error)?.[1]?.replaceAll('"', '');
      return expected ? `must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}` : unit.error;
    }
    case 'required': {
      const name = /property "(.+)"/.exec(unit.error)?.[1];
      return name ? `needs the field "${name}"` : unit.error;
    }
    case 'anyOf':
    case 'oneOf':
      return 'is none of the forms this field may take (hover its name for its description)';
    default:
      return unit.error.replace(/^Instance /, 'the value ').replace(/^String /, 'the text ');
  }
}

/**
 * Checks a document against the served schema in the page, with an interpreter (no code generated, so the
 * page's CSP can forbid eval): one problem per failing field, pointed at like the server's 422.
 */
export function schemaProblems(root: Schema, validator: Validator, value: unknown): FieldProblem[] {
  const { errors } = validator.validate(value);
  const combinations = errors.filter((unit) => COMBINATIONS.has(unit.keyword));
  const problems = new Map<string, FieldProblem>();
  for (const unit of errors) {
    if (ONLY_PASSING_ON.has(unit.keyword)) continue;
    // Inside a union, each branch's failure is noise: the union's own problem says it.
    if (combinations.some((c) => c !== unit && unit.keywordLocation.startsWith(`${c.keywordLocation}/`)))
      continue;
    const pointer = decodeURIComponent(unit.instanceLocation.replace(/^#/, ''));
    const message = messageOf(root, unit);
    problems.set(`${pointer}\u0000${message}`, { pointer, message });
  }
  return [...problems.values()];
}

export function validatorFor(schema: Schema): Validator {
  return new Validator(schema as never, '7', false);
}
