import { type ParseArgsConfig, parseArgs } from 'node:util';
import { AppError, type FieldError } from '../platform/problem.js';
import { loadSettings, type Settings } from '../settings.js';
import { type Foundation, openFoundation } from '../start-up.js';
import type { CliIo } from './output.js';

export type Values = Record<string, string | boolean | undefined>;

/** What a command will do; its arguments are already checked. */
export interface Plan<Tools> {
  /**
   * Reads the command's input (a file, standard input) before the database is opened. A UsageError
   * thrown here exits 2 with its message alone: the arguments were right, the input was not there.
   */
  read?(settings: Settings, io: CliIo): Promise<void>;
  run(tools: Tools, io: CliIo): Promise<void>;
}

export interface Command<Tools> {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Names of the positional arguments that must be given, as "missing …" names them… */
  positionals: string[];
  /** …and of those that may follow them. */
  optional?: string[];
  plan(positionals: string[], values: Values): Plan<Tools>;
}

/** `switchboard <name> <command> …`: commands that share a help text and work on the database. */
export interface CommandGroup<Tools> {
  /** The word after `switchboard`, which also starts every message: "switchboard user: …". */
  name: string;
  help: string;
  commands: Record<string, Command<Tools>>;
  /** Refuses a command's arguments before they are parsed (even with --help); throws UsageError. */
  screen?(args: string[]): void;
  /**
   * Makes the commands' tools on the open database, runs the command with them, and finishes after it.
   * `env` is the command's environment, for tools that read more of it than the settings.
   */
  withTools(
    settings: Settings,
    foundation: Foundation,
    env: CliIo['env'],
    run: (tools: Tools) => Promise<void>,
  ): Promise<void>;
  /** An AppError from a service in the group's words; by default its message, then its problems. */
  refusalOf?(error: AppError): Refusal;
}

/** Bad usage: exit 2 with the command's usage line. */
export class UsageError extends Error {}

/** A refusal the operator can act on: exit 1 with the message (and the problems, one a line). */
export class Refusal extends Error {
  constructor(
    message: string,
    readonly problems: readonly Pick<FieldError, 'pointer' | 'message'>[] = [],
  ) {
    super(message);
  }
}

const help = { help: { type: 'boolean', short: 'h' } } as const;

const isHelp = (word: string | undefined) => word === '--help' || word === '-h' || word === 'help';

/** Checks the arguments of one command; throws UsageError. Undefined when --help was asked for. */
function planOf<Tools>(command: Command<Tools>, args: string[]): Plan<Tools> | undefined {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: { ...command.options, ...help },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // Node's message goes on to explain `--`; its first sentence says what is wrong.
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message.replace(/(\.|argument missing).*$/s, '$1'));
  }
  const values = parsed.values as Values;
  if (values.help) return undefined;
  const { positionals } = parsed;
  const most = command.positionals.length + (command.optional?.length ?? 0);
  if (positionals.length < command.positionals.length)
    throw new UsageError(`missing ${command.positionals[positionals.length]}`);
  if (positionals.length > most) throw new UsageError(`unexpected argument "${positionals[most]}"`);
  return command.plan(positionals, values);
}

/**
 * Runs `switchboard <group> <command> …`; returns the exit status: 0 done, 1 refused, 2 bad usage.
 * A SettingsError, and any failure that is not a refusal, is left to the caller.
 */
export async function runCommandGroup<Tools>(
  group: CommandGroup<Tools>,
  args: string[],
  io: CliIo,
): Promise<number> {
  const [name, ...rest] = args;
  if (isHelp(name)) {
    io.stdout.write(group.help);
    return 0;
  }
  // Own properties only: "toString" names no command.
  const command =
    name !== undefined && Object.hasOwn(group.commands, name) ? group.commands[name] : undefined;
  let plan: Plan<Tools> | undefined;
  try {
    if (!command)
      throw new UsageError(
        name === undefined ? 'missing command' : `unknown command "${group.name} ${name}"`,
      );
    group.screen?.(rest);
    plan = planOf(command, rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const usage = command ? `usage: ${command.usage}\n` : `\n${group.help}`;
    io.stderr.write(`switchboard ${group.name}: ${error.message}\n${usage}`);
    if (command) io.stderr.write(`(switchboard ${group.name} --help tells more)\n`);
    return 2;
  }
  if (!plan) {
    io.stdout.write(group.help);
    return 0;
  }
  const chosen = plan;
  const settings = loadSettings(io.env);
  try {
    await chosen.read?.(settings, io);
  } catch (error) {
    if (!(error instanceof UsageError)) return refused(group, error, io);
    io.stderr.write(`switchboard ${group.name}: ${error.message}\n`);
    return 2;
  }
  // Migrated and with the instance secret, as the server starts; no lock: it works beside a running server.
  const foundation = await openFoundation(settings, { poolSize: 2 });
  try {
    await group.withTools(settings, foundation, io.env, (tools) => chosen.run(tools, io));
    return 0;
  } catch (error) {
    return refused(group, error, io);
  } finally {
    await foundation.storage.close();
  }
}

/** A service words its refusals for people already (a version taken, a field out of range). */
const refusalOf = (error: AppError) => new Refusal(error.message, error.options.errors ?? []);

/** Exit 1 for a refusal, saying why; anything else is the caller's (an unexpected failure). */
function refused<Tools>(group: CommandGroup<Tools>, error: unknown, io: CliIo): number {
  const refusal = error instanceof AppError ? (group.refusalOf ?? refusalOf)(error) : error;
  if (!(refusal instanceof Refusal)) throw error;
  io.stderr.write(`switchboard ${group.name}: ${refusal.message}\n`);
  for (const p of refusal.problems) io.stderr.write(`  ${p.pointer || '/'}: ${p.message}\n`);
  return 1;
}
