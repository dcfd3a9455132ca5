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
/**
 * V8 compiles no run of literal text longer than 32,767 characters ("Regular expression too large", thrown
 * when the pattern is first used), and a secret may be 64 KiB, or 1 MiB once built from others: a longer
 * value is matched as a sequence of groups of at most this many characters.
 */
const LITERAL_RUN = 16_384;

/** `text` as a pattern that matches it literally, whatever its length. */
function literalPattern(text: string): string {
  if (text.length <= LITERAL_RUN) return escapeRegExp(text);
  const runs: string[] = [];
  for (let at = 0; at < text.length; at += LITERAL_RUN) {
    runs.push(`(?:${escapeRegExp(text.slice(at, at + LITERAL_RUN))})`);
  }
  return runs.join('');
}

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
  const pattern = new RegExp(forms.map(literalPattern).join('|'), 'gi');
  return (text) => text.replace(pattern, MASK);
}
