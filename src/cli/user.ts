import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_CONTEXT } from '../audit/service.js';
import { assembleAuth } from '../auth/assemble.js';
import { AUTH_CACHE_TTL_MS } from '../auth/auth-cache.js';
import { passwordProblem } from '../auth/password-policy.js';
import { userItem } from '../auth/present.js';
import { isRole, ROLES, type Role } from '../auth/roles.js';
import { FULL_NAME_MAX_LENGTH, GROUP_NAME } from '../auth/schemas.js';
import type { Auth } from '../auth/service.js';
import { USERNAME } from '../auth/username.js';
import type { UserRecord } from '../auth/users-store.js';
import type { AppError } from '../platform/problem.js';
import { type Command, type CommandGroup, Refusal, runCommandGroup, UsageError } from './command-group.js';
import { type CliIo, table } from './output.js';

export const USER_HELP = `Usage: switchboard user <command> [options]

Manages local accounts in the database the settings name (the same SWITCHBOARD_* variables as serve).
Changes take effect on the next request of a running server; the audit log names the actor "cli".

Commands:
  add <username> [--role viewer|editor|admin] [--full-name NAME] [--groups a,b] [--password-stdin]
                      [--sso oidc|msal]
                      create a user (role viewer unless --role says otherwise); with --sso, an account
                      without a password that the first single sign-on of that username claims
  list [--role R] [--json]
                      users by username; --json prints the objects GET /api/v1/users returns
  set-role <username> <role>
                      change the role (never demotes the last admin)
  disable <username>  refuse the user's sign-ins and end their sessions (never the last admin)
  enable <username>   let a disabled user sign in again
  reset-password <username> [--password-stdin]
                      set a new password and end the user's sessions
  unlock <username>   forget the user's failed sign-ins and lift a lockout
  --help              show this help

Passwords are never taken from the command line, where ps would show them:
  --password-stdin    read the password from the first line of standard input, e.g.
                        printf '%s\\n' "$PASSWORD" | switchboard user add alice --password-stdin
                      The operator chose it, so the user keeps it: no change is asked for at sign-in.
  (without it)        a strong random password is generated and printed once; the user must choose
                      their own at first sign-in.
  Passwords need 12 to 128 characters, must not be a common password or contain the username.

Exit status: 0 done; 1 refused (no such user, username taken, weak password, last admin);
2 bad usage; 78 an invalid setting.
`;

const passwordStdin = { 'password-stdin': { type: 'boolean' } } as const;

function role(value: string, what: string): Role {
  if (!isRole(value)) throw new UsageError(`${what} "${value}" is not one of ${ROLES.join(', ')}`);
  return value;
}

async function userNamed(auth: Auth, username: string): Promise<UserRecord> {
  const user = await auth.users.findByUsername(username);
  if (!user) throw new Refusal(`no user named ${username}`);
  return user;
}

/** 18 random bytes as base64url (24 characters), drawn again in the rare case the policy refuses it. */
function generatePassword(username: string): string {
  for (;;) {
    const password = randomBytes(18).toString('base64url');
    if (!passwordProblem(password, username)) return password;
  }
}

function showGenerated(io: CliIo, username: string, password: string): void {
  io.stdout.write(`password: ${password}\n`);
  io.stdout.write(`(shown only now; ${username} must choose a new password at first sign-in)\n`);
}

/** `disable` and `enable`: one flag, said back in words. */
function switchDisabled(disabled: boolean): Command<Auth> {
  const verb = disabled ? 'disable' : 'enable';
  return {
    usage: `switchboard user ${verb} <username>`,
    options: {},
    positionals: ['<username>'],
    plan([username = '']) {
      return {
        async run(auth, io) {
          const user = await userNamed(auth, username);
          if (user.disabled === disabled) {
            io.stdout.write(`${user.username} is ${disabled ? 'already disabled' : 'not disabled'}\n`);
            return;
          }
          await auth.users.update(user.id, { disabled }, CLI_CONTEXT);
          io.stdout.write(
            disabled
              ? `disabled ${user.username}; their sessions have ended\n`
              : `enabled ${user.username}\n`,
          );
        },
      };
    },
  };
}

