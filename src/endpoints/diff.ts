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

/** A document already in its canonical form, such as a saved version's text. */
export type CanonicalSide = { label: string; text: string };

/** What to compare: both documents in their canonical form; undefined when they are the same. */
function jobOf(before: Side | undefined, after: Side): PatchJob | undefined {
  return textJobOf(before && { label: before.label, text: canonicalJson(before.document) }, {
    label: after.label,
    text: canonicalJson(after.document),
  });
}

function textJobOf(before: CanonicalSide | undefined, after: CanonicalSide): PatchJob | undefined {
  const oldText = before?.text ?? '';
  if (oldText === after.text) return undefined;
  return {
    oldLabel: before?.label ?? '/dev/null',
    newLabel: after.label,
    oldText,
    newText: after.text,
    options: { context: 3, maxEditLength: MAX_EDIT_LENGTH, timeout: MAX_DIFF_MS },
  };
}

function lineCount(text: string): number {
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines += 1;
  return lines;
}

/**
 * Two texts take at least as many edits as they differ in lines: past the limit, jsdiff would only give up,
 * after up to MAX_DIFF_MS of looking (a draft of 250,000 new lines spent 2 s so).
 */
const beyondEditLimit = ({ oldText, newText }: PatchJob) =>
  Math.abs(lineCount(oldText) - lineCount(newText)) > MAX_EDIT_LENGTH + 1;

/** A unified diff of two documents in their canonical form; '' when they are the same. */
export function unifiedDiff(before: Side | undefined, after: Side): string {
  return patchOf(jobOf(before, after));
}

/** The same diff of two texts that are canonical JSON already. */
export function unifiedTextDiff(before: CanonicalSide | undefined, after: CanonicalSide): string {
  return patchOf(textJobOf(before, after));
}

function patchOf(job: PatchJob | undefined): string {
  if (!job) return '';
  if (beyondEditLimit(job)) return wholeReplacement(job);
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
  if (beyondEditLimit(job)) return wholeReplacement(job);
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
