import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EndpointConfig } from '../../src/endpoints/schema.js';
import {
  MASK,
  maskSecrets,
  masksNothing,
  presentVars,
  type Reference,
  referencesIn,
  resolveVars,
  restoreMaskedSecrets,
  substitute,
  TOO_LONG_EXPANDED,
} from '../../src/endpoints/vars.js';

type Vars = NonNullable<EndpointConfig['vars']>;

describe('referencesIn', () => {
  it('finds variables and SWITCHBOARD_VAR_ environment variables, in order', () => {
    expect(referencesIn('${base}/x?k=${env:SWITCHBOARD_VAR_KEY}&${other-name_2}')).toEqual({
      references: [
        { kind: 'var', name: 'base' },
        { kind: 'env', name: 'SWITCHBOARD_VAR_KEY' },
        { kind: 'var', name: 'other-name_2' },
      ],
      errors: [],
    });
    expect(referencesIn('no references at all')).toEqual({ references: [], errors: [] });
  });

  it('takes $${ as a literal ${, not a reference', () => {
    expect(referencesIn('cost: $${price} and $${env:HOME}')).toEqual({ references: [], errors: [] });
    expect(referencesIn('$${literal} ${real}').references).toEqual([{ kind: 'var', name: 'real' }]);
  });

  it.each([
    'SWITCHBOARD_JWT_SECRET',
    'HOME',
    'switchboard_var_lower',
    'SWITCHBOARD_VAR_',
    `SWITCHBOARD_VAR_${'X'.repeat(65)}`,
  ])('refuses ${env:%s}: only SWITCHBOARD_VAR_* can be read', (name) => {
    const { references, errors } = referencesIn(`Bearer \${env:${name}}`);
    expect(references).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/only environment variables named SWITCHBOARD_VAR_\*/);
  });

  it.each([
    ['${}', /\$\{\} is not a reference/],
    ['${two words}', /\$\{two words\} is not a reference: write \$\{variable\}/],
    ['${1st}', /\$\{1st\} is not a reference/],
    ['${a.b}', /\$\{a\.b\} is not a reference/],
    ['https://${host/path', /\$\{ is not closed: write \$\{name\}, or \$\$\{ for a literal \$\{/],
    ['${a ${b}', /is not a reference/],
  ])('reports %s as malformed', (text, message) => {
    const { references, errors } = referencesIn(text);
    expect(references).toEqual([]);
    expect(errors.join('\n')).toMatch(message);
  });

  it('never names an environment value, only the variable asked for', () => {
    expect(referencesIn('${env:PGPASSWORD}').errors[0]).toContain('PGPASSWORD');
  });
});

/**
 * The rule the scanner follows, written the slow and obvious way: left to right, `$${` is a literal `${`,
 * `${` up to the next `}` is a reference, and a `${` with no `}` anywhere after it is unclosed.
 */
type Piece = { text: string } | { escape: true } | { inner: string } | { unclosed: true };
function piecesOf(text: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      pieces.push({ escape: true });
      i += 3;
    } else if (text.startsWith('${', i)) {
      const close = text.indexOf('}', i + 2);
      if (close === -1) {
        pieces.push({ unclosed: true });
        i += 2;
      } else {
        pieces.push({ inner: text.slice(i + 2, close) });
        i = close + 1;
      }
    } else {
      pieces.push({ text: text[i] as string });
      i += 1;
    }
  }
  return pieces;
}

const shown = (inner: string) => (inner.length > 64 ? `${inner.slice(0, 64)}…` : inner);

/** What referencesIn must say: references in order, and each distinct error once. */
function expectedReferences(text: string): { references: Reference[]; errors: string[] } {
  const references: Reference[] = [];
  const errors = new Set<string>();
  for (const piece of piecesOf(text)) {
    if ('unclosed' in piece) errors.add('${ is not closed: write ${name}, or $${ for a literal ${');
    if (!('inner' in piece)) continue;
    const { inner } = piece;
    if (inner.startsWith('env:')) {
      const name = inner.slice(4);
      if (/^SWITCHBOARD_VAR_[A-Z0-9_]{1,64}$/.test(name)) references.push({ kind: 'env', name });
      else
        errors.add(
          `\${env:${shown(name)}} may not be read: the configuration reads only environment variables named SWITCHBOARD_VAR_*`,
        );
    } else if (/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(inner)) references.push({ kind: 'var', name: inner });
    else
      errors.add(
        `\${${shown(inner)}} is not a reference: write \${variable} or \${env:SWITCHBOARD_VAR_NAME}`,
      );
  }
  return { references, errors: [...errors] };
}

