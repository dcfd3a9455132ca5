import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type TargetResult, writeBenchSection, writeDocSection } from '../../bench/lib/report.js';
import {
  docSections,
  headingAnchors,
  readTargets,
  runOf,
  summaryMarkdown,
  targetsComment,
  withSummary,
} from '../../bench/lib/summary.js';

const conditions = (date: string, commit: string) =>
  `Conditions: ${date}, 2 CPUs (AMD EPYC), 24 GiB, Node v20.20.2, load average at start 0.20, 1.06, 1.50, commit ${commit}.`;

/** A bench's section as bench/lib/report.ts writes it, with its target comment when given. */
function section(name: string, title: string, opts: { targets?: TargetResult[]; trial?: boolean } = {}) {
  return [
    `<!-- bench:${name} -->`,
    ...(opts.targets ? [targetsComment(opts.targets)] : []),
    `## ${title} (bench/${name})`,
    '',
    'What it asks. **Target:** something.',
    '',
    ...(opts.trial
      ? ['> **Trial figures, not a measurement:** 1 run(s). Re-run with the defaults.', '']
      : []),
    conditions('2026-12-05T00:25:39Z', 'abc1234'),
    '',
    '**Result:** as printed.',
    `<!-- /bench:${name} -->`,
  ].join('\n');
}

const INTRO =
  '# Benchmarks\n\nIntroduction: the `<!-- bench:NAME -->` markers hold each bench.\n\nMore intro.\n';

const LOGIN: TargetResult[] = [
  { target: 'p99 under load ≤ 2× idle p99', measured: '1.05× (15.7 vs 14.9 ms)', met: true },
];
const HOTPATH: TargetResult[] = [
  { target: '`GET /healthz` / bare, 50 connections: ≥ 0.8', measured: '0.91 (rounds 0.88–1.24)', met: true },
  {
    target: 'loss | with limits, 50 connections: < 10.0%',
    measured: '11.6% (rounds 8.6%–13.5%)',
    met: false,
  },
  { target: 'the same from disk (no target)', measured: '0.92', met: null },
];

function sampleDoc(): string {
  return [
    INTRO,
    section('login', 'Login load', { targets: LOGIN }),
    '',
    '### Reading the login figures',
    '',
    section('hotpath', 'Hot path against bare Fastify', { targets: HOTPATH, trial: true }),
    '',
    '<!-- bench:hotpath-profile -->\n### Where the time goes (bench/hotpath --profile)\n\nProfiled.\n<!-- /bench:hotpath-profile -->',
    '',
    section('widgets', 'Widget files against @fastify/static'),
    '',
  ].join('\n');
}

describe('target comments', () => {
  it('give back the targets they were made from, whatever their text holds', () => {
    const targets: TargetResult[] = [
      ...HOTPATH,
      { target: 'a --> b and --!> c', measured: 'line one\nline "two" \\ <!-- x -->', met: false },
    ];
    const comment = targetsComment(targets);
    expect(comment).toMatch(/^<!-- targets: \[.*\] -->$/);
    expect(comment.split('\n')).toHaveLength(1);
    // The comment ends only where it is meant to: no `--` inside it.
    expect(comment.slice('<!--'.length, -'-->'.length)).not.toContain('--');
    expect(readTargets(`## heading\n${comment}\nbody`)).toEqual(targets);
  });

  it('tell a section without one from one whose comment is unreadable', () => {
    expect(readTargets('## heading\n\nbody')).toBeUndefined();
    expect(readTargets('<!-- targets: [{"target": "x"}] -->')).toBe('unreadable');
    expect(readTargets('<!-- targets: [not json] -->')).toBe('unreadable');
    expect(readTargets('<!-- targets: {"target":"x","measured":"y","met":true} -->')).toBe('unreadable');
    expect(readTargets('<!-- targets: [{"target":"x","measured":"y","met":"yes"}] -->')).toBe('unreadable');
  });
});

