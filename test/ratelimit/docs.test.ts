import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/platform/duration.js';
import { CONCURRENCY_CAPS, OPERATIONS } from '../../src/ratelimit/operations.js';

describe('docs/rate-limits.md', () => {
  const doc = readFileSync(join(process.cwd(), 'docs', 'rate-limits.md'), 'utf8');
  const row = (name: string) => doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`)) ?? '';

  it.each(Object.entries(OPERATIONS))('lists operation %s with its default', (name, spec) => {
    expect(row(name)).toContain(`\`${spec.rate.limit}/${formatDuration(spec.rate.windowMs)}\``);
  });

  it.each(Object.entries(CONCURRENCY_CAPS))('lists concurrency cap %s with its default', (name, spec) => {
    const caps = doc.slice(doc.indexOf('## Concurrency caps'));
    expect(caps).toContain(`| \`${name}\` | \`${spec.cap}\` |`);
  });
});