function expectedSubstitute(text: string, lookup: (reference: Reference) => string): string {
  return piecesOf(text)
    .map((piece) => {
      if ('text' in piece) return piece.text;
      if ('escape' in piece) return '${';
      if ('unclosed' in piece) return '${';
      return lookup(
        piece.inner.startsWith('env:')
          ? { kind: 'env', name: piece.inner.slice(4) }
          : { kind: 'var', name: piece.inner },
      );
    })
    .join('');
}

describe('the reference scanner', () => {
  const alphabet = fc.string({ unit: fc.constantFrom('$', '{', '}', 'a', ':'), maxLength: 200 });
  const upper = (reference: Reference) => `<${reference.kind}:${reference.name.toUpperCase()}>`;

  it('agrees with the rule written the obvious way, on any text of $ { } a :', () => {
    fc.assert(
      fc.property(alphabet, (text) => {
        expect(referencesIn(text)).toEqual(expectedReferences(text));
        expect(substitute(text, upper)).toBe(expectedSubstitute(text, upper));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('${', '$${', '}', 'a', 'env:', 'SWITCHBOARD_VAR_A', ':')),
        (parts) => {
          const text = parts.join('');
          expect(referencesIn(text)).toEqual(expectedReferences(text));
          expect(substitute(text, upper)).toBe(expectedSubstitute(text, upper));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('says each distinct problem of a text once, however often it occurs', () => {
    expect(referencesIn('${ and ${ and ${${${').errors).toEqual([
      '${ is not closed: write ${name}, or $${ for a literal ${',
    ]);
    expect(referencesIn('${a b} ${a b} ${c d}').errors).toHaveLength(2);
  });

  it('quotes at most 64 characters of what it refuses', () => {
    const long = 'x y'.repeat(100_000);
    const { errors } = referencesIn(`\${${long}} \${env:${long}}`);
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(error.length).toBeLessThan(200);
    expect(errors[0]).toContain(`\${${long.slice(0, 64)}…}`);
  });

  // Each of these took the regex it replaced minutes or more: it looked for a `}` again from every `${`.
  it('reads 8 MB of ${ without a closing brace in one pass', () => {
    const text = '${'.repeat(4_000_000);
    expect(referencesIn(text)).toEqual({
      references: [],
      errors: ['${ is not closed: write ${name}, or $${ for a literal ${'],
    });
    expect(substitute(text, upper)).toBe(text);
    const secret = { value: text.slice(0, 65_536), secret: true };
    expect(maskSecrets({ vars: { secret } }).vars).toEqual({ secret: { value: MASK, secret: true } });
  });

  it('reads 6 MB of unclosed references in one pass', () => {
    const text = '${a'.repeat(2_000_000);
    expect(referencesIn(text).errors).toEqual(['${ is not closed: write ${name}, or $${ for a literal ${']);
    expect(substitute(text, upper)).toBe(text);
  });

  it('takes everything up to the first closing brace as one reference, however long', () => {
    const text = `${'${a$${'.repeat(1_000_000)}}`;
    const { references, errors } = referencesIn(text);
    expect(references).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(substitute(text, () => 'x')).toBe('x');
  });
});

describe('substitute', () => {
  const upper = (reference: Reference) => `<${reference.kind}:${reference.name.toUpperCase()}>`;

  it('leaves text without ${ as it is', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        fc.pre(!text.includes('${'));
        expect(substitute(text, upper)).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('$', '{', '}', 'a', ':', ' ') }), (text) => {
        fc.pre(!text.includes('${'));
        expect(substitute(text, upper)).toBe(text);
      }),
    );
  });

  it('turns $${x} into a literal ${x}, whatever x is', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (inner, around) => {
        fc.pre(!inner.includes('$') && !inner.includes('}') && !around.includes('$'));
        expect(substitute(`${around}$\${${inner}}${around}`, upper)).toBe(`${around}\${${inner}}${around}`);
      }),
    );
  });

  it('replaces each reference with what the lookup gives', () => {
    expect(substitute('${a}-${env:SWITCHBOARD_VAR_B}-$${a}', upper)).toBe(
      '<var:A>-<env:SWITCHBOARD_VAR_B>-${a}',
    );
  });

  it('leaves a ${ that is never closed as written', () => {
    expect(substitute('a ${b', upper)).toBe('a ${b');
  });
});

