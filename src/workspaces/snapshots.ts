import { createHash } from 'node:crypto';
import { VARIABLES_KEY, workspacesOf } from './document.js';
import { isJsonObject, type JsonObject } from './merge-patch.js';

/** A workspace as the library and the shared routes hand it out: its JSON text and the ETag of that text. */
export interface WorkspaceText {
  readonly json: string;
  /** Quoted, ready for the ETag header; changes exactly when the workspace's content does. */
  readonly etag: string;
}

/** One owner's document at one version, cut into what sharing needs. */
export interface OwnerSnapshot {
  readonly version: number;
  readonly workspaces: ReadonlyMap<string, WorkspaceText>;
  /** The owner's `variables`, which travel with every workspace they share ("null" when there are none). */
  readonly variables: WorkspaceText;
  readonly bytes: number;
}

export function contentTag(json: string): string {
  return `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`;
}

export function workspaceText(workspace: unknown): WorkspaceText {
  const json = JSON.stringify(workspace);
  return { json, etag: contentTag(json) };
}

export function snapshotOf(document: JsonObject, version: number, bytes: number): OwnerSnapshot {
  const workspaces = new Map<string, WorkspaceText>();
  for (const [name, workspace] of Object.entries(workspacesOf(document))) {
    workspaces.set(name, workspaceText(workspace));
  }
  const variables = document[VARIABLES_KEY];
  return {
    version,
    workspaces,
    variables: workspaceText(isJsonObject(variables) ? variables : null),
    bytes,
  };
}

/**
 * Owners' documents cut up once per version and kept while memory allows (the oldest used go first), so
 * a reader who sees 200 shared workspaces parses none of them again until their owner changes one. A
 * snapshot is looked up by the version the database says is current, so a stale one is never served.
 */
export class OwnerSnapshots {
  private readonly entries = new Map<string, OwnerSnapshot>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(ownerId: string, version: number): OwnerSnapshot | undefined {
    const entry = this.entries.get(ownerId);
    if (!entry) return undefined;
    if (entry.version !== version) {
      this.remove(ownerId, entry);
      return undefined;
    }
    // Most recently used last, so eviction takes from the front.
    this.entries.delete(ownerId);
    this.entries.set(ownerId, entry);
    return entry;
  }

  put(ownerId: string, snapshot: OwnerSnapshot): void {
    const previous = this.entries.get(ownerId);
    if (previous) this.remove(ownerId, previous);
    if (snapshot.bytes > this.maxBytes) return;
    this.entries.set(ownerId, snapshot);
    this.bytes += snapshot.bytes;
    for (const [id, oldest] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(id, oldest);
    }
  }

  private remove(ownerId: string, entry: OwnerSnapshot): void {
    this.entries.delete(ownerId);
    this.bytes -= entry.bytes;
  }
}
