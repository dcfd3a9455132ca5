import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions, isVersion, nextPatch } from '../../src/endpoints/semver.js';

const version = fc
  .tuple(
    fc.nat({ max: 20 }),
    fc.nat({ max: 20 }),
    fc.nat({ max: 20 }),
    fc.option(fc.constantFrom('alpha', 'alpha.1', 'beta', 'beta.2', 'beta.11', 'rc.1'), { nil: undefined }),
  )
  .map(([major, minor, patch, pre]) => `${major}.${minor}.${patch}${pre === undefined ? '' : `-${pre}`}`);

describe('isVersion', () => {
  it.each(['1.0.0', '0.0.1', '10.20.30', '1.4.2', '2.0.0-rc.1', '1.0.0-alpha.beta.1', '1.0.0-0'])(
    'takes %s',
    (text) => {
      expect(isVersion(text)).toBe(true);
    },
  );

  it.each([
    '',
    '1',
    '1.0',
    'v1.0.0',
    '=1.0.0',
    ' 1.0.0',
    '1.0.0 ',
    '01.0.0',
    '1.0.0+build.5',
    '1.0.0-',
    '1.0.0-01',
    'latest',
    `1.0.0-${'a'.repeat(60)}`,
  ])('refuses %j', (text) => {
    expect(isVersion(text)).toBe(false);
  });
});

describe('compareVersions', () => {
  it('orders by semver precedence, prereleases before their release', () => {
    const ordered = [
      '0.9.9',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.2.0',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i < ordered.length - 1; i++) {
      expect(compareVersions(ordered[i] as string, ordered[i + 1] as string)).toBeLessThan(0);
      expect(compareVersions(ordered[i + 1] as string, ordered[i] as string)).toBeGreaterThan(0);
    }
    expect([...ordered].reverse().sort(compareVersions)).toEqual(ordered);
  });

  it('is a total order: antisymmetric, zero only for the same version', () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        expect(Math.sign(compareVersions(a, b))).toBe(-Math.sign(compareVersions(b, a)));
        expect(compareVersions(a, b) === 0).toBe(a === b);
      }),
    );
  });
});

describe('nextPatch', () => {
  it('starts at 1.0.0', () => {
    expect(nextPatch([])).toBe('1.0.0');
  });

  it('bumps the highest version, not the last one saved', () => {
    expect(nextPatch(['1.0.0'])).toBe('1.0.1');
    expect(nextPatch(['1.2.0', '1.10.0', '1.9.0'])).toBe('1.10.1');
    expect(nextPatch(['3.0.0', '1.0.0', '2.5.9'])).toBe('3.0.1');
  });

  it('releases a prerelease that is the highest, and ignores one below a release', () => {
    expect(nextPatch(['1.0.0', '2.0.0-rc.1'])).toBe('2.0.0');
    expect(nextPatch(['1.0.0-rc.1', '1.0.0-rc.2'])).toBe('1.0.0');
    expect(nextPatch(['1.0.1', '1.1.0-beta'])).toBe('1.1.0');
    expect(nextPatch(['2.0.0', '2.0.0-rc.1'])).toBe('2.0.1');
  });

  it('gives a new version above every given one', () => {
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 8 }), (versions) => {
        const next = nextPatch(versions);
        expect(isVersion(next)).toBe(true);
        for (const v of versions) expect(compareVersions(next, v)).toBeGreaterThan(0);
      }),
    );
  });

  it('does not reorder the list it was given', () => {
    const versions = ['1.2.0', '1.0.0'];
    nextPatch(versions);
    expect(versions).toEqual(['1.2.0', '1.0.0']);
  });
});