describe('resolveVars', () => {
  it('resolves literals, numbers, booleans and chains of references', () => {
    const resolved = resolveVars(
      {
        host: 'api.example.com',
        port: 8443,
        tls: true,
        base: 'https://${host}:${port}',
        url: '${base}/v1?tls=${tls}',
        described: { value: '${url}', description: 'the whole URL' },
        literal: 'costs $${price}',
      },
      {},
    );
    expect(Object.fromEntries(resolved.values)).toEqual({
      host: 'api.example.com',
      port: 8443,
      tls: true,
      base: 'https://api.example.com:8443',
      url: 'https://api.example.com:8443/v1?tls=true',
      described: 'https://api.example.com:8443/v1?tls=true',
      literal: 'costs ${price}',
    });
    expect(resolved.problems.size).toBe(0);
    expect(resolved.secret.size).toBe(0);
  });

  it('reads SWITCHBOARD_VAR_ environment variables, and names one that is missing', () => {
    const vars: Vars = {
      token: 'Bearer ${env:SWITCHBOARD_VAR_TOKEN}',
      other: '${env:SWITCHBOARD_VAR_UNSET}',
    };
    const resolved = resolveVars(vars, { SWITCHBOARD_VAR_TOKEN: 't0k3n' });
    expect(resolved.values.get('token')).toBe('Bearer t0k3n');
    expect(resolved.values.has('other')).toBe(false);
    expect(resolved.problems.get('other')).toBe('${env:SWITCHBOARD_VAR_UNSET} is not set on this server');
  });

  it('never reads an environment variable outside SWITCHBOARD_VAR_', () => {
    const resolved = resolveVars(
      { leak: '${env:SWITCHBOARD_JWT_SECRET}' },
      { SWITCHBOARD_JWT_SECRET: 'server-secret' },
    );
    expect(resolved.values.has('leak')).toBe(false);
    expect([...resolved.problems.values()].join()).not.toContain('server-secret');
  });

  it('reports a cycle with its path, and only the variables in it as referring to themselves', () => {
    const resolved = resolveVars({ entry: '${a}', a: 'x${b}', b: '${c}', c: '${a}', self: '${self}' }, {});
    expect(resolved.values.size).toBe(0);
    expect(resolved.problems.get('self')).toBe('refers to itself through self → self');
    const cycle = resolved.problems.get('a') ?? '';
    expect(cycle).toMatch(/^refers to itself through /);
    // Whichever variable closes the loop, the path is the loop and nothing before it.
    expect(cycle).not.toContain('entry');
    expect(cycle.replace('refers to itself through ', '').split(' → ')).toHaveLength(4);
    for (const name of ['a', 'b', 'c']) expect(cycle).toContain(name);
    expect(resolved.problems.get('entry')).toBeDefined();
  });

  it('reports a reference to an undeclared variable, and one to a variable without a value', () => {
    const resolved = resolveVars(
      { a: '${nowhere}', b: '${a}', c: '${env:SWITCHBOARD_VAR_MISSING}', d: 'x${c}' },
      {},
    );
    expect(resolved.problems.get('a')).toBe('${nowhere} is not a declared variable');
    expect(resolved.problems.get('b')).toBe('${nowhere} is not a declared variable');
    expect(resolved.problems.get('d')).toBe('${env:SWITCHBOARD_VAR_MISSING} is not set on this server');
  });

  it('does not take Object.prototype members for variables', () => {
    const resolved = resolveVars({ a: '${toString}', b: '${constructor}' }, {});
    expect(resolved.values.size).toBe(0);
    expect(resolved.problems.get('a')).toBe('${toString} is not a declared variable');
  });

  it('makes a variable built from a secret one secret too, through any chain', () => {
    const resolved = resolveVars(
      {
        // Declared before the secret it is built from, so order cannot matter.
        header: 'Bearer ${auth}',
        auth: '${token}',
        token: { value: '${env:SWITCHBOARD_VAR_TOKEN}', secret: true },
        literal: { value: 'hunter2', secret: true },
        public: 'https://api.example.com',
        mixed: '${public}/${literal}',
      },
      { SWITCHBOARD_VAR_TOKEN: 't0k3n' },
    );
    expect([...resolved.secret].sort()).toEqual(['auth', 'header', 'literal', 'mixed', 'token']);
    expect(resolved.values.get('header')).toBe('Bearer t0k3n');
    expect(resolved.values.get('mixed')).toBe('https://api.example.com/hunter2');
  });

  it('keeps a variable secret even when its secret source has no value', () => {
    const resolved = resolveVars(
      { token: { value: '${env:SWITCHBOARD_VAR_ABSENT}', secret: true }, header: 'Bearer ${token}' },
      {},
    );
    expect(resolved.secret.has('token')).toBe(true);
    expect(resolved.values.size).toBe(0);
  });

  it('stops a chain of references that multiplies its size, instead of failing to make the string', () => {
    const resolved = resolveVars(
      { a: '${b}'.repeat(16_000), b: '${c}'.repeat(16_000), c: 'x'.repeat(65_536), d: '${c}${c}' },
      {},
    );
    expect(resolved.problems.get('b')).toBe(TOO_LONG_EXPANDED);
    expect(resolved.problems.get('a')).toBe(TOO_LONG_EXPANDED);
    expect(resolved.values.get('d')).toHaveLength(2 * 65_536);
    const wide = resolveVars({ a: '${b}'.repeat(16_000), b: '${c}'.repeat(16_000), c: '' }, {});
    expect(wide.values.get('a')).toBe('');
  });

  it('resolves nothing from no variables', () => {
    expect(resolveVars(undefined, {}).values.size).toBe(0);
  });
});

