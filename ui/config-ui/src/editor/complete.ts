import type {
  Completion,
  CompletionContext,
  CompletionResult,
  CompletionSource,
} from '@codemirror/autocomplete';
import { syntaxTree } from '@codemirror/language';
import { placeAt } from './pointer.js';
import { keysAt, type Schema } from './schema.js';

function templateFor(type: string | null): string {
  if (type === 'object') return '{}';
  if (type?.startsWith('array')) return '[]';
  if (type === 'string') return '""';
  return '';
}

/** Completes an object's keys from the schema: those it may still have, required ones first. */
export function keyCompletion(schema: Schema): CompletionSource {
  return (context: CompletionContext): CompletionResult | null => {
    const word = context.matchBefore(/"?[A-Za-z0-9_$.-]*"?/);
    if (!word) return null;
    if (word.from === word.to && !context.explicit) return null;
    const { state } = context;
    const place = placeAt(syntaxTree(state), (from, to) => state.sliceDoc(from, to), context.pos);
    if (!place?.onKey) return null;
    const taken = new Set(place.siblings);
    const options: Completion[] = keysAt(schema, place.path)
      .filter((offer) => !taken.has(offer.key) || word.text.replaceAll('"', '') === offer.key)
      .map((offer) => {
        const template = templateFor(offer.type);
        return {
          label: offer.key,
          type: 'property',
          detail: [offer.type, offer.required ? 'required' : null].filter(Boolean).join(', '),
          info: offer.description || undefined,
          boost: offer.required ? 1 : 0,
          apply: `"${offer.key}": ${template}`,
        };
      });
    if (options.length === 0) return null;
    return { from: word.from, to: word.to, options, validFor: /^"?[A-Za-z0-9_$.-]*"?$/ };
  };
}
