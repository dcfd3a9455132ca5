import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** What a newcomer reads first must describe what answers today (docs/api.md lists it, checked elsewhere). */
const root = new URL('../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const apiDoc = readFileSync(new URL('docs/api.md', root), 'utf8');

/** Paths of the route rows of docs/api.md, `{name}` parameters included. */
const documentedPaths = new Set(
  [...apiDoc.matchAll(/^\|\s*`[A-Z]+ (\/[^`\s]*)`/gm)].map((match) => match[1] as string),
);

/** Features that are planned, not built: the README may name them only where it says so. */
const NOT_BUILT: RegExp[] = [];
const COMING = /^Coming, not built yet:/;

describe('README.md', () => {
  it('names only paths that Switchboard serves', () => {
    const named = [
      ...readme.matchAll(
        /(?:localhost:\d+|`(?:[A-Z]+ )?)(\/(?:api\/v1\/|healthz|readyz|docs|openapi|metrics|config-ui)[^\s`)]*)/g,
      ),
    ].map((match) => (match[1] as string).replace(/[.,;:]+$/, ''));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((path) => !documentedPaths.has(path))).toEqual([]);
  });

  it('mentions planned features only in the paragraph that says they are not built yet', () => {
    const paragraphs = readme.split(/\n\s*\n/);
    const coming = paragraphs.filter((paragraph) => COMING.test(paragraph));
    expect(coming).toHaveLength(NOT_BUILT.length > 0 ? 1 : 0);
    for (const feature of NOT_BUILT) {
      expect(coming[0], String(feature)).toMatch(feature);
      const elsewhere = paragraphs.filter((paragraph) => !COMING.test(paragraph) && feature.test(paragraph));
      expect(elsewhere, String(feature)).toEqual([]);
    }
  });

  it('keeps exactly two set-up commands', () => {
    const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) =>
      (match[1] as string).trim(),
    );
    expect(commands).toEqual(['npm ci && npm start', 'npm test']);
  });

  it('links docs/api.md, and every link it has resolves to a file of the project', () => {
    const links = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((match) => match[1] as string);
    expect(links).toContain('docs/api.md');
    for (const link of links) {
      expect(link, "links go to the project's own files").not.toMatch(/^[a-z]+:|^\.\.\//);
      expect(existsSync(new URL(link.split('#')[0] as string, root)), link).toBe(true);
    }
  });
});
