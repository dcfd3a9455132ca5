/**
 * JSON Pointer (RFC 6901) field selection for stream outputs: `select: { temperature: "/current/temp" }`
 * publishes only the fields a dashboard needs instead of the whole upstream answer.
 */

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;
const ESCAPE = /~[01]/g;
const BAD_ESCAPE = /~(?![01])/;

/** One reference token: `~1` is `/` and `~0` is `~`, read in one pass so `~01` stays `~1`. */
function unescapeToken(token: string): string | undefined {
  if (BAD_ESCAPE.test(token)) return undefined;
  return token.replace(ESCAPE, (escape) => (escape === '~1' ? '/' : '~'));
}

/** Escapes one key for use as a reference token. */
export function escapePointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function child(value: unknown, token: string): unknown {
  if (Array.isArray(value)) {
    // "-" names the element after the last one, which never exists; leading zeros are not indices.
    if (!ARRAY_INDEX.test(token)) return undefined;
    const index = Number(token);
    return index < value.length ? value[index] : undefined;
  }
  if (typeof value === 'object' && value !== null) {
    // Own properties only: "/constructor" or "/__proto__" must not reach into Object.prototype.
    return Object.hasOwn(value, token) ? (value as Record<string, unknown>)[token] : undefined;
  }
  return undefined;
}

/** RFC 6901 evaluation; undefined when the pointer does not resolve. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  if (!pointer.startsWith('/')) return undefined;
  let current = document;
  for (const raw of pointer.slice(1).split('/')) {
    const token = unescapeToken(raw);
    if (token === undefined) return undefined;
    current = child(current, token);
    if (current === undefined) return undefined;
  }
  return current;
}

/** `{name: pointer}` → `{name: value}`; a pointer that does not resolve gives null. Without a map, the output as it is. */
export function selectFields(output: unknown, select: Record<string, string> | undefined): unknown {
  if (select === undefined) return output;
  // fromEntries defines own properties, so a name like "__proto__" stays a plain field.
  return Object.fromEntries(
    Object.entries(select).map(([name, pointer]) => [name, resolvePointer(output, pointer) ?? null]),
  );
}