const COMMANDS: Record<string, Command<Auth>> = {
  add: {
    usage:
      'switchboard user add <username> [--role viewer|editor|admin] [--full-name NAME] [--groups a,b] [--password-stdin] [--sso oidc|msal]',
    options: {
      role: { type: 'string' },
      sso: { type: 'string' },
      'full-name': { type: 'string' },
      groups: { type: 'string' },
      ...passwordStdin,
    },
    positionals: ['<username>'],
    plan([username = ''], values) {
      if (!USERNAME.test(username))
        throw new UsageError(
          `username "${username}" must be 1 to 64 letters, digits, . _ @ or -, starting with a letter or digit`,
        );
      const chosenRole = role(String(values.role ?? 'viewer'), 'role');
      const fullName = values['full-name'] === undefined ? null : String(values['full-name']);
      if (fullName !== null && fullName.length > FULL_NAME_MAX_LENGTH)
        throw new UsageError(`--full-name must be at most ${FULL_NAME_MAX_LENGTH} characters`);
      const groups =
        values.groups === undefined
          ? []
          : String(values.groups)
              .split(',')
              .map((g) => g.trim())
              .filter(Boolean);
      for (const group of groups)
        if (!GROUP_NAME.test(group))
          throw new UsageError(
            `group "${group}" must be 1 to 64 letters, digits, spaces or . _ : / -, starting with a letter or digit`,
          );
      const fromStdin = values['password-stdin'] === true;
      const sso = values.sso === undefined ? undefined : String(values.sso);
      if (sso !== undefined && sso !== 'oidc' && sso !== 'msal')
        throw new UsageError(`--sso "${sso}" is not one of oidc, msal`);
      if (sso !== undefined && fromStdin)
        throw new UsageError('an account for single sign-on has no password: leave out --password-stdin');
      if (sso !== undefined) {
        return {
          async run(auth, io) {
            const user = await auth.users.create(
              { username, authSource: sso, fullName, role: chosenRole, groups },
              CLI_CONTEXT,
            );
            io.stdout.write(`created user ${user.username} (${user.role}) for single sign-on with ${sso}\n`);
          },
        };
      }
      let given: string | undefined;
      return {
        async read(_settings, io) {
          if (fromStdin) given = await readPassword(io);
        },
        async run(auth, io) {
          const password = given ?? generatePassword(username.toLowerCase());
          const user = await auth.users.create(
            { username, password, fullName, role: chosenRole, groups, mustChangePassword: !fromStdin },
            CLI_CONTEXT,
          );
          io.stdout.write(`created user ${user.username} (${user.role})\n`);
          if (!fromStdin) showGenerated(io, user.username, password);
        },
      };
    },
  },

  list: {
    usage: 'switchboard user list [--role viewer|editor|admin] [--json]',
    options: { role: { type: 'string' }, json: { type: 'boolean' } },
    positionals: [],
    plan(_positionals, values) {
      const filter = values.role === undefined ? {} : { role: role(String(values.role), 'role') };
      return {
        async run(auth, io) {
          const users: UserRecord[] = [];
          for (;;) {
            const page = await auth.users.list(filter, users.at(-1)?.username, 500);
            users.push(...page);
            if (page.length < 500) break;
          }
          if (values.json) {
            io.stdout.write(`${JSON.stringify(users.map(userItem), null, 2)}\n`);
            return;
          }
          if (users.length === 0) {
            io.stdout.write('no users\n');
            return;
          }
          const status = (u: UserRecord) =>
            u.disabled ? 'disabled' : u.mustChangePassword ? 'must-change-password' : 'active';
          const rows = users.map((u) => [
            u.username,
            u.role,
            status(u),
            u.groups.join(',') || '-',
            u.lastLoginAt ?? 'never',
            u.fullName ?? '',
          ]);
          io.stdout.write(
            `${table([['USERNAME', 'ROLE', 'STATUS', 'GROUPS', 'LAST SIGN-IN', 'FULL NAME'], ...rows])}\n`,
          );
        },
      };
    },
  },

  'set-role': {
    usage: 'switchboard user set-role <username> <viewer|editor|admin>',
    options: {},
    positionals: ['<username>', '<role>'],
    plan([username = '', roleName = '']) {
      const newRole = role(roleName, 'role');
      return {
        async run(auth, io) {
          const user = await userNamed(auth, username);
          if (user.role === newRole) {
            io.stdout.write(`${user.username} is already ${newRole}\n`);
            return;
          }
          await auth.users.update(user.id, { role: newRole }, CLI_CONTEXT);
          io.stdout.write(`${user.username} is now ${newRole} (was ${user.role})\n`);
        },
      };
    },
  },

  disable: switchDisabled(true),
  enable: switchDisabled(false),

  'reset-password': {
    usage: 'switchboard user reset-password <username> [--password-stdin]',
    options: { ...passwordStdin },
    positionals: ['<username>'],
    plan([username = ''], values) {
      const fromStdin = values['password-stdin'] === true;
      let given: string | undefined;
      return {
        async read(_settings, io) {
          if (fromStdin) given = await readPassword(io);
        },
        async run(auth, io) {
          const user = await userNamed(auth, username);
          const password = given ?? generatePassword(user.username);
          await auth.users.update(user.id, { password, mustChangePassword: !fromStdin }, CLI_CONTEXT);
          io.stdout.write(`reset the password of ${user.username}; their sessions have ended\n`);
          if (!fromStdin) showGenerated(io, user.username, password);
        },
      };
    },
  },

  unlock: {
    usage: 'switchboard user unlock <username>',
    options: {},
    positionals: ['<username>'],
    plan([username = '']) {
      return {
        async run(auth, io) {
          const user = await userNamed(auth, username);
          const cleared = await auth.login.unlock(user.username, CLI_CONTEXT);
          io.stdout.write(
            cleared
              ? `unlocked ${user.username}\n`
              : `${user.username} had no failed sign-ins or lockout to clear\n`,
          );
        },
      };
    },
  },
};

