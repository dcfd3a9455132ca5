import { pino } from 'pino';
import { CLI_CONTEXT } from '../audit/service.js';
import { assembleAuth } from '../auth/assemble.js';
import type { UsersService } from '../auth/users-service.js';
import type { UserRecord } from '../auth/users-store.js';
import { AppError } from '../platform/problem.js';
import { type Actor, WorkspacesService } from '../workspaces/service.js';
import { type Command, type CommandGroup, Refusal, runCommandGroup, UsageError } from './command-group.js';
import { readJsonInput } from './json-input.js';
import { type CliIo, writePrivateFile } from './output.js';

export const PREFS_HELP = `Usage: switchboard prefs <command> [options]

Moves a user's layout between servers: their preferences document (workspaces, current workspace,
theme and the rest) and the grants that share their workspaces, in the database the settings name (the
same SWITCHBOARD_* variables as serve); the audit log names the actor "cli".

Commands:
  export <username> [--output FILE]
                      the user's document and grants as JSON, on standard output or into FILE
                      (readable by its owner only)
  import <username> [--file FILE]
                      replace the user's document and every grant they made with an export read
                      from FILE, or from standard input without --file. The username in the export
                      may differ: a layout can move to another account. Grants others made to the
                      user stay as they are
  --help              show this help

An import is checked whole before anything changes, as the server checks a preferences patch: the
server's own keys (shared_workspace_library, shared_workspace_grants, workspaceTarget) are refused, and
so is a document over SWITCHBOARD_PREFERENCES_MAX_BYTES or with more workspaces than
SWITCHBOARD_WORKSPACES_MAX; input over twice SWITCHBOARD_PREFERENCES_MAX_BYTES is not read at all. Every
grant must name a principal this server has (a role; a group some user is in; a user, other than the
one importing): each one that does not is named, and nothing is imported.

Running servers send no preferences.updated notice for a change made here: a signed-in user, and those
whose shared workspaces changed, see it at their next read of the preferences (a reload of the page).

Exit status: 0 done; 1 refused (no such user; input that cannot be read, is too large, is not JSON or is
not an export this server accepts, each problem printed as "<pointer>: <message>"); 2 bad usage;
78 an invalid setting.
`;

/** What the commands need once the database is open. */
interface Tools {
  service: WorkspacesService;
  users: UsersService;
}

