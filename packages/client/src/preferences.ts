import { Emitter } from './emitter.js';
import { ErrorCode, isSwitchboardError } from './errors.js';
import type { LiveClient, Subscription } from './live.js';
import type { Session } from './session.js';

/** The preferences document (docs/workspaces.md): the front end's own keys, plus two the server adds. */
export interface PreferencesDocument {
  workspaces?: Record<string, Record<string, unknown>>;
  currentWorkspace?: string;
  variables?: Record<string, unknown>;
  theme?: unknown;
  timeRange?: unknown;
  shared_workspace_grants?: Record<string, { principal_type: string; principal: string; access: string }[]>;
  shared_workspace_library?: {
    owner: string;
    owner_id: string;
    name: string;
    access: 'view' | 'edit';
    etag: string;
    workspace: unknown;
    variables: Record<string, unknown> | null;
  }[];
  [key: string]: unknown;
}

/** An RFC 7396 merge patch: keys replace, `null` removes, objects merge. */
export type MergePatch = { [key: string]: unknown };

export interface PreferencesEvents {
  /** The document changed (this client's write, another session's, or a share). */
  change: PreferencesDocument;
  /** A write met a newer version (412) and was applied again on top of it. */
  conflict: { patch: MergePatch; attempt: number };
}

export interface PreferencesOptions {
  /** How many times a write that meets a newer version is applied again (default 3). */
  maxRetries?: number;
  /**
   * Called after a 412 with the fresh document and the patch that was refused; returns the patch to apply
   * on top of it (default: the same patch: a merge patch applies to whatever is stored, keeping others'
   * changes to other keys).
   */
  rebase?: (current: PreferencesDocument, patch: MergePatch) => MergePatch;
}

const PATH = '/api/v1/preferences';

/**
 * The user's preferences kept in sync: read with its ETag (a 304 when nothing changed), changed with merge
 * patches under `If-Match`, a conflict (412) answered by reading again, merging and retrying, and other
 * sessions' changes picked up from `preferences.updated` notices on `user:{id}`.
 */
export class Preferences extends Emitter<PreferencesEvents> {
  value: PreferencesDocument | null = null;
  etag: string | null = null;
  private subscription: Subscription | null = null;
  private loading: Promise<PreferencesDocument> | null = null;
  private readonly maxRetries: number;
  private readonly rebase: (current: PreferencesDocument, patch: MergePatch) => MergePatch;

  constructor(
    private readonly session: Session,
    private readonly live: LiveClient,
    options: PreferencesOptions = {},
  ) {
    super();
    this.maxRetries = options.maxRetries ?? 3;
    this.rebase = options.rebase ?? ((_current, patch) => patch);
  }

  /** Reads the document (`If-None-Match`: unchanged costs a 304). Concurrent calls share one read. */
  load(): Promise<PreferencesDocument> {
    this.loading ??= this.read().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async read(): Promise<PreferencesDocument> {
    const headers: Record<string, string> = {};
    if (this.etag && this.value) headers['if-none-match'] = this.etag;
    const response = await this.session.fetch(
      new Request(this.session.url(PATH), { headers, credentials: this.session.credentials }),
    );
    if (response.status === 304 && this.value) return this.value;
    const document = await this.session.expect<PreferencesDocument>(response);
    this.accept(document, response.headers.get('etag'));
    return document;
  }

  /**
   * Applies a merge patch under `If-Match`. On a 412 the document is read again and the patch (or what
   * `rebase` makes of it) applied on top, up to `maxRetries` times.
   */
  async patch(patch: MergePatch): Promise<PreferencesDocument> {
    if (!this.etag) await this.load();
    let current = patch;
    for (let attempt = 0; ; attempt++) {
      const response = await this.session.fetch(
        new Request(this.session.url(PATH), {
          method: 'PATCH',
          headers: {
            'content-type': 'application/merge-patch+json',
            ...(this.etag && { 'if-match': this.etag }),
          },
          body: JSON.stringify(current),
          credentials: this.session.credentials,
        }),
      );
      try {
        const document = await this.session.expect<PreferencesDocument>(response);
        this.accept(document, response.headers.get('etag'));
        return document;
      } catch (error) {
        if (!isSwitchboardError(error, ErrorCode.versionConflict) || attempt >= this.maxRetries) throw error;
        this.emit('conflict', { patch: current, attempt: attempt + 1 });
        const fresh = await this.load();
        current = this.rebase(fresh, current);
      }
    }
  }

  /**
   * Follows `preferences.updated` on the user's channel: a notice whose ETag differs from the one held reads
   * the document again, as does a reconnect that could not replay what it missed. Loads it first.
   */
  async watch(): Promise<PreferencesDocument> {
    const user = this.session.user ?? (await this.session.me());
    if (!this.subscription) {
      const check = (data: unknown) => {
        const notice = data as { type?: string; etag?: string } | null;
        if (notice?.type === 'preferences.updated' && notice.etag !== this.etag)
          void this.load().catch(() => {});
      };
      this.subscription = this.live.subscribe(`user:${user.id}`, {
        event: (event) => check(event.data),
        snapshot: (event) => check(event?.data),
        reset: () => void this.load().catch(() => {}),
      });
    }
    return this.load();
  }

  /** Stops following notices. */
  unwatch(): void {
    this.subscription?.close();
    this.subscription = null;
  }

  private accept(document: PreferencesDocument, etag: string | null): void {
    const changed = etag === null || etag !== this.etag;
    this.value = document;
    this.etag = etag;
    if (changed) this.emit('change', document);
  }
}
