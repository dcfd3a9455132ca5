import type { FastifyBaseLogger } from 'fastify';
import { ApiKeysService } from './api-keys-service.js';
import type { AuthDeps } from './context.js';
import { credentialSources } from './credential-sources.js';
import { allowedOrigins, CredentialResolver } from './credentials.js';
import { LoginService } from './login-service.js';
import type { Principal } from './principal.js';
import { SessionsService } from './sessions-service.js';
import { SetupService } from './setup-service.js';
import { SingleSignOn } from './sso/sign-in.js';
import { MemoryTicketStore, type TicketStore } from './tickets.js';
import { TicketsService } from './tickets-service.js';
import { UsersService } from './users-service.js';

const MAINTENANCE_INTERVAL_MS = 10 * 60_000;

/** Every identity service, built once per app (or per CLI command) from the same dependencies. */
export class Auth {
  readonly sessions: SessionsService;
  readonly users: UsersService;
  readonly login: LoginService;
  readonly setup: SetupService;
  readonly apiKeys: ApiKeysService;
  readonly tickets: TicketsService;
  readonly sso: SingleSignOn;
  /** Who a request or an upgrade comes from, whatever credential it presents. */
  readonly credentials: CredentialResolver;
  private maintenance: NodeJS.Timeout | undefined;

  constructor(
    readonly deps: AuthDeps,
    ticketStore: TicketStore = new MemoryTicketStore(deps.now),
  ) {
    this.sessions = new SessionsService(deps);
    this.users = new UsersService(deps);
    this.login = new LoginService(deps, this.sessions);
    this.setup = new SetupService(deps, this.users, this.sessions);
    this.apiKeys = new ApiKeysService(deps);
    this.tickets = new TicketsService(ticketStore, this.sessions);
    this.sso = new SingleSignOn(deps, this.sessions);
    this.credentials = new CredentialResolver(credentialSources(this), allowedOrigins(deps.settings));
  }

  /** A bearer credential: a JWT (it has dots) or an API key (it never does). */
  async authenticateBearer(token: string): Promise<Principal> {
    return token.includes('.')
      ? this.sessions.authenticateAccessToken(token, 'bearer')
      : this.apiKeys.authenticate(token);
  }

  /** `authenticateBearer` from what is remembered, or undefined (credentials.ts, `authenticateNow`). */
  authenticateBearerNow(token: string): Principal | undefined {
    return token.includes('.')
      ? this.sessions.authenticateAccessTokenNow(token, 'bearer')
      : this.apiKeys.authenticateNow(token);
  }

  get events() {
    return this.deps.events;
  }

  /** Drops rows that can no longer matter (ended sessions, aged-out failures) now and every ten minutes. */
  startMaintenance(log: FastifyBaseLogger): void {
    const run = () =>
      Promise.all([this.sessions.prune(), this.login.prune(), this.sso.prune()]).catch((error: unknown) =>
        log.warn({ err: error }, 'auth maintenance failed; retrying later'),
      );
    void run();
    this.maintenance = setInterval(run, MAINTENANCE_INTERVAL_MS);
    this.maintenance.unref();
  }

  stopMaintenance(): void {
    clearInterval(this.maintenance);
  }
}