async function userNamed(users: UsersService, username: string): Promise<UserRecord> {
  const user = await users.findByUsername(username);
  if (!user) throw new Refusal(`no user named ${username}`);
  return user;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Every grant of the export whose user or group this server does not have, at its place in the export.
 * The service would refuse the first of them; an operator moving a layout wants the whole list at once.
 */
async function missingPrincipals(
  users: UsersService,
  data: unknown,
): Promise<{ pointer: string; message: string }[]> {
  if (!isObject(data) || data.format !== 'switchboard.preferences/1' || !Array.isArray(data.grants))
    return [];
  const grants = data.grants;
  const groups = grants.some((g) => isObject(g) && g.principal_type === 'group')
    ? new Set(await users.knownGroups())
    : new Set<string>();
  const known = new Map<string, boolean>();
  const isUser = async (name: string) => {
    const key = name.trim().toLowerCase();
    if (!known.has(key)) known.set(key, (await users.findByUsername(key)) !== undefined);
    return known.get(key) === true;
  };
  const problems: { pointer: string; message: string }[] = [];
  for (const [index, grant] of grants.entries()) {
    if (!isObject(grant) || typeof grant.principal !== 'string') continue;
    const pointer = `/grants/${index}/principal`;
    if (grant.principal_type === 'group' && !groups.has(grant.principal))
      problems.push({ pointer, message: `names a group no user is in here: "${grant.principal}"` });
    if (grant.principal_type === 'user' && !(await isUser(grant.principal)))
      problems.push({ pointer, message: `names no user here: "${grant.principal}"` });
  }
  return problems;
}

const COMMANDS: Record<string, Command<Tools>> = {
  export: {
    usage: 'switchboard prefs export <username> [--output FILE]',
    options: { output: { type: 'string' } },
    positionals: ['<username>'],
    plan([username = ''], values) {
      const output = values.output === undefined ? undefined : String(values.output);
      if (output === '') throw new UsageError('--output needs a file name');
      return {
        async run({ service, users }, io) {
          const user = await userNamed(users, username);
          const exported = await service.exportFor(user.id, user.username);
          const text = `${JSON.stringify(exported, null, 2)}\n`;
          if (output === undefined) {
            io.stdout.write(text);
            return;
          }
          await writePrivateFile(output, text);
          const workspaces = Object.keys(
            isObject(exported.document.workspaces) ? exported.document.workspaces : {},
          ).length;
          io.stdout.write(
            `wrote the preferences of ${user.username} to ${output} (${plural(workspaces, 'workspace')}, ${plural(exported.grants.length, 'grant')})\n`,
          );
        },
      };
    },
  },

  import: {
    usage: 'switchboard prefs import <username> [--file FILE]',
    options: { file: { type: 'string' } },
    positionals: ['<username>'],
    plan([username = ''], values) {
      const file = values.file === undefined ? undefined : String(values.file);
      if (file === '') throw new UsageError('--file needs a file name');
      const name = file ?? 'standard input';
      let data: unknown;
      return {
        async read(settings, io) {
          // An export holds one document, and its grants beside it: twice the document's limit is plenty.
          const limit = settings.workspaces.maxDocumentBytes * 2;
          const what = `an import may have at most twice SWITCHBOARD_PREFERENCES_MAX_BYTES (${limit.toLocaleString('en-US')}); nothing was imported`;
          if (file === undefined && 'isTTY' in io.stdin && io.stdin.isTTY === true)
            io.stderr.write('Reading the export from standard input (end with Ctrl+D)\n');
          data = await readJsonInput(file, {
            io,
            limit,
            tooLarge: what,
            holds: 'what switchboard prefs export writes',
          });
        },
        async run({ service, users }, io) {
          const user = await userNamed(users, username);
          const refusal = (problems: readonly { pointer: string; message: string }[]) =>
            new Refusal(
              `${name} cannot be imported into ${user.username} (${plural(problems.length, 'problem')}); nothing was changed`,
              problems,
            );
          const missing = await missingPrincipals(users, data);
          if (missing.length > 0) throw refusal(missing);
          const actor: Actor = {
            userId: user.id,
            username: user.username,
            role: user.role,
            groups: user.groups,
          };
          try {
            await service.importFor(actor, data, CLI_CONTEXT);
          } catch (error) {
            if (!(error instanceof AppError)) throw error;
            const problems = error.options.errors ?? [];
            if (problems.length > 0) throw refusal(problems);
            throw new Refusal(
              `${name} cannot be imported into ${user.username}: ${error.message}; nothing was changed`,
            );
          }
          const exported = await service.exportFor(user.id, user.username);
          const workspaces = Object.keys(
            isObject(exported.document.workspaces) ? exported.document.workspaces : {},
          ).length;
          const from = isObject(data) && typeof data.username === 'string' ? data.username : user.username;
          const counts = `${plural(workspaces, 'workspace')}, ${plural(exported.grants.length, 'grant')}`;
          io.stdout.write(
            from === user.username
              ? `imported the preferences of ${user.username}: ${counts}\n`
              : `imported the preferences of ${from} into ${user.username}: ${counts}\n`,
          );
        },
      };
    },
  },
};

const PREFS_COMMANDS: CommandGroup<Tools> = {
  name: 'prefs',
  help: PREFS_HELP,
  commands: COMMANDS,
  async withTools(settings, foundation, _env, run) {
    const auth = assembleAuth(settings, foundation);
    const service = new WorkspacesService({
      db: foundation.storage.db,
      engine: foundation.storage.engine,
      audit: foundation.audit,
      users: auth.users,
      settings: settings.workspaces,
      // No live bus here, so no notices: a running server's users see the change at their next read.
      // A failed notice is the only thing the service logs, and there are none to send.
      log: pino({ level: 'silent' }),
    });
    await run({ service, users: auth.users });
  },
};

/** `switchboard prefs …`; returns the exit status. A SettingsError is left to the caller (exit 78). */
export const runPrefsCommand = (args: string[], io: CliIo): Promise<number> =>
  runCommandGroup(PREFS_COMMANDS, args, io);
