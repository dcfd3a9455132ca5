import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { sharedSecret } from '../instance/service.js';
import { InstanceStore } from '../instance/store.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { sameSecret } from '../platform/secrets.js';
import type { AuthDeps, ClientMeta } from './context.js';
import { passwordProblem } from './password-policy.js';
import type { IssuedSession, SessionsService } from './sessions-service.js';
import type { UsersService } from './users-service.js';

const SETUP_TOKEN = 'setup_token';

function alreadyDone(): AppError {
  return new AppError(409, ErrorCode.conflict, 'setup is already done: an admin exists; sign in instead');
}

/**
 * First run. Until an admin exists, POST /auth/setup needs the setup token: SWITCHBOARD_SETUP_TOKEN, or one
 * generated here, shared through the database, printed and written to <data dir>/setup-token. An admin can
 * also be created unattended from SWITCHBOARD_ADMIN_PASSWORD_FILE.
 */
export class SetupService {
  private token: string | undefined;

  constructor(
    private readonly deps: AuthDeps,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
  ) {}

  get tokenFile(): string {
    return join(this.deps.settings.dataDir, 'setup-token');
  }

  /** Where the setup token is while setup is pending: the file, or the variable; undefined once done. */
  get pendingTokenSource(): string | undefined {
    if (this.token === undefined) return undefined;
    return this.deps.settings.setupToken ? 'SWITCHBOARD_SETUP_TOKEN' : this.tokenFile;
  }

  /** Deletes a setup token that an admin made elsewhere (the command line) has left without purpose. */
  async retireTokenIfDone(): Promise<void> {
    if (await this.users.adminExists()) await this.forgetToken();
  }

  /** At start, after migrations. Throws with a message for the operator when the password file is unusable. */
  async prepare(log: FastifyBaseLogger): Promise<void> {
    const { adminPasswordFile, adminUsername } = this.deps.settings;
    if (adminPasswordFile && !(await this.users.adminExists())) {
      const password = await readPasswordFile(adminPasswordFile);
      const problem = passwordProblem(password, adminUsername);
      if (problem)
        throw new Error(`SWITCHBOARD_ADMIN_PASSWORD_FILE=${adminPasswordFile}: the password ${problem}`);
      const created = await this.users.createFirstAdmin(
        { username: adminUsername, password },
        { actor: null, ip: null, userAgent: null },
        'auth.setup',
      );
      if (created)
        log.info(
          { username: created.username },
          'created the first admin from SWITCHBOARD_ADMIN_PASSWORD_FILE',
        );
    }
    if (await this.users.adminExists()) {
      await this.forgetToken();
      return;
    }
    if (this.deps.settings.setupToken) {
      this.token = this.deps.settings.setupToken;
      log.warn(
        'No admin yet: create one with POST /api/v1/auth/setup and the token in SWITCHBOARD_SETUP_TOKEN.',
      );
      return;
    }
    this.token = await sharedSecret(new InstanceStore(this.deps.db), SETUP_TOKEN, () =>
      randomBytes(24).toString('base64url'),
    );
    await mkdir(this.deps.settings.dataDir, { recursive: true });
    await writeFile(this.tokenFile, `${this.token}\n`, { mode: 0o600 });
    log.warn(
      `No admin yet: create one with POST /api/v1/auth/setup and the setup token ${this.token} (also in ${this.tokenFile}).`,
    );
  }

  /** 409 once an admin exists, whatever the token; before that, 401 code 1010 without the right token. */
  async setup(
    input: { username: string; password: string; fullName?: string | null; token: string | undefined },
    client: ClientMeta,
  ): Promise<IssuedSession> {
    if (await this.users.adminExists()) throw alreadyDone();
    const expected = this.token ?? (await new InstanceStore(this.deps.db).readSecret(SETUP_TOKEN));
    if (!expected || !input.token || !sameSecret(input.token, expected)) {
      throw new AppError(
        401,
        ErrorCode.setupToken,
        'setup token is missing or wrong; it is printed at start and kept in <data dir>/setup-token',
      );
    }
    const user = await this.users.createFirstAdmin(
      { username: input.username, password: input.password, fullName: input.fullName },
      { actor: null, ...client },
      'auth.setup',
    );
    if (!user) throw alreadyDone();
    await this.forgetToken();
    return this.sessions.start(user, 'password', client);
  }

  private async forgetToken(): Promise<void> {
    this.token = undefined;
    await new InstanceStore(this.deps.db).deleteSecret(SETUP_TOKEN);
    await rm(this.tokenFile, { force: true });
  }
}

async function readPasswordFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw new Error(
      `SWITCHBOARD_ADMIN_PASSWORD_FILE=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}
