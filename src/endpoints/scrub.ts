import { MASK } from './vars.js';

/**
 * The shortest secret value masked wherever it appears in a message. Messages are built from the
 * configuration as written (`https://${api_host}/v1`), so no secret value is put in one in the first place;
 * masking is the last line behind that. A shorter value is left alone: it would match ordinary words and
 * numbers ("1", "true", "api"), garble every message, and give itself away by where the masks fall.
 */
export const MIN_MASKED_LENGTH = 6;

const HOST_LIKE = /^[^/?#@\s]+$/;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The value, and the forms a URL gives it: its host as the parser writes it, and percent-encoded. */
function formsOf(value: string): string[] {
  const forms = new Set([value, encodeURIComponent(value)]);
  if (HOST_LIKE.test(value)) {
    try {
      forms.add(new URL(`http://${value}/`).host);
    } catch {
      // Not a host: the value itself is enough.
    }
  }
  return [...forms].filter((form) => form.length >= MIN_MASKED_LENGTH);
}

/** A function that replaces every one of `values` (in any letter case) with the mask "********". */
export function secretMasker(values: Iterable<string>): (text: string) => string {
  const forms = [...new Set([...values].flatMap(formsOf))].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (text) => text;
  const pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'gi');
  return (text) => text.replace(pattern, MASK);
}
