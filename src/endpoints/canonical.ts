/**
 * Canonical JSON: keys sorted at every depth, two-space indentation, a final newline. Two documents that
 * mean the same are stored as the same text, so a diff shows only what changed.
 */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      // Defined rather than assigned: assigning "__proto__" would set the prototype and lose the key.
      if (item !== undefined) {
        Object.defineProperty(sorted, key, {
          value: canonicalize(item),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    return sorted;
  }
  return value;
}

export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(canonicalize(value), null, 2)}\n`;
}
