export interface DiffLine {
  kind: 'same' | 'added' | 'removed' | 'hunk';
  text: string;
  old: number | null;
  new: number | null;
}

/** The lines of a unified diff with their numbers on each side; file headers dropped. */
export function parseUnifiedDiff(diff: string): DiffLine[] {
  const lines: DiffLine[] = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const raw of diff.split('\n')) {
    // File headers come before the first hunk only: after it, "--- x" is the removed line "-- x".
    if (!inHunk && !raw.startsWith('@@')) continue;
    inHunk = true;
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      lines.push({ kind: 'hunk', text: raw, old: null, new: null });
    } else if (raw.startsWith('+')) {
      lines.push({ kind: 'added', text: raw.slice(1), old: null, new: newLine++ });
    } else if (raw.startsWith('-')) {
      lines.push({ kind: 'removed', text: raw.slice(1), old: oldLine++, new: null });
    } else if (raw.startsWith(' ')) {
      lines.push({ kind: 'same', text: raw.slice(1), old: oldLine++, new: newLine++ });
    }
  }
  return lines;
}