describe('the summary of targets', () => {
  it('lists every target of every bench section with its verdict, link and run, and counts those met', () => {
    const summary = summaryMarkdown(sampleDoc());
    const rows = summary.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
    expect(rows).toEqual([
      '| bench | target | measured | verdict | run (date, commit) |',
      '| [login](#login-load-benchlogin) | p99 under load ≤ 2× idle p99 | 1.05× (15.7 vs 14.9 ms) | **met** | 2026-12-05, abc1234 |',
      '| [hotpath](#hot-path-against-bare-fastify-benchhotpath) | `GET /healthz` / bare, 50 connections: ≥ 0.8 | 0.91 (rounds 0.88–1.24) | **met** | 2026-12-05, abc1234 (trial) |',
      '|  | loss \\| with limits, 50 connections: < 10.0% | 11.6% (rounds 8.6%–13.5%) | **not met** |  |',
      '|  | the same from disk (no target) | 0.92 | reported |  |',
      '| [widgets](#widget-files-against-fastifystatic-benchwidgets) | *no structured targets yet: run `npm run bench -- widgets`* |  |  | 2026-12-05, abc1234 |',
    ]);
    expect(summary).toContain(
      '**2 of 3 targets met**; 1 figure reported without a target; 1 bench without structured targets yet (widgets).',
    );
    // The profile section is not a bench of its own.
    expect(summary).not.toContain('hotpath-profile');
  });

  it('is placed after the introduction, before the first section, and rebuilt in place', () => {
    const doc = sampleDoc();
    const once = withSummary(doc);
    expect(once.startsWith(`${INTRO}\n<!-- bench:summary -->\n## Summary of targets\n`)).toBe(true);
    expect(once.indexOf('<!-- /bench:summary -->\n\n<!-- bench:login -->')).toBeGreaterThan(0);
    expect(withSummary(once)).toBe(once);
    expect(docSections(once).map((s) => s.name)).toEqual([
      'summary',
      'login',
      'hotpath',
      'hotpath-profile',
      'widgets',
    ]);
    // Everything but the summary is as it was.
    const summary = docSections(once)[0];
    expect(summary && once.slice(0, summary.start) + once.slice(summary.end + 2)).toBe(doc);
  });

  it("reads the date and commit of a section's Conditions line", () => {
    expect(runOf(`x\n${conditions('2026-11-22T12:43:49Z', 'ff59657')}\ny`)).toEqual({
      date: '2026-11-22',
      commit: 'ff59657',
    });
    expect(runOf('no conditions here')).toBeUndefined();
  });

  it('links headings by the anchors GitHub gives them', () => {
    const anchors = headingAnchors(
      [
        '## Fan-out through nginx with one, two and three instances (bench/cluster)',
        '```',
        '## not a heading',
        '```',
        '### Where the time goes (bench/hotpath --profile)',
        '### Notes',
        '### Notes',
      ].join('\n'),
    ).map((h) => h.anchor);
    expect(anchors).toEqual([
      'fan-out-through-nginx-with-one-two-and-three-instances-benchcluster',
      'where-the-time-goes-benchhotpath---profile',
      'notes',
      'notes-1',
    ]);
  });
});

describe('writing a section', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('writes the target comment into the section and rebuilds the summary from every section', () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    const file = join(dir, 'BENCHMARKS.md');
    writeFileSync(file, withSummary(sampleDoc()));
    const widgets: TargetResult[] = [
      { target: 'Switchboard, file in memory / @fastify/static: ≥ 0.8', measured: '0.75', met: false },
    ];
    const markdown = [
      '## Widget files against @fastify/static (bench/widgets)',
      '',
      conditions('2026-12-06T10:00:00Z', 'def5678'),
      '',
      '**Result:** not met.',
    ].join('\n');
    writeBenchSection(file, 'widgets', markdown, widgets);
    const doc = readFileSync(file, 'utf8');
    const written = docSections(doc).find((s) => s.name === 'widgets');
    expect(written?.body).toBe(`\n${targetsComment(widgets)}\n${markdown}\n`);
    expect(readTargets(written?.body ?? '')).toEqual(widgets);
    const summary = docSections(doc).find((s) => s.name === 'summary')?.body ?? '';
    expect(summary).toContain(
      '| [widgets](#widget-files-against-fastifystatic-benchwidgets) | Switchboard, file in memory / @fastify/static: ≥ 0.8 | 0.75 | **not met** | 2026-12-06, def5678 |',
    );
    expect(summary).toContain('**2 of 4 targets met**');
    // A section written without targets (a profile) leaves them as they are.
    writeDocSection(file, 'hotpath-profile', '### Where the time goes (bench/hotpath --profile)\n\nAgain.');
    expect(readFileSync(file, 'utf8')).toContain('**2 of 4 targets met**');
  });
});

describe('docs/BENCHMARKS.md', () => {
  const doc = readFileSync(new URL('../../docs/BENCHMARKS.md', import.meta.url), 'utf8');

  it('has the summary its sections give', () => {
    expect(docSections(doc).map((s) => s.name)).toContain('summary');
    expect(withSummary(doc), 'stale: rebuild it with `npx tsx bench/lib/summary.ts`').toBe(doc);
  });

  it('has a readable target comment in every section that has one', () => {
    for (const { name, body } of docSections(doc)) {
      expect(readTargets(body), name).not.toBe('unreadable');
    }
  });
});
