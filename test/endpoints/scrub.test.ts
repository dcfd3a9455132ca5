import { describe, expect, it } from 'vitest';
import { BuildError } from '../../src/endpoints/build.js';
import { MIN_MASKED_LENGTH, secretMasker } from '../../src/endpoints/scrub.js';

describe('secretMasker', () => {
  it('masks every occurrence of every value, in any letter case', () => {
    const mask = secretMasker(['hidden.internal.corp', 'tok3n-Zq81xv']);
    expect(mask('reaches Hidden.Internal.CORP:8443 with tok3n-zq81xv, then hidden.internal.corp')).toBe(
      'reaches ********:8443 with ********, then ********',
    );
  });

  it('masks the forms a URL gives a value: its host as the parser writes it, and percent-encoded', () => {
    expect(secretMasker(['bücher.example'])('host xn--bcher-kva.example failed')).toBe(
      'host ******** failed',
    );
    expect(secretMasker(['p@ss word!'])('path /p%40ss%20word! refused')).toBe('path /******** refused');
  });

  it('masks values longer than the 32,767 characters V8 compiles as one literal of a regular expression', () => {
    // Found by the fuzz suite: the pattern threw "Regular expression too large" when first used.
    const long = `Tok-${'q'.repeat(70_000)}`;
    const mask = secretMasker([long, 'z'.repeat(40_000)]);
    expect(mask(`a ${long.toUpperCase()} b ${'Z'.repeat(40_000)} c`)).toBe('a ******** b ******** c');
    expect(mask('nothing secret here')).toBe('nothing secret here');
  });

  it('masks a longer value before one it contains', () => {
    expect(secretMasker(['secret', 'secret-and-more'])('a secret-and-more b')).toBe('a ******** b');
  });

  it(`leaves values shorter than ${MIN_MASKED_LENGTH} characters alone, which would garble and give themselves away`, () => {
    const mask = secretMasker(['1', 'true', 'api', 'abcde']);
    const text = 'version 1.0.1: api must be true or false (abcde)';
    expect(mask(text)).toBe(text);
    expect(secretMasker([])(text)).toBe(text);
  });
});

describe('BuildError', () => {
  it('masks the secret values it is given in its reason and in every problem', () => {
    const error = new BuildError(
      [
        { pointer: '/endpoints/a/url', message: 'once resolved, reaches hidden.internal.corp' },
        { pointer: '/vars/b', message: 'is fine' },
      ],
      '1.2.3',
      ['hidden.internal.corp'],
    );
    expect(error.message).toBe(
      'version 1.2.3 cannot be loaded: /endpoints/a/url once resolved, reaches ********; /vars/b is fine',
    );
    expect(error.problems[0]?.message).toBe('once resolved, reaches ********');
  });
});