describe('presentVars', () => {
  it('shows values, masks secrets (resolved or not), and null for a variable without a value', () => {
    const resolved = resolveVars(
      {
        plain: 'https://api.example.com',
        count: 3,
        token: { value: '${env:SWITCHBOARD_VAR_TOKEN}', secret: true },
        derived: 'Bearer ${token}',
        unset_secret: { value: '${env:SWITCHBOARD_VAR_NONE}', secret: true },
        broken: '${env:SWITCHBOARD_VAR_NONE}',
      },
      { SWITCHBOARD_VAR_TOKEN: 'shh' },
    );
    const shown = presentVars(resolved, ['plain', 'count', 'token', 'derived', 'unset_secret', 'broken']);
    expect(shown).toEqual({
      plain: 'https://api.example.com',
      count: 3,
      token: MASK,
      derived: MASK,
      unset_secret: MASK,
      broken: null,
    });
    expect(JSON.stringify(shown)).not.toContain('shh');
  });

  it('shows only the names asked for', () => {
    const resolved = resolveVars({ a: 1, b: 2 }, {});
    expect(presentVars(resolved, ['b'])).toEqual({ b: 2 });
  });
});

describe('maskSecrets', () => {
  const config = (vars: Vars): EndpointConfig => ({ description: 'd', vars, streams: {} });

  it('masks a literal secret of any type and leaves other variables alone', () => {
    const masked = maskSecrets(
      config({
        key: { value: 'literal-secret', secret: true, description: 'vendor key' },
        pin: { value: 1234, secret: true },
        flag: { value: true, secret: true },
        plain: 'visible',
        notSecret: { value: 'also visible', secret: false },
      }),
    );
    expect(masked.vars).toEqual({
      key: { value: MASK, secret: true, description: 'vendor key' },
      pin: { value: MASK, secret: true },
      flag: { value: MASK, secret: true },
      plain: 'visible',
      notSecret: { value: 'also visible', secret: false },
    });
    expect(masked.description).toBe('d');
  });

  it('shows a secret made only of references as written: it says where the secret lives', () => {
    const vars: Vars = {
      token: { value: '${env:SWITCHBOARD_VAR_TOKEN}', secret: true },
      joined: { value: '${env:SWITCHBOARD_VAR_A}${token}', secret: true },
    };
    expect(maskSecrets(config(vars)).vars).toEqual(vars);
  });

  it('masks a secret that mixes literal text with references, which could hold part of the secret', () => {
    const masked = maskSecrets(
      config({
        partly: { value: 'sk_live_9f8e${env:SWITCHBOARD_VAR_SUFFIX}', secret: true },
        escaped: { value: '$${env:SWITCHBOARD_VAR_X}', secret: true },
        malformed: { value: 'abc${not valid}', secret: true },
      }),
    );
    expect(JSON.stringify(masked)).not.toContain('sk_live');
    expect(masked.vars).toEqual({
      partly: { value: MASK, secret: true },
      escaped: { value: MASK, secret: true },
      malformed: { value: MASK, secret: true },
    });
  });

  it('keeps and masks a variable named __proto__, which assigning it would drop', () => {
    const config = JSON.parse('{"vars":{"__proto__":{"value":"hunter2","secret":true},"a":1}}');
    const masked = maskSecrets(config);
    expect(Object.keys(masked.vars ?? {})).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(masked.vars, '__proto__')?.value).toEqual({
      value: MASK,
      secret: true,
    });
    expect(JSON.stringify(masked)).not.toContain('hunter2');
  });

  it('says whether it would change anything: masksNothing', () => {
    const variable = fc.oneof(
      fc.constantFrom('plain', 3, true),
      fc.record(
        {
          value: fc.oneof(
            fc.constantFrom('${env:SWITCHBOARD_VAR_A}', '${a}${b}', 'k3y${a}', '$${a}', 'x', ''),
            fc.integer(),
          ),
          secret: fc.boolean(),
        },
        { requiredKeys: ['value'] },
      ),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'c', 'token'), variable), (vars) => {
        const config: EndpointConfig = { vars: vars as Vars };
        expect(masksNothing(config)).toBe(JSON.stringify(maskSecrets(config)) === JSON.stringify(config));
      }),
      { numRuns: 500 },
    );
  });

  it('does not change the document it was given', () => {
    const original = config({ key: { value: 'literal-secret', secret: true } });
    maskSecrets(original);
    expect(original.vars?.key).toEqual({ value: 'literal-secret', secret: true });
    const noVars: EndpointConfig = { streams: {} };
    expect(maskSecrets(noVars)).toBe(noVars);
  });
});

