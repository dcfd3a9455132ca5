import { createHash } from 'node:crypto';
import { ROLES, type Role, roleLevel } from '../auth/roles.js';
import { isJsonObject } from './merge-patch.js';
import { type OwnerSnapshot, OwnerSnapshots, snapshotOf, type WorkspaceText } from './snapshots.js';
import type { Access, GrantRow, Holder, SharingStateQuery, VisibleGrant, WorkspacesStore } from './store.js';

/** Who reads: the credential's role (an API key's may be lower than its owner's) and the user's groups. */
export interface Reader {
  readonly userId: string;
  readonly role: Role;
  readonly groups: readonly string[];
}

/** One workspace someone shared with the reader, as the owner's document has it now. */
export interface SharedWorkspace {
  readonly ownerId: string;
  readonly owner: string;
  readonly name: string;
  /** What the reader may do: `edit` only for editors and above with an edit grant. */
  readonly access: Access;
  readonly workspace: WorkspaceText;
  readonly variables: WorkspaceText;
}

const ACCESS_RANK: Record<Access, number> = { view: 1, edit: 2 };

export function stronger(a: Access | undefined, b: Access): Access {
  return a !== undefined && ACCESS_RANK[a] >= ACCESS_RANK[b] ? a : b;
}

/** Viewers look; an edit grant lets an editor or admin change a workspace, never a viewer. */
export function effectiveAccess(role: Role, granted: Access): Access {
  return roleLevel(role) >= roleLevel('editor') ? granted : 'view';
}

/** The grant principals a reader holds: their id, their groups, and every role at or below theirs. */
export function holderOf(reader: Reader): Holder {
  return {
    userId: reader.userId,
    roles: ROLES.filter((role) => roleLevel(role) <= roleLevel(reader.role)),
    groups: reader.groups,
  };
}

/** Whether `grant` reaches the reader (a role grant reaches that role and every higher one). */
export function grantReaches(
  grant: Pick<GrantRow, 'principalType' | 'principal' | 'granteeId'>,
  reader: Reader,
): boolean {
  switch (grant.principalType) {
    case 'user':
      return grant.granteeId === reader.userId;
    case 'group':
      return reader.groups.includes(grant.principal);
    case 'role':
      return (
        (ROLES as readonly string[]).includes(grant.principal) &&
        roleLevel(reader.role) >= roleLevel(grant.principal as Role)
      );
  }
}

/** The reader's access to one workspace through these grants of it, if any reaches them. */
export function accessThrough(grants: readonly GrantRow[], reader: Reader): Access | undefined {
  let best: Access | undefined;
  for (const grant of grants) if (grantReaches(grant, reader)) best = stronger(best, grant.access);
  return best === undefined ? undefined : effectiveAccess(reader.role, best);
}

/**
 * The shared workspace library, rebuilt on every read from the grants that reach the reader now and the
 * owners' documents as they are now; owners' documents are cut up once per version (OwnerSnapshots).
 */
export class Library {
  private readonly snapshots: OwnerSnapshots;
  /** Each reader's last library, by who they were (id, role, groups): another role is another library. */
  private readonly readers = new Map<string, ReaderLibrary>();

  constructor(maxCachedBytes: number) {
    this.snapshots = new OwnerSnapshots(maxCachedBytes);
  }

  /**
   * The reader's library and their own document's version. A library built before is used again when
   * nothing any library shows has changed since (the generation every such change raises, store.ts); one
   * small query tells, whatever the number of workspaces and owners.
   */
  async of(store: WorkspacesStore, reader: Reader): Promise<ReaderLibraryNow> {
    const key = readerKey(reader);
    const kept = this.readers.get(key);
    const state = await store.sharingState(kept?.check ?? store.sharingStateQuery(reader.userId));
    if (kept && kept.generation === state.generation) {
      this.readers.delete(key);
      this.readers.set(key, kept);
      return { entries: kept.entries, tag: kept.tag, version: state.version };
    }
    // The generation is read before the grants: a change between the two makes the next check miss.
    const entries = await this.build(store, reader);
    const tag = libraryTag(entries);
    this.readers.delete(key);
    // The check is compiled once: every later read runs the same statement with the same values.
    this.readers.set(key, {
      generation: state.generation,
      entries,
      tag,
      check: store.sharingStateQuery(reader.userId),
    });
    if (this.readers.size > MAX_READERS) {
      const oldest = this.readers.keys().next();
      if (!oldest.done) this.readers.delete(oldest.value);
    }
    return { entries, tag, version: state.version };
  }

