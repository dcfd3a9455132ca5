import { randomBytes } from 'node:crypto';
import type { Pool } from 'undici';
import { expectJson } from './http.js';

/** The setup token of every bench server (accountsEnv passes it on). */
const SETUP_TOKEN = `bench-setup-${randomBytes(12).toString('hex')}`;

/**
 * Per-operation limits that the set-up burst of a bench (setup, creating users, signing in from one
 * address) would meet; benches that measure something else turn them off.
 */
const SETUP_RATE_LIMITS_OFF = 'setup=off,users.write=off,login.ip=off,login.username=off';

/** A rate-limit tier this high never refuses: every request takes the whole limiter chain and none is cut short. */
export const NEVER_REFUSED = '100000000';

/**
 * The environment of a bench server for setUpAccounts: the setup token, access tokens that outlive the
 * bench, the tiers at NEVER_REFUSED, and the per-operation limits of the set-up off, with `limitsOff`
 * (such as `config.save=off`) beside them.
 */
export function accountsEnv(limitsOff: readonly string[] = []): Record<string, string> {
  return {
    SWITCHBOARD_SETUP_TOKEN: SETUP_TOKEN,
    SWITCHBOARD_ACCESS_TOKEN_TTL: '1h',
    SWITCHBOARD_RATE_LIMIT_IP_FLOOR: NEVER_REFUSED,
    SWITCHBOARD_RATE_LIMIT_UNAUTHENTICATED: NEVER_REFUSED,
    SWITCHBOARD_RATE_LIMIT_AUTHENTICATED: NEVER_REFUSED,
    SWITCHBOARD_RATE_LIMITS: [SETUP_RATE_LIMITS_OFF, ...limitsOff].join(','),
  };
}

export const benchPassword = () => `Bench-${randomBytes(12).toString('base64url')}`;

export interface Credentials {
  username: string;
  password: string;
}

/** Creates the first admin through the setup token; `createUser` then adds viewers with known passwords. */
export async function setUpAccounts(admin: Pool) {
  const setup = await expectJson(admin, 201, 'POST', '/api/v1/auth/setup', {
    json: { username: 'bench-admin', password: benchPassword(), setup_token: SETUP_TOKEN },
  });
  const adminToken: string = setup.body.data.access_token;
  return {
    /** The first admin's access token (to publish, say). */
    adminToken,
    async createUser(username: string): Promise<Credentials> {
      const password = benchPassword();
      await expectJson(admin, 201, 'POST', '/api/v1/users', {
        bearer: adminToken,
        json: { username, password, role: 'viewer', must_change_password: false },
      });
      return { username, password };
    },
    /** Signs in and returns the access token. */
    async signIn(user: Credentials): Promise<string> {
      const res = await expectJson(admin, 200, 'POST', '/api/v1/auth/login', { json: user });
      return res.body.data.access_token;
    },
  };
}
