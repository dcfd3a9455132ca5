/**
 * Named operations with their own sliding-window limits, on top of the global tiers. A route opts in with
 * `config.rateLimit.operations`; the features that own the route pick the name. Defaults are documented in
 * docs/rate-limits.md and overridden by SWITCHBOARD_RATE_LIMITS.
 */

/** Whose budget a request spends: the caller's user, the client address, or the user when signed in. */
export type LimitKey = 'user' | 'ip' | 'user-or-ip' | 'username';

export interface Rate {
  /** Requests allowed per window. */
  readonly limit: number;
  readonly windowMs: number;
}

export interface OperationSpec {
  readonly key: LimitKey;
  readonly rate: Rate;
  readonly doc: string;
}

const perMinute = (limit: number): Rate => ({ limit, windowMs: 60_000 });
const perHour = (limit: number): Rate => ({ limit, windowMs: 3_600_000 });

export const OPERATIONS = {
  'login.ip': { key: 'ip', rate: perMinute(30), doc: 'Sign-in attempts from one address.' },
  'login.username': {
    key: 'username',
    rate: perMinute(30),
    doc: 'Sign-in attempts for one username from anywhere (slows a spread-out guess at one account).',
  },
  setup: { key: 'ip', rate: perMinute(10), doc: 'First-admin setup attempts from one address.' },
  refresh: { key: 'ip', rate: perMinute(60), doc: 'Token refreshes from one address.' },
  'password.change': { key: 'user', rate: perHour(10), doc: 'Password changes by one user.' },
  'tickets.issue': { key: 'user', rate: perMinute(60), doc: 'WebSocket connect tickets issued to one user.' },
  'api_keys.create': { key: 'user', rate: perHour(20), doc: 'API keys created by one user.' },
  'api_keys.list': { key: 'user', rate: perMinute(60), doc: 'API key listings by one user.' },
  'api_keys.revoke': { key: 'user', rate: perMinute(30), doc: 'API key revocations by one user.' },
  'users.write': {
    key: 'user',
    rate: perMinute(60),
    doc: 'User administration writes (create, update, delete) by one admin.',
  },
  'config.save': { key: 'user', rate: perMinute(30), doc: 'Configuration saves by one user.' },
  'config.activate': { key: 'user', rate: perMinute(10), doc: 'Configuration activations by one user.' },
  'config.delete': { key: 'user', rate: perMinute(30), doc: 'Configuration deletions by one user.' },
  'config.test': { key: 'user', rate: perMinute(20), doc: 'Function test runs by one user.' },
  'config.diff': {
    key: 'user',
    rate: perMinute(60),
    doc: 'Configuration diffs (drafts and versions) by one user.',
  },
  'widgets.register': { key: 'user', rate: perHour(30), doc: 'Widget bundle registrations by one user.' },
  'streams.publish': {
    key: 'user-or-ip',
    rate: perMinute(600),
    doc: 'Events published to streams by one user or API key owner.',
  },
  'preferences.write': {
    key: 'user',
    rate: perMinute(120),
    doc: 'Preference and workspace writes by one user.',
  },
} as const satisfies Record<string, OperationSpec>;

export type OperationName = keyof typeof OPERATIONS;

/** Slow operations whose simultaneous requests per user are capped; SWITCHBOARD_CONCURRENCY_LIMITS overrides. */
export const CONCURRENCY_CAPS = {
  'config.test': { cap: 1, doc: 'Function test runs in flight for one user.' },
  // Diffs share one thread: one editor's large drafts must not queue everyone else's behind them.
  'config.diff': { cap: 2, doc: 'Configuration diffs in flight for one user.' },
  'widgets.register': {
    cap: 2,
    doc: 'Widget registrations (fetch, verify, extract) in flight for one user.',
  },
} as const satisfies Record<string, { cap: number; doc: string }>;

export type ConcurrencyName = keyof typeof CONCURRENCY_CAPS;

export const isOperation = (name: string): name is OperationName => Object.hasOwn(OPERATIONS, name);
export const isConcurrencyName = (name: string): name is ConcurrencyName =>
  Object.hasOwn(CONCURRENCY_CAPS, name);