  private async build(store: WorkspacesStore, reader: Reader): Promise<SharedWorkspace[]> {
    const visible = await store.visibleTo(holderOf(reader));
    if (visible.length === 0) return [];
    const owners = await this.snapshotsOf(store, visible);
    const best = new Map<string, VisibleGrant>();
    for (const grant of visible) {
      const key = `${grant.ownerId}\u0000${grant.workspace}`;
      const seen = best.get(key);
      if (!seen || ACCESS_RANK[grant.access] > ACCESS_RANK[seen.access]) best.set(key, grant);
    }
    const entries: SharedWorkspace[] = [];
    for (const grant of best.values()) {
      const snapshot = owners.get(grant.ownerId);
      const workspace = snapshot?.workspaces.get(grant.workspace);
      if (!snapshot || !workspace) continue;
      entries.push({
        ownerId: grant.ownerId,
        owner: grant.ownerUsername,
        name: grant.workspace,
        access: effectiveAccess(reader.role, grant.access),
        workspace,
        variables: snapshot.variables,
      });
    }
    return entries.sort((a, b) => compare(a.owner, b.owner) || compare(a.name, b.name));
  }

  /** A snapshot of one owner's document at the version the database holds now. */
  async snapshot(store: WorkspacesStore, ownerId: string): Promise<OwnerSnapshot | undefined> {
    const versions = await store.versions([ownerId]);
    const version = versions.get(ownerId);
    if (version === undefined) return undefined;
    return (await this.load(store, new Map([[ownerId, version]]))).get(ownerId);
  }

  private snapshotsOf(store: WorkspacesStore, visible: readonly VisibleGrant[]) {
    const versions = new Map<string, number>();
    for (const grant of visible) versions.set(grant.ownerId, grant.ownerVersion);
    return this.load(store, versions);
  }

  private async load(
    store: WorkspacesStore,
    versions: ReadonlyMap<string, number>,
  ): Promise<Map<string, OwnerSnapshot>> {
    const found = new Map<string, OwnerSnapshot>();
    const missing: string[] = [];
    for (const [ownerId, version] of versions) {
      const cached = this.snapshots.get(ownerId, version);
      if (cached) found.set(ownerId, cached);
      else missing.push(ownerId);
    }
    if (missing.length === 0) return found;
    for (const [ownerId, stored] of await store.documents(missing)) {
      const parsed: unknown = JSON.parse(stored.document);
      const snapshot = snapshotOf(isJsonObject(parsed) ? parsed : {}, stored.version, stored.document.length);
      this.snapshots.put(ownerId, snapshot);
      found.set(ownerId, snapshot);
    }
    return found;
  }
}

/** Libraries kept at most; the least recently read go first. */
const MAX_READERS = 10_000;

interface ReaderLibrary {
  generation: number;
  entries: SharedWorkspace[];
  tag: string;
  /** The query that reads the generation and the reader's version. */
  check: SharingStateQuery;
}

/** A reader's library now, their own document's version (0 without one) beside it. */
export interface ReaderLibraryNow {
  entries: readonly SharedWorkspace[];
  tag: string;
  version: number;
}

const readerKey = (reader: Reader) => [reader.userId, reader.role, ...reader.groups].join('\u0000');

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A tag of what the library shows: it changes exactly when an entry comes, goes, or changes its access,
 * content or variables. With the reader's own version it makes the ETag of `GET /preferences`.
 */
export function libraryTag(entries: readonly SharedWorkspace[]): string {
  if (entries.length === 0) return '0';
  const hash = createHash('sha256');
  for (const entry of entries) {
    hash.update(
      `${entry.ownerId}\u0000${entry.name}\u0000${entry.access}\u0000${entry.workspace.etag}\u0000${entry.variables.etag}\n`,
    );
  }
  return hash.digest('base64url').slice(0, 16);
}

/** `"<own version>.<library tag>"`. */
export function viewTag(version: number, libraryTag: string): string {
  return `"${version}.${libraryTag}"`;
}

/** The own-document version in one of our view ETags (`"<version>.<tag>"` or `"<version>"`). */
export function versionIn(etag: string): number | undefined {
  const match = /^"(\d{1,15})(?:\.[A-Za-z0-9_-]+)?"$/.exec(etag);
  return match ? Number(match[1]) : undefined;
}

/**
 * Whether an `If-Match` header lets a write go ahead: absent, `*`, or one of its entity tags matching.
 * Comparison is strong, as RFC 9110 says for If-Match: a weak tag never matches.
 */
export function ifMatchHolds(header: string | undefined, matches: (etag: string) => boolean): boolean {
  if (header === undefined) return true;
  return header.split(',').some((raw) => {
    const etag = raw.trim();
    return etag === '*' || matches(etag);
  });
}
