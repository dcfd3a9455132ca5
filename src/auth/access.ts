import { type Role, roleLevel } from './roles.js';

/**
 * Who may do something: a minimum role and group conditions, all of which must hold. Routes, channels and
 * shared workspaces use the same rule, so it is checked the same way everywhere.
 */
export interface AccessRule {
  minRole?: Role;
  groups?: {
    /** At least one of these. */
    oneOf?: readonly string[];
    /** Every one of these. */
    allOf?: readonly string[];
    /** None of these. */
    noneOf?: readonly string[];
  };
}

export interface Subject {
  role: Role;
  groups: readonly string[];
}

export function admits(subject: Subject, rule: AccessRule): boolean {
  if (rule.minRole && roleLevel(subject.role) < roleLevel(rule.minRole)) return false;
  const groups = rule.groups;
  if (!groups) return true;
  const held = new Set(subject.groups);
  if (groups.oneOf && groups.oneOf.length > 0 && !groups.oneOf.some((g) => held.has(g))) return false;
  if (groups.allOf && !groups.allOf.every((g) => held.has(g))) return false;
  if (groups.noneOf?.some((g) => held.has(g))) return false;
  return true;
}