/** The first line of standard input, without its line ending. */
async function readPasswordLine(io: CliIo): Promise<string> {
  const stdin = io.stdin;
  if ('isTTY' in stdin && stdin.isTTY === true)
    io.stderr.write('Password (shown as you type; end with Enter): ');
  stdin.setEncoding('utf8');
  let text = '';
  for await (const chunk of stdin) {
    text += chunk;
    if (text.includes('\n')) break;
  }
  stdin.destroy();
  const line = text.split('\n')[0] ?? '';
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The password --password-stdin pipes in; a UsageError (exit 2) when standard input holds none. */
async function readPassword(io: CliIo): Promise<string> {
  const password = await readPasswordLine(io);
  if (password === '') throw new UsageError('--password-stdin: standard input holds no password');
  return password;
}

/** An AppError from a service, in words for the terminal: "/password must…" becomes "the password must…". */
function describe(error: AppError): string {
  const fields = error.options.errors;
  if (fields?.length)
    return fields
      .map((f) => `the ${f.pointer.replace(/^\//, '').replace(/_/g, ' ')} ${f.message}`)
      .join('; ');
  return error.message;
}

const USER_COMMANDS: CommandGroup<Auth> = {
  name: 'user',
  help: USER_HELP,
  commands: COMMANDS,
  screen(args) {
    if (args.some((a) => /^(--password|-p)(=|$)/.test(a)))
      throw new UsageError(
        'a password is never taken from the command line (ps would show it); pipe it in with --password-stdin',
      );
  },
  async withTools(settings, foundation, _env, run) {
    const auth = assembleAuth(settings, foundation);
    // A running server hears of a change made here only through the database, and may serve what it read
    // up to AUTH_CACHE_TTL_MS before: a command that changed anything returns once that is over, so the
    // server's next request sees the change (docs/auth.md).
    let changed = false;
    const noteChange = () => {
      changed = true;
    };
    const stopListening = [
      auth.events.on('session.ended', noteChange),
      auth.events.on('user.changed', noteChange),
      auth.events.on('api_key.revoked', noteChange),
    ];
    try {
      await run(auth);
    } finally {
      for (const stop of stopListening) stop();
    }
    await auth.setup.retireTokenIfDone();
    if (changed) await sleep(AUTH_CACHE_TTL_MS);
  },
  refusalOf: (error) => new Refusal(describe(error)),
};

/** `switchboard user …`; returns the exit status. A SettingsError is left to the caller (exit 78). */
export const runUserCommand = (args: string[], io: CliIo): Promise<number> =>
  runCommandGroup(USER_COMMANDS, args, io);
