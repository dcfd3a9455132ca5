/**
 * The summary of targets at the top of docs/BENCHMARKS.md. Every bench writes its targets into its own
 * section as one HTML comment (`<!-- targets: [...] -->`, JSON on one line), beside the Markdown that states
 * them; the summary is rebuilt from those comments alone, so a run of one bench updates it without the
 * others being run again. `npx tsx bench/lib/summary.ts` rebuilds it from the sections as they are (after a
 * section was edited by hand, say).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One target of a bench as its Result states it: `met` is null for a figure reported without a target. */
export interface TargetResult {
  target: string;
  measured: string;
  met: boolean | null;
}

export const SUMMARY_SECTION = 'summary';

const TARGETS_PREFIX = '<!-- targets: ';
const TARGETS_SUFFIX = ' -->';
const TRIAL_MARK = '**Trial figures, not a measurement:**';

/** "met" or "not met", as every bench writes a verdict. */
export const verdictText = (met: boolean): string => (met ? 'met' : 'not met');

/**
 * The comment that carries `targets`. `--` may appear only inside JSON strings, where `\u002d` says the same,
 * so a target's text can never close the comment early.
 */
export function targetsComment(targets: readonly TargetResult[]): string {
  const json = JSON.stringify(
    targets.map(({ target, measured, met }) => ({ target, measured, met })),
  ).replace(/--/g, '-\\u002d');
  return `${TARGETS_PREFIX}${json}${TARGETS_SUFFIX}`;
}

const isTargetResult = (value: unknown): value is TargetResult => {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.target === 'string' &&
    typeof v.measured === 'string' &&
    (v.met === null || typeof v.met === 'boolean')
  );
};

/**
 * The targets of a section's comment: undefined when it has none, `'unreadable'` when its comment is not a
 * list of targets (edited by hand, say).
 */
