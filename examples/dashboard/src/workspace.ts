import type { PreferencesDocument } from '@switchboard/client';

/** One tile: the channel it shows and, optionally, a title of its own. */
export interface Widget {
  channel: string;
  title?: string;
}

/**
 * A dashboard as it is kept in a workspace of the preferences document (docs/workspaces.md): its tiles
 * and its settings. Another front end may keep other keys beside these; they are left as they are.
 */
export interface DashboardWorkspace {
  widgets: Widget[];
  settings: { points: number };
}

export const DEFAULT_POINTS = 40;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a workspace written by anyone, keeping what this page understands and nothing it cannot draw. */
export function asDashboard(value: unknown): DashboardWorkspace {
  const source = isObject(value) ? value : {};
  const widgets = Array.isArray(source.widgets)
    ? source.widgets.flatMap((w): Widget[] =>
        isObject(w) && typeof w.channel === 'string'
          ? [{ channel: w.channel, ...(typeof w.title === 'string' && { title: w.title }) }]
          : [],
      )
    : [];
  const settings = isObject(source.settings) ? source.settings : {};
  const points =
    typeof settings.points === 'number' && settings.points >= 5 && settings.points <= 200
      ? Math.round(settings.points)
      : DEFAULT_POINTS;
  return { widgets, settings: { points } };
}

/** A workspace the signed-in user can open: one of theirs, or one shared with them. */
export interface WorkspaceChoice {
  /** What `currentWorkspace` holds for it: the name, or `<owner>/<name>` when shared. */
  key: string;
  name: string;
  /** The owner's username when shared with this user; null for their own. */
  owner: string | null;
  access: 'own' | 'edit' | 'view';
  dashboard: DashboardWorkspace;
  /** The content's tag (If-Match of a shared edit). */
  etag: string | null;
}

/** Every workspace of the document: the user's own first, then those shared with them. */
export function choicesOf(document: PreferencesDocument | null): WorkspaceChoice[] {
  if (!document) return [];
  const own = Object.entries(document.workspaces ?? {}).map(
    ([name, content]): WorkspaceChoice => ({
      key: name,
      name,
      owner: null,
      access: 'own',
      dashboard: asDashboard(content),
      etag: null,
    }),
  );
  const shared = (document.shared_workspace_library ?? []).map(
    (entry): WorkspaceChoice => ({
      key: `${entry.owner}/${entry.name}`,
      name: entry.name,
      owner: entry.owner,
      access: entry.access,
      dashboard: asDashboard(entry.workspace),
      etag: entry.etag,
    }),
  );
  return [...own, ...shared];
}

/** The workspace to show: the document's current one when it can be opened, else the first. */
export function currentOf(choices: WorkspaceChoice[], current: unknown): WorkspaceChoice | undefined {
  return choices.find((choice) => choice.key === current) ?? choices[0];
}

/** The number a tile shows for an event's data: the data itself, its `value`, or its first number. */
export function numberOf(data: unknown): number | undefined {
  if (typeof data === 'number' && Number.isFinite(data)) return data;
  if (!isObject(data)) return undefined;
  if (typeof data.value === 'number' && Number.isFinite(data.value)) return data.value;
  for (const value of Object.values(data))
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  return undefined;
}
