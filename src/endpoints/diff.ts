import { createTwoFilesPatch } from 'diff';
import { canonicalJson } from './canonical.js';
import { type PatchJob, patchOffThread } from './diff-thread.js';

/**
 * Past this many edits jsdiff gives up, and the diff shows the whole of both sides instead: still
 * correct, never slow. Its cost grows with the square of the edits (20 000 took over 10 s on two documents
 * of 10 000 lines); 2 000 keeps the worst case of an 8 MiB document near half a second, and a change of more
 * than 2 000 lines is no easier to read as a line-by-line diff.
 */
export const MAX_EDIT_LENGTH = 2_000;
/** Bounds the time even where the edits stay few but every one of them is costly to find. */
const MAX_DIFF_MS = 2_000;

type Side = { label: string; document: unknown };

/** What to compare: both documents in their canonical form; undefined when they are the same. */
function jobOf(before: Side | undefined, after: Side): PatchJob | undefined {
  const oldText = before === undefined ? '' : canonicalJson(before.document);
  const newText = canonicalJson(after.document);
  if (oldText === newText) return undefined;
  return {
    oldLabel: before?.label ?? '/dev/null',
    newLabel: after.label,
    oldText,
    newText,
    options: { context: 3, maxEditLength: MAX_EDIT_LENGTH, timeout: MAX_DIFF_MS },
  };
}

/** A unified diff of two documents in their canonical form; '' when they are the same. */
export function unifiedDiff(before: Side | undefined, after: Side): string {
  const job = jobOf(before, after);
  if (!job) return '';
  const { oldLabel, newLabel, oldText, newText, options } = job;
  return (
    createTwoFilesPatch(oldLabel, newLabel, oldText, newText, undefined, undefined, options) ??
    wholeReplacement(job)
  );
}

/** The same diff, compared on the diff thread, so the server keeps answering meanwhile. */
export async function unifiedDiffOffThread(before: Side | undefined, after: Side): Promise<string> {
  const job = jobOf(before, after);
  if (!job) return '';
  return (await patchOffThread(job)) ?? wholeReplacement(job);
}

function wholeReplacement({ oldLabel, newLabel, oldText, newText }: PatchJob): string {
  const lines = (text: string) => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));
  const removed = lines(oldText);
  const added = lines(newText);
  return [
    '===================================================================',
    `--- ${oldLabel}`,
    `+++ ${newLabel}`,
    `@@ -${removed.length === 0 ? 0 : 1},${removed.length} +1,${added.length} @@`,
    ...removed.map((line) => `-${line}`),
    ...added.map((line) => `+${line}`),
    '',
  ].join('\n');
}
