import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditContext, AuditService } from '../audit/service.js';
import { roleLevel } from '../auth/roles.js';
import type { UsersService } from '../auth/users-service.js';
import { AppError, ErrorCode, invalidField, notFound } from '../platform/problem.js';
import { isForeignKeyViolation } from '../storage/constraints.js';
import type { Engine } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import {
  CURRENT_KEY,
  checkDepth,
  checkedDocument,
  checkPatchShape,
  checkViewerPatch,
  checkWorkspaceName,
  currentOf,
  VARIABLES_KEY,
  WORKSPACES_KEY,
  workspacesOf,
} from './document.js';
import { checkExport, EXPORT_FORMAT, type ExportedGrant, type PreferencesExport } from './export-file.js';
import { type GrantPointers, type NewGrant, resolveGrants } from './grants.js';
import {
  accessThrough,
  ifMatchHolds,
  Library,
  type Reader,
  type SharedWorkspace,
  versionIn,
  viewTag,
} from './library.js';
import { applyMergePatch, isJsonObject, type JsonObject } from './merge-patch.js';
import { type Affected, Notices, type Publish } from './notices.js';
import type { WorkspaceSettings } from './settings.js';
import { type WorkspaceText, workspaceText } from './snapshots.js';
import { type Access, type GrantRow, type StoredDocument, WorkspacesStore } from './store.js';

export type { PreferencesExport } from './export-file.js';
export type { NewGrant } from './grants.js';
export type { Reader } from './library.js';

/** A reader who is also a user with a name: the owner of what they change. */
export interface Actor extends Reader {
  readonly username: string;
}

/** What `GET /preferences` shows: the reader's own document, their grants and what others share with them. */
export interface PreferencesView {
  readonly version: number;
  /** The stored JSON text of the reader's document. */
  readonly document: string;
  readonly grants: readonly GrantRow[];
  readonly library: readonly SharedWorkspace[];
  readonly etag: string;
}

export interface ViewHead {
  readonly version: number;
  readonly library: readonly SharedWorkspace[];
  /** The library's tag (library.ts), part of the ETag. */
  readonly tag: string;
  readonly etag: string;
}

export interface OwnWorkspace {
  readonly name: string;
  readonly current: boolean;
  readonly workspace: WorkspaceText;
  readonly grants: readonly GrantRow[];
}

export interface Summary {
  workspaces: string[];
  currentWorkspace: string | null;
  sharedWithMe: number;
  sharedByMe: number;
  grants: number;
}

export interface WorkspacesDeps {
  db: Kysely<Database>;
  engine: Engine;
  audit: AuditService;
  users: UsersService;
  settings: WorkspaceSettings;
  /**
   * Sends `preferences.updated` to a user's channel (through the bus, so on every instance). Without it (the
   * command line, which has no bus) no notices are worked out at all.
   */
  publish?: Publish;
  log: Pick<FastifyBaseLogger, 'warn'>;
  now?: () => number;
}

/** What a change does to the owner's document (as read under its lock): the document to store, and what it did. */
type Edit<T> = (
  document: JsonObject,
  version: number,
  trx: Kysely<Database>,
) => Promise<{ document: JsonObject; result?: T } & Omit<Outcome<T>, 'result'>>;

/** What one change did, for the notices sent once it has committed. */
interface Outcome<T> extends Affected {
  result: T;
}

function forbidden(detail: string): AppError {
  return new AppError(ErrorCode.forbidden, detail);
}

function versionConflict(what: string): AppError {
  return new AppError(
    ErrorCode.versionConflict,
    `${what}: changed since the version If-Match names; read it again and retry`,
  );
}

const isViewer = (reader: Reader) => roleLevel(reader.role) < roleLevel('editor');

function refuseViewer(reader: Reader, what: string): void {
  if (isViewer(reader))
    throw forbidden(`viewers may not ${what}; they may change only currentWorkspace, theme and timeRange`);
}

/**
 * The rules of preferences and shared workspaces. Every change is one transaction on the owner's
 * document (locked on PostgreSQL, serialised on SQLite), whose version grows with it; once committed, a
 * `preferences.updated` notice with their new ETag goes to every user whose view changed.
 */
