import {
  boolean,
  defineSection,
  duration,
  integer,
  type SectionSettings,
  SettingsError,
} from '../platform/settings-spec.js';
import {
  CONCURRENCY_CAPS,
  type ConcurrencyName,
  isConcurrencyName,
  isOperation,
  OPERATIONS,
  type OperationName,
  type Rate,
} from './operations.js';
import { parseOverrides, parseRate } from './parse.js';

const TIER = integer(1, 100_000_000);
const CAP = integer(1, 1000);

/** The global tiers, the per-operation windows and the concurrency caps (docs/rate-limits.md). */
export const limitSettings = defineSection(
  {
    /** False turns every rate limit and concurrency cap off (request limits stay). */
    enabled: {
      env: 'SWITCHBOARD_RATE_LIMITING',
      file: 'rate_limiting',
      default: 'true',
      ...boolean,
      doc: 'Rate limits and concurrency caps. Turn off only behind a gateway that enforces its own.',
    },
    windowMs: {
      env: 'SWITCHBOARD_RATE_LIMIT_WINDOW',
      file: 'rate_limit_window',
      default: '1m',
      ...duration('1s', '1h'),
      doc: 'Sliding window of the three global tiers.',
    },
    /** Per client address, every request but health checks, counted before authentication. */
    ipFloor: {
      env: 'SWITCHBOARD_RATE_LIMIT_IP_FLOOR',
      file: 'rate_limit_ip_floor',
      default: '10000',
      ...TIER,
      doc: 'Requests per window from one client address, counted before authentication (401s and 404s included; /healthz and /readyz not). At least each of the other two tiers.',
    },
    /** Per client address, requests without valid credentials. */
    unauthenticated: {
      env: 'SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED',
      file: 'rate_limit_unauthenticated',
      default: '60',
      ...TIER,
      doc: 'API requests per window from one client address without valid credentials.',
    },
    /** Per user, requests with valid credentials. */
    authenticated: {
      env: 'SWITCHBOARD_RATE_LIMIT_AUTHENTICATED',
      file: 'rate_limit_authenticated',
      default: '6000',
      ...TIER,
      doc: 'API requests per window by one user (all their sessions and API keys together).',
    },
    operations: {
      env: 'SWITCHBOARD_RATE_LIMITS',
      file: 'rate_limits',
      default: '',
      accepts: `comma-separated name=<count>/<duration> or name=off, where name is one of ${Object.keys(OPERATIONS).join(', ')}`,
      parse: (value) => parseOverrides(value, isOperation, parseRate),
      doc: 'Per-operation limits that replace the defaults of [rate limits](rate-limits.md), e.g. `login.ip=10/1m,config.save=off`.',
    },
    concurrency: {
      env: 'SWITCHBOARD_CONCURRENCY_LIMITS',
      file: 'concurrency_limits',
      default: '',
      accepts: `comma-separated name=<count> or name=off, where name is one of ${Object.keys(CONCURRENCY_CAPS).join(', ')}`,
      parse: (value) => parseOverrides(value, isConcurrencyName, CAP.parse),
      doc: 'Caps on simultaneous slow requests per user that replace the defaults of [rate limits](rate-limits.md), e.g. `config.test=2`.',
    },
  },
  (values) => {
    // The floor sees every request before the other tiers do, so a lower floor would silently cap them.
    for (const [name, tier] of [
      ['SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED', values.unauthenticated],
      ['SWITCHBOARD_RATE_LIMIT_AUTHENTICATED', values.authenticated],
    ] as const) {
      if (values.ipFloor < tier) {
        throw new SettingsError(
          `Invalid setting SWITCHBOARD_RATE_LIMIT_IP_FLOOR=${values.ipFloor}: it must be at least ${name} (${tier}), or that tier could never be reached`,
        );
      }
    }
    const operations = withOverrides(
      Object.fromEntries(Object.entries(OPERATIONS).map(([name, spec]) => [name, spec.rate])),
      values.operations,
    ) as Record<OperationName, Rate | null>;
    const concurrency = withOverrides(
      Object.fromEntries(Object.entries(CONCURRENCY_CAPS).map(([name, spec]) => [name, spec.cap])),
      values.concurrency,
    ) as Record<ConcurrencyName, number | null>;
    return {
      ...values,
      /** Per-operation windows: the defaults with overrides applied; null is off. */
      operations,
      /** Simultaneous requests per user; null is off. */
      concurrency,
    };
  },
);

export type LimitSettings = SectionSettings<typeof limitSettings>;

/** The defaults with each override applied; an override of null (`off`) turns that one off. */
function withOverrides<T>(
  defaults: Record<string, T>,
  overrides: ReadonlyMap<string, T | null>,
): Record<string, T | null> {
  return Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => [
      name,
      overrides.has(name) ? (overrides.get(name) ?? null) : value,
    ]),
  );
}