describe('restoreMaskedSecrets', () => {
  const previous: EndpointConfig = {
    vars: {
      key: { value: 'literal-secret', secret: true },
      was_plain: 'not a secret',
      was_plain_object: { value: 'not a secret either' },
    },
  };

  it('puts the previous secret back where the mask was kept', () => {
    const { config, unrestored } = restoreMaskedSecrets(
      { vars: { key: { value: MASK, secret: true, description: 'renamed description' }, other: 1 } },
      previous,
    );
    expect(unrestored).toEqual([]);
    expect(config.vars).toEqual({
      key: { value: 'literal-secret', secret: true, description: 'renamed description' },
      other: 1,
    });
  });

  it('leaves a new value alone', () => {
    const { config, unrestored } = restoreMaskedSecrets(
      { vars: { key: { value: 'new', secret: true } } },
      previous,
    );
    expect(unrestored).toEqual([]);
    expect(config.vars?.key).toEqual({ value: 'new', secret: true });
  });

  it('reports a mask with no secret behind it', () => {
    const { unrestored } = restoreMaskedSecrets(
      {
        vars: {
          fresh: { value: MASK, secret: true },
          was_plain: { value: MASK, secret: true },
          was_plain_object: { value: MASK, secret: true },
          toString: { value: MASK, secret: true },
        },
      },
      previous,
    );
    expect(unrestored.sort()).toEqual(['fresh', 'toString', 'was_plain', 'was_plain_object']);
    expect(
      restoreMaskedSecrets({ vars: { key: { value: MASK, secret: true } } }, undefined).unrestored,
    ).toEqual(['key']);
  });

  it('does not hand a secret to a variable that is no longer secret, which would show it', () => {
    for (const variable of [{ value: MASK, secret: false }, { value: MASK }]) {
      const { config, unrestored } = restoreMaskedSecrets({ vars: { key: variable } }, previous);
      expect(unrestored).toEqual(['key']);
      expect(JSON.stringify(config)).not.toContain('literal-secret');
    }
  });

  it('round-trips what maskSecrets shows back to the stored document', () => {
    const stored: EndpointConfig = {
      vars: {
        key: { value: 'literal-secret', secret: true },
        token: { value: '${env:SWITCHBOARD_VAR_TOKEN}', secret: true },
        plain: 'x',
      },
    };
    const { config, unrestored } = restoreMaskedSecrets(maskSecrets(stored), stored);
    expect(unrestored).toEqual([]);
    expect(config).toEqual(stored);
  });
});