export class WorkspacesService {
  private readonly library: Library;
  private readonly notices: Notices | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: WorkspacesDeps) {
    this.library = new Library(64 * 1024 * 1024);
    this.now = deps.now ?? Date.now;
    this.notices =
      deps.publish && new Notices(deps.users, deps.publish, (reader) => this.head(reader), deps.log);
  }

  private store(executor: Kysely<Database> = this.deps.db): WorkspacesStore {
    return new WorkspacesStore(executor, this.deps.engine);
  }

  // Reads

  /** The reader's ETag and library, without their own document: enough to answer If-None-Match. */
  async head(reader: Reader): Promise<ViewHead> {
    const { entries: library, tag, version } = await this.library.of(this.store(), reader);
    return { version, library, tag, etag: viewTag(version, tag) };
  }

  /** The whole view; given a `head` read just before, its library is used rather than read again. */
  async view(reader: Reader, head?: ViewHead): Promise<PreferencesView> {
    const store = this.store();
    const [own, grants, { entries: library, tag }] = await Promise.all([
      store.read(reader.userId),
      store.grantsOf(reader.userId),
      head ? { entries: head.library, tag: head.tag } : this.library.of(store, reader),
    ]);
    const version = own?.version ?? 0;
    return { version, document: own?.document ?? '{}', grants, library, etag: viewTag(version, tag) };
  }

  async summary(reader: Reader): Promise<Summary> {
    const view = await this.view(reader);
    const document = parseDocument(view.document);
    return {
      workspaces: Object.keys(workspacesOf(document)),
      currentWorkspace: currentOf(document),
      sharedWithMe: view.library.length,
      sharedByMe: new Set(view.grants.map((g) => g.workspace)).size,
      grants: view.grants.length,
    };
  }

  async workspaces(reader: Reader): Promise<OwnWorkspace[]> {
    const store = this.store();
    const [own, grants] = await Promise.all([store.read(reader.userId), store.grantsOf(reader.userId)]);
    const document = parseDocument(own?.document ?? '{}');
    const current = currentOf(document);
    return Object.entries(workspacesOf(document)).map(([name, workspace]) => ({
      name,
      current: name === current,
      workspace: workspaceText(workspace),
      grants: grants.filter((g) => g.workspace === name),
    }));
  }

  async workspace(reader: Reader, name: string): Promise<OwnWorkspace> {
    const found = (await this.workspaces(reader)).find((w) => w.name === name);
    if (!found) throw notFound(`workspace "${name}"`);
    return found;
  }

  /** A workspace someone shared with the reader; 404 alike for one that does not exist and one not shared. */
  async shared(reader: Reader, owner: string, name: string): Promise<SharedWorkspace> {
    const { ownerId, access } = await this.grantOf(reader, owner, name);
    const snapshot = await this.library.snapshot(this.store(), ownerId);
    const workspace = snapshot?.workspaces.get(name);
    if (!snapshot || !workspace) throw notShared(owner, name);
    return { ownerId, owner, name, access, workspace, variables: snapshot.variables };
  }

  // Changes to one's own preferences

  async patch(actor: Actor, patch: unknown, ifMatch: string | undefined): Promise<PreferencesView> {
    checkPatchShape(patch);
    if (isViewer(actor)) checkViewerPatch(patch);
    const current = patch[CURRENT_KEY];
    const sharedCurrent = typeof current === 'string' && (await this.isSharedWith(actor, current));
    await this.change(actor.userId, async (document, version, trx) => {
      if (!ifMatchHolds(ifMatch, (etag) => versionIn(etag) === version))
        throw versionConflict('your preferences');
      const next = applyMergePatch(document, patch) as JsonObject;
      if (typeof current === 'string') checkCurrent(next, current, sharedCurrent, `/${CURRENT_KEY}`);
      else followRemovedCurrent(document, next);
      // A patch that leaves workspaces and variables alone changes nothing anyone else sees.
      const shared = Object.hasOwn(patch, WORKSPACES_KEY) || Object.hasOwn(patch, VARIABLES_KEY);
      const affected = shared
        ? await this.workspaceChanges(trx, actor.userId, document, next)
        : { touched: [], users: [actor.userId] };
      return { document: next, ...affected };
    });
    return this.view(actor);
  }

  async putWorkspace(
    actor: Actor,
    name: string,
    content: unknown,
    options: { ifMatch?: string; makeCurrent?: boolean },
  ): Promise<{ created: boolean; workspace: OwnWorkspace }> {
    refuseViewer(actor, 'create or change workspaces');
    checkWorkspaceName(name, '/name');
    if (!isJsonObject(content)) throw invalidField('', 'must be a JSON object: the workspace');
    checkDepth(content);
    const created = await this.change(actor.userId, async (document, _version, trx) => {
      const workspaces = workspacesOf(document);
      const exists = Object.hasOwn(workspaces, name);
      // Even `*` needs something there (RFC 9110): If-Match never creates a workspace.
      const holds =
        exists && ifMatchHolds(options.ifMatch, (etag) => workspaceText(workspaces[name]).etag === etag);
      if (options.ifMatch !== undefined && !holds) {
        throw versionConflict(`workspace "${name}"`);
      }
      const next: JsonObject = { ...document, [WORKSPACES_KEY]: { ...workspaces, [name]: content } };
      if (options.makeCurrent) next[CURRENT_KEY] = name;
      return {
        document: next,
        result: !exists,
        ...(await this.workspaceChanges(trx, actor.userId, document, next)),
      };
    });
    return { created, workspace: await this.workspace(actor, name) };
  }

  /** Deletes a workspace and its grants; when it was the current one, `next` (or the first left) follows. */
  async deleteWorkspace(
    actor: Actor,
    name: string,
    options: { ifMatch?: string; next?: string },
  ): Promise<{ currentWorkspace: string | null }> {
    refuseViewer(actor, 'delete workspaces');
    return this.change(actor.userId, async (document, _version, trx) => {
      const workspaces = workspacesOf(document);
      if (!Object.hasOwn(workspaces, name)) throw notFound(`workspace "${name}"`);
      if (!ifMatchHolds(options.ifMatch, (etag) => workspaceText(workspaces[name]).etag === etag)) {
        throw versionConflict(`workspace "${name}"`);
      }
      const { [name]: _gone, ...rest } = workspaces;
      const next: JsonObject = { ...document, [WORKSPACES_KEY]: rest };
      if (options.next !== undefined && !Object.hasOwn(rest, options.next)) {
        throw invalidField('/next', `names no other workspace of yours: "${options.next}"`);
      }
      if (currentOf(document) === name) {
        const following = options.next ?? Object.keys(rest)[0];
        if (following === undefined) delete next[CURRENT_KEY];
        else next[CURRENT_KEY] = following;
      } else if (options.next !== undefined) {
        next[CURRENT_KEY] = options.next;
      }
      const changes = await this.workspaceChanges(trx, actor.userId, document, next);
      return { document: next, result: { currentWorkspace: currentOf(next) }, ...changes };
    });
  }

  /** Renames a workspace; its grants and, if it was current, `currentWorkspace` follow. */
  async renameWorkspace(actor: Actor, name: string, to: string): Promise<OwnWorkspace> {
    refuseViewer(actor, 'rename workspaces');
    checkWorkspaceName(to, '/name');
    await this.change(actor.userId, async (document, _version, trx) => {
      const workspaces = workspacesOf(document);
      if (!Object.hasOwn(workspaces, name)) throw notFound(`workspace "${name}"`);
      if (to === name) return { document, touched: [], users: [] };
      if (Object.hasOwn(workspaces, to)) {
        throw new AppError(ErrorCode.duplicate, `you already have a workspace named "${to}"`);
      }
      // Rebuilt so the workspace keeps its place in the order the front end shows.
      const renamed = Object.fromEntries(
        Object.entries(workspaces).map(([key, value]) => [key === name ? to : key, value]),
      );
      const next: JsonObject = { ...document, [WORKSPACES_KEY]: renamed };
      if (currentOf(document) === name) next[CURRENT_KEY] = to;
      const store = this.store(trx);
      const grants = await store.grantsOf(actor.userId, name);
      await store.renameGrants(actor.userId, name, to);
      return { document: next, touched: [{ ownerId: actor.userId, grants }], users: [actor.userId] };
    });
    return this.workspace(actor, to);
  }

  /** Sets the current workspace: one of the reader's own, `<owner>/<name>` for a shared one, or null. */
  async setCurrent(reader: Reader, name: string | null): Promise<string | null> {
    const shared = name !== null && (await this.isSharedWith(reader, name));
    await this.change(reader.userId, async (document) => {
      const next = { ...document };
      if (name === null) delete next[CURRENT_KEY];
      else {
        checkCurrent(next, name, shared, '/name');
        next[CURRENT_KEY] = name;
      }
      return { document: next, touched: [], users: [reader.userId] };
    });
    return name;
  }

  // Sharing

  async grants(reader: Reader, name: string): Promise<GrantRow[]> {
    return (await this.workspace(reader, name)).grants as GrantRow[];
  }

  /** Replaces who a workspace is shared with. Principals must exist here: a role, a group someone holds, a user. */
  async setGrants(
    actor: Actor,
    name: string,
    wanted: readonly NewGrant[],
    context: AuditContext,
  ): Promise<GrantRow[]> {
    refuseViewer(actor, 'share workspaces');
    const rows = await this.resolveGrants(actor, name, wanted);
    await this.changeGrants(actor.userId, async (document, _version, trx) => {
      if (!Object.hasOwn(workspacesOf(document), name)) throw notFound(`workspace "${name}"`);
      const store = this.store(trx);
      const before = await store.grantsOf(actor.userId, name);
      await store.replaceGrants(actor.userId, name, rows);
      await this.deps.audit.record(
        context,
        {
          type: 'workspace.shared',
          outcome: 'success',
          target: { type: 'workspace', id: `${actor.username}/${name}` },
          detail: { grants: rows.map((g) => `${g.principalType}:${g.principal}:${g.access}`) },
        },
        trx,
      );
      return {
        document,
        touched: [{ ownerId: actor.userId, grants: [...before, ...rows] }],
        users: [actor.userId],
      };
    });
    return this.grants(actor, name);
  }

  // Collaborative editing

  /** An edit grantee's merge patch of the workspace's content; the owner keeps its name, place and grants. */
  async patchShared(
    actor: Actor,
    owner: string,
    name: string,
    patch: unknown,
    ifMatch: string | undefined,
    context: AuditContext,
  ): Promise<SharedWorkspace> {
    const { ownerId, access } = await this.grantOf(actor, owner, name);
    if (access !== 'edit') {
      throw forbidden(
        isViewer(actor)
          ? 'viewers may not change workspaces, even ones shared with them for editing'
          : `"${name}" is shared with you to view, not to edit`,
      );
    }
    if (!isJsonObject(patch))
      throw invalidField('', 'must be a JSON object (an RFC 7396 merge patch of the workspace)');
    checkDepth(patch);
    await this.change(ownerId, async (document, _version, trx) => {
      // Checked again under the owner's lock: a grant revoked while this edit waited for it holds no more.
      const still = accessThrough(await this.store(trx).grantsOf(ownerId, name), actor);
      if (still === undefined) throw notShared(owner, name);
      if (still !== 'edit') throw forbidden(`"${name}" is shared with you to view, not to edit`);
      const workspaces = workspacesOf(document);
      if (!Object.hasOwn(workspaces, name)) throw notShared(owner, name);
      if (!ifMatchHolds(ifMatch, (etag) => workspaceText(workspaces[name]).etag === etag)) {
        throw versionConflict(`workspace "${name}"`);
      }
      const next: JsonObject = {
        ...document,
        [WORKSPACES_KEY]: { ...workspaces, [name]: applyMergePatch(workspaces[name], patch) },
      };
      await this.deps.audit.record(
        context,
        {
          type: 'workspace.edited',
          outcome: 'success',
          target: { type: 'workspace', id: `${owner}/${name}` },
        },
        trx,
      );
      return { document: next, ...(await this.workspaceChanges(trx, ownerId, document, next)) };
    });
    return this.shared(actor, owner, name);
  }

  /** What a grantee gets for trying to rename, delete or re-share a workspace shared with them. */
  async refuseOwnerOnly(reader: Reader, owner: string, name: string, what: string): Promise<never> {
    await this.grantOf(reader, owner, name);
    throw forbidden(`only ${owner}, who owns "${name}", may ${what} it`);
  }

  // Operators

  async exportFor(userId: string, username: string): Promise<PreferencesExport> {
    const store = this.store();
    const [own, grants] = await Promise.all([store.read(userId), store.grantsOf(userId)]);
    return {
      format: EXPORT_FORMAT,
      username,
      document: parseDocument(own?.document ?? '{}'),
      grants: grants.map((g) => ({
        workspace: g.workspace,
        principal_type: g.principalType,
        principal: g.principal,
        access: g.access,
      })),
    };
  }

  /**
   * Replaces a user's document and grants with an export's. Checked as a patch would be (the server's keys
   * refused, limits and names held) and every grant resolved here; nothing changes unless all of it holds.
   */
  async importFor(actor: Actor, data: unknown, context: AuditContext): Promise<void> {
    const { document, grants } = checkExport(data, this.deps.settings);
    const byWorkspace = new Map<string, { grant: ExportedGrant; index: number }[]>();
    for (const [index, grant] of grants.entries()) {
      byWorkspace.set(grant.workspace, [...(byWorkspace.get(grant.workspace) ?? []), { grant, index }]);
    }
    const rows: GrantRow[] = [];
    for (const [workspace, listed] of byWorkspace) {
      const resolved = await this.resolveGrants(
        actor,
        workspace,
        listed.map((l) => l.grant),
        { list: '/grants', item: (k) => `/grants/${listed[k]?.index ?? k}` },
      );
      rows.push(...resolved);
    }
    await this.changeGrants(actor.userId, async (_before, _version, trx) => {
      const store = this.store(trx);
      const old = await store.grantsOf(actor.userId);
      await store.deleteGrants(actor.userId);
      for (const [workspace] of byWorkspace) {
        await store.replaceGrants(
          actor.userId,
          workspace,
          rows.filter((r) => r.workspace === workspace),
        );
      }
      await this.deps.audit.record(
        context,
        {
          type: 'preferences.imported',
          outcome: 'success',
          target: { type: 'user', id: actor.userId },
          detail: {
            username: actor.username,
            workspaces: Object.keys(workspacesOf(document)).length,
            grants: rows.length,
          },
        },
        trx,
      );
      return {
        document,
        touched: [{ ownerId: actor.userId, grants: [...old, ...rows] }],
        users: [actor.userId],
      };
    });
  }

  /**
   * For UsersService.onDelete: removes the user's document and the grants they made or hold, in the
   * deleting transaction; afterwards tells their grantees, and the owners whose grants named them.
   */
  async forgetUser(userId: string, executor: Kysely<Database>): Promise<() => void> {
    const store = this.store(executor);
    const [made, held] = await Promise.all([store.grantsOf(userId), store.grantsTo(userId)]);
    const owners = [...new Set(held.map((g) => g.ownerId))];
    // Every document whose grants change is locked first, in one order (as every change locks its
    // document before its grants), so deletions and changes running at once cannot wait on each other.
    const locked = new Map<string, StoredDocument | undefined>();
    for (const id of [userId, ...owners].sort()) locked.set(id, await store.lockExisting(id));
    await store.deleteGrants(userId);
    await store.deleteGrantsTo(userId);
    await store.deleteDocument(userId);
    // The owners' grant lists changed: their versions grow so their ETags do too. An owner deleted while
    // this waited for their document has none left to change.
    for (const ownerId of owners) {
      const stored = locked.get(ownerId);
      if (stored) await store.write(ownerId, stored.document, stored.version + 1, this.stamp());
    }
    return () => {
      this.notices?.send({ touched: [{ ownerId: userId, grants: made }], users: owners }, userId);
    };
  }

  /** Tells a user whose role or groups changed their new ETag: other grants may reach them now. */
  reachChanged(userId: string): void {
    this.notices?.send({ touched: [], users: [userId] }, userId);
  }

  // The machinery

  /**
   * Runs `edit` on the owner's document in one transaction (it must query through `trx` alone: on SQLite a
   * query outside it waits for the transaction, which waits for the query) and stores what it returns with the version
   * grown by one (a change with nothing to store still grows it: grants are part of the owner's view).
   */
  private async change<T>(ownerId: string, edit: Edit<T>): Promise<T> {
    const outcome = await this.deps.db
      .transaction()
      .execute(async (trx) => {
        const store = this.store(trx);
        const at = this.stamp();
        const stored = await store.lock(ownerId, at);
        const result = await edit(parseDocument(stored.document), stored.version, trx);
        const text = checkedDocument(result.document, this.deps.settings);
        await store.write(ownerId, text, stored.version + 1, at);
        return result;
      })
      .catch((error: unknown) => {
        // The owner's account went while this waited: what was theirs went with it.
        if (isForeignKeyViolation(error)) throw notFound('the owner of this document (deleted just now)');
        throw error;
      });
    this.notices?.send(outcome, ownerId);
    return outcome.result as T;
  }

  /** A change that stores grants: a grantee deleted since they were looked up is a 422, not a 500. */
  private changeGrants<T>(ownerId: string, edit: Edit<T>): Promise<T> {
    return this.change<T>(ownerId, async (document, version, trx) => {
      try {
        return await edit(document, version, trx);
      } catch (error) {
        if (!isForeignKeyViolation(error)) throw error;
        throw invalidField('', 'names a user who has just been deleted; read the grants again and retry');
      }
    });
  }

  /**
   * What a change of one owner's document does to sharing: workspaces that went lose their grants, and
   * the grantees of every workspace whose content changed (or all of them, when the variables did) see a
   * new view.
   */
  private async workspaceChanges(
    trx: Kysely<Database>,
    ownerId: string,
    before: JsonObject,
    after: JsonObject,
  ): Promise<Affected> {
    const store = this.store(trx);
    const grants = await store.grantsOf(ownerId);
    const users = [ownerId];
    if (grants.length === 0) return { touched: [], users };
    const old = workspacesOf(before);
    const now = workspacesOf(after);
    const variablesChanged = JSON.stringify(before[VARIABLES_KEY]) !== JSON.stringify(after[VARIABLES_KEY]);
    const touched: GrantRow[] = [];
    for (const name of new Set(grants.map((g) => g.workspace))) {
      const gone = !Object.hasOwn(now, name);
      if (gone) await store.deleteGrants(ownerId, name);
      if (gone || variablesChanged || JSON.stringify(old[name]) !== JSON.stringify(now[name])) {
        touched.push(...grants.filter((g) => g.workspace === name));
      }
    }
    // What its grantees' libraries show changed: the libraries kept for them must be built again.
    if (touched.length > 0) await store.sharingChanged();
    return { touched: [{ ownerId, grants: touched }], users };
  }

  /** The reader's access to `owner`'s workspace `name`; 404 when none (the same as for no such workspace). */
  private async grantOf(
    reader: Reader,
    owner: string,
    name: string,
  ): Promise<{ ownerId: string; access: Access }> {
    const user = await this.deps.users.findByUsername(owner);
    if (!user || user.id === reader.userId) throw notShared(owner, name);
    const grants = await this.store().grantsOf(user.id, name);
    const access = accessThrough(grants, reader);
    if (access === undefined) throw notShared(owner, name);
    return { ownerId: user.id, access };
  }

  /** Whether `<owner>/<name>` names a workspace shared with the reader. Asked before a change, never inside one. */
  private async isSharedWith(reader: Reader, name: string): Promise<boolean> {
    const slash = name.indexOf('/');
    if (slash <= 0) return false;
    try {
      await this.grantOf(reader, name.slice(0, slash), name.slice(slash + 1));
      return true;
    } catch (error) {
      if (error instanceof AppError && error.code === ErrorCode.notFound) return false;
      throw error;
    }
  }

  private resolveGrants(
    actor: Actor,
    name: string,
    wanted: readonly NewGrant[],
    pointers?: GrantPointers,
  ): Promise<GrantRow[]> {
    const limits = { max: this.deps.settings.maxGrantsPerWorkspace, at: this.stamp() };
    return resolveGrants(this.deps.users, { owner: actor, workspace: name, wanted, ...limits, pointers });
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }
}

/**
 * When a patch removed the current workspace and named no other, the first one left becomes current (or
 * none), as when it is deleted: `currentWorkspace` never names one of the user's workspaces that is gone.
 */
function followRemovedCurrent(before: JsonObject, after: JsonObject): void {
  const current = currentOf(after);
  if (current === null || !Object.hasOwn(workspacesOf(before), current)) return;
  const left = workspacesOf(after);
  if (Object.hasOwn(left, current)) return;
  const following = Object.keys(left)[0];
  if (following === undefined) delete after[CURRENT_KEY];
  else after[CURRENT_KEY] = following;
}

/** `currentWorkspace` names one of the reader's workspaces (in `document`) or one shared with them. */
function checkCurrent(document: JsonObject, name: string, shared: boolean, pointer: string): void {
  if (shared || Object.hasOwn(workspacesOf(document), name)) return;
  throw invalidField(pointer, `names no workspace of yours or shared with you: "${name}"`);
}

function notShared(owner: string, name: string): AppError {
  return notFound(`workspace "${name}" shared by ${owner}`);
}

function parseDocument(text: string): JsonObject {
  const parsed: unknown = JSON.parse(text);
  return isJsonObject(parsed) ? parsed : {};
}