export function readTargets(section: string): TargetResult[] | 'unreadable' | undefined {
  const line = section.split('\n').find((l) => l.startsWith(TARGETS_PREFIX));
  if (line === undefined) return undefined;
  const json = line.trimEnd();
  if (!json.endsWith(TARGETS_SUFFIX)) return 'unreadable';
  try {
    const parsed: unknown = JSON.parse(json.slice(TARGETS_PREFIX.length, -TARGETS_SUFFIX.length));
    return Array.isArray(parsed) && parsed.every(isTargetResult)
      ? parsed.map(({ target, measured, met }) => ({ target, measured, met }))
      : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** A section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`: its name, body and place. */
export interface DocSection {
  name: string;
  body: string;
  /** Offset of the opening marker in the document. */
  start: number;
  /** Offset just after the closing marker. */
  end: number;
}

export function docSections(doc: string): DocSection[] {
  const sections: DocSection[] = [];
  const open = /<!-- bench:([\w.-]+) -->/g;
  for (let match = open.exec(doc); match; match = open.exec(doc)) {
    const name = match[1] as string;
    const close = `<!-- /bench:${name} -->`;
    const end = doc.indexOf(close, match.index);
    if (end === -1) continue;
    sections.push({
      name,
      body: doc.slice(match.index + match[0].length, end),
      start: match.index,
      end: end + close.length,
    });
    open.lastIndex = end + close.length;
  }
  return sections;
}

/**
 * The anchor GitHub gives a heading: lower case, punctuation and symbols dropped, spaces to hyphens, and
 * `-1`, `-2`… after the text of a heading seen before. Inline code marks are dropped with the punctuation.
 */
export function headingAnchors(
  doc: string,
): { offset: number; level: number; text: string; anchor: string }[] {
  const seen = new Map<string, number>();
  const headings: { offset: number; level: number; text: string; anchor: string }[] = [];
  let offset = 0;
  let fenced = false;
  for (const line of doc.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const match = fenced ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (match) {
      const text = match[2] as string;
      const slug = text
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
        .replace(/ /g, '-');
      const times = seen.get(slug) ?? 0;
      seen.set(slug, times + 1);
      headings.push({
        offset,
        level: (match[1] as string).length,
        text,
        anchor: times ? `${slug}-${times}` : slug,
      });
    }
    offset += line.length + 1;
  }
  return headings;
}

/** A bench's section: one whose first heading is `## … (bench/NAME)` (extra sections such as profiles are not). */
interface BenchSection extends DocSection {
  anchor: string;
}

function benchSections(doc: string): BenchSection[] {
  const headings = headingAnchors(doc);
  return docSections(doc).flatMap((section) => {
    if (section.name === SUMMARY_SECTION) return [];
    const first = headings.find((h) => h.offset > section.start && h.offset < section.end);
    if (!first || first.level !== 2 || !first.text.endsWith(`(bench/${section.name})`)) return [];
    return [{ ...section, anchor: first.anchor }];
  });
}

/** The date (day) and commit of a section's "Conditions:" line, as bench/lib/report.ts writes it. */
export function runOf(section: string): { date: string; commit: string } | undefined {
  const line = /^Conditions: (\d{4}-\d{2}-\d{2})T[^,]*,.*, commit ([^\s,]+?)\.?$/m.exec(section);
  return line ? { date: line[1] as string, commit: line[2] as string } : undefined;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The summary's Markdown from the target comments of every bench section of `doc`: one table (bench,
 * target, measured figure, verdict, run) and a count of the targets met.
 */
export function summaryMarkdown(doc: string): string {
  const rows: string[][] = [];
  let judged = 0;
  let met = 0;
  let reported = 0;
  const without: string[] = [];
  for (const section of benchSections(doc)) {
    const run = runOf(section.body);
    const trial = section.body.includes(TRIAL_MARK);
    const runCell = run ? `${run.date}, ${run.commit}${trial ? ' (trial)' : ''}` : trial ? 'trial' : '';
    const bench = `[${section.name}](#${section.anchor})`;
    const targets = readTargets(section.body);
    if (targets === undefined || targets === 'unreadable' || targets.length === 0) {
      without.push(section.name);
      const why =
        targets === 'unreadable'
          ? 'its target comment is unreadable'
          : targets === undefined
            ? 'no structured targets yet'
            : 'no targets given';
      rows.push([bench, `*${why}: run \`npm run bench -- ${section.name}\`*`, '', '', runCell]);
      continue;
    }
    targets.forEach((t, i) => {
      if (t.met === null) reported += 1;
      else {
        judged += 1;
        if (t.met) met += 1;
      }
      const verdict = t.met === null ? 'reported' : `**${verdictText(t.met)}**`;
      rows.push([i === 0 ? bench : '', cell(t.target), cell(t.measured), verdict, i === 0 ? runCell : '']);
    });
  }
  const header = ['bench', 'target', 'measured', 'verdict', 'run (date, commit)'];
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const counts =
    `**${met} of ${judged} targets met**` +
    (reported ? `; ${reported} figure${reported === 1 ? '' : 's'} reported without a target` : '') +
    (without.length
      ? `; ${without.length} bench${without.length === 1 ? '' : 'es'} without structured targets yet (${without.join(', ')})`
      : '') +
    '.';
  return [
    '## Summary of targets',
    '',
    "Each bench's rows come from the target comment of its section below, as of the run in the last column " +
      '(a trial run is marked so).',
    '',
    counts,
    '',
    table,
  ].join('\n');
}

/**
 * `doc` with its summary section rebuilt: in place, or, the first time, just before the first bench
 * section (after the introduction), or at the end when there is none.
 */
export function withSummary(doc: string): string {
  const open = `<!-- bench:${SUMMARY_SECTION} -->`;
  const close = `<!-- /bench:${SUMMARY_SECTION} -->`;
  const block = `${open}\n${summaryMarkdown(doc)}\n${close}`;
  const existing = docSections(doc).find((s) => s.name === SUMMARY_SECTION);
  if (existing) return doc.slice(0, existing.start) + block + doc.slice(existing.end);
  const first = docSections(doc)[0];
  if (first) return `${doc.slice(0, first.start)}${block}\n\n${doc.slice(first.start)}`;
  return `${doc.trimEnd()}\n\n${block}\n`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = resolve(fileURLToPath(import.meta.url), '../../../docs/BENCHMARKS.md');
  const doc = readFileSync(file, 'utf8');
  const next = withSummary(doc);
  if (next !== doc) writeFileSync(file, next);
  process.stdout.write(`${next === doc ? 'already up to date' : 'rebuilt'}: the summary of ${file}\n`);
}
