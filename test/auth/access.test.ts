import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AccessRule, admits } from '../../src/auth/access.js';
import { ROLES, type Role, roleLevel } from '../../src/auth/roles.js';

const group = fc.constantFrom('ops', 'sre', 'lab', 'night-shift', 'contractors');
const groups = fc.uniqueArray(group, { maxLength: 5 });
const role = fc.constantFrom<Role>(...ROLES);
const subject = fc.record({ role, groups });
const rule: fc.Arbitrary<AccessRule> = fc.record(
  {
    minRole: role,
    groups: fc.record({ oneOf: groups, allOf: groups, noneOf: groups }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

describe('access rules', () => {
  it('admit everyone when empty', () => {
    fc.assert(
      fc.property(subject, (s) => {
        expect(admits(s, {})).toBe(true);
      }),
    );
  });

  it('hold exactly when every condition holds', () => {
    fc.assert(
      fc.property(subject, rule, (s, r) => {
        const held = new Set<string>(s.groups);
        const expected =
          (r.minRole === undefined || roleLevel(s.role) >= roleLevel(r.minRole)) &&
          (!r.groups?.oneOf?.length || r.groups.oneOf.some((g) => held.has(g))) &&
          (r.groups?.allOf ?? []).every((g) => held.has(g)) &&
          !(r.groups?.noneOf ?? []).some((g) => held.has(g));
        expect(admits(s, r)).toBe(expected);
      }),
    );
  });

  it('never admit a lower role where a higher one is refused', () => {
    fc.assert(
      fc.property(subject, rule, role, (s, r, other) => {
        if (roleLevel(other) <= roleLevel(s.role) && !admits(s, r)) {
          expect(admits({ ...s, role: other }, r)).toBe(false);
        }
      }),
    );
  });

  it('are not widened by holding more groups, except through noneOf', () => {
    fc.assert(
      fc.property(subject, rule, group, (s, r, extra) => {
        const withoutNoneOf: AccessRule = { ...r, groups: { ...r.groups, noneOf: [] } };
        if (admits(s, withoutNoneOf))
          expect(admits({ ...s, groups: [...s.groups, extra] }, withoutNoneOf)).toBe(true);
      }),
    );
  });

  it('read the examples the way an operator would', () => {
    const ops = { role: 'editor' as const, groups: ['ops'] };
    expect(admits(ops, { minRole: 'admin' })).toBe(false);
    expect(admits(ops, { minRole: 'viewer', groups: { oneOf: ['ops', 'sre'] } })).toBe(true);
    expect(admits(ops, { groups: { allOf: ['ops', 'sre'] } })).toBe(false);
    expect(admits(ops, { groups: { noneOf: ['contractors'] } })).toBe(true);
    expect(admits({ ...ops, groups: ['ops', 'contractors'] }, { groups: { noneOf: ['contractors'] } })).toBe(
      false,
    );
  });
});
