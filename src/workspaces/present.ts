import type { SharedWorkspace } from './library.js';
import type { OwnWorkspace, PreferencesView, Summary } from './service.js';
import type { GrantRow } from './store.js';

export function grantItem(grant: GrantRow) {
  return { principal_type: grant.principalType, principal: grant.principal, access: grant.access };
}

export function workspaceItem(workspace: OwnWorkspace) {
  return {
    name: workspace.name,
    current: workspace.current,
    etag: workspace.workspace.etag,
    grants: workspace.grants.map(grantItem),
  };
}

export function summaryItem(summary: Summary) {
  return {
    workspaces: summary.workspaces,
    current_workspace: summary.currentWorkspace,
    counts: {
      workspaces: summary.workspaces.length,
      shared_with_me: summary.sharedWithMe,
      shared_by_me: summary.sharedByMe,
      grants: summary.grants,
    },
  };
}

/** One library entry as JSON text: the workspace and variables go in as the snapshot holds them. */
function sharedJson(entry: SharedWorkspace): string {
  return (
    `{"owner":${JSON.stringify(entry.owner)},"owner_id":${JSON.stringify(entry.ownerId)},` +
    `"name":${JSON.stringify(entry.name)},"access":"${entry.access}",` +
    `"etag":${JSON.stringify(entry.workspace.etag)},"workspace":${entry.workspace.json},` +
    `"variables":${entry.variables.json}}`
  );
}

export function sharedBody(entry: SharedWorkspace): string {
  return envelopeJson(sharedJson(entry));
}

function envelopeJson(data: string): string {
  return `{"data":${data},"error":null,"error_detail":null,"success":true}`;
}

/**
 * `GET /preferences` as JSON text, put together from stored text: the reader's document as written, their
 * grants by workspace, and the library from the owners' snapshots. Nothing large is parsed or serialised
 * again, which is what keeps a read of 200 shared workspaces cheap.
 */
export function preferencesBody(view: PreferencesView): string {
  const byWorkspace: Record<string, ReturnType<typeof grantItem>[]> = Object.create(null);
  for (const grant of view.grants) (byWorkspace[grant.workspace] ??= []).push(grantItem(grant));
  const added =
    `"shared_workspace_grants":${JSON.stringify(byWorkspace)},` +
    `"shared_workspace_library":[${view.library.map(sharedJson).join(',')}]`;
  const document = view.document.trim();
  const data = /^\{\s*\}$/.test(document) ? `{${added}}` : `${document.slice(0, -1)},${added}}`;
  return envelopeJson(data);
}
