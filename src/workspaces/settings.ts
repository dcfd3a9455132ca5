import { defineSection, integer, type SectionSettings } from '../platform/settings-spec.js';

/** How large a user's preferences may grow and how widely a workspace may be shared. */
export const workspaceSettings = defineSection({
  maxDocumentBytes: {
    env: 'SWITCHBOARD_PREFERENCES_MAX_BYTES',
    file: 'preferences_max_bytes',
    default: '1048576',
    ...integer(16_384, 16_777_216),
    doc: 'Largest preferences document one user may keep, in bytes of JSON (their workspaces included); a change that would make it larger is refused (422). Also the body limit of the preferences and workspace routes.',
  },
  maxWorkspaces: {
    env: 'SWITCHBOARD_WORKSPACES_MAX',
    file: 'workspaces_max',
    default: '100',
    ...integer(1, 10_000),
    doc: 'Workspaces one user may own; creating one more is refused (422).',
  },
  maxGrantsPerWorkspace: {
    env: 'SWITCHBOARD_WORKSPACE_GRANTS_MAX',
    file: 'workspace_grants_max',
    default: '100',
    ...integer(1, 10_000),
    doc: 'Grants (roles, groups and users) one workspace may be shared with.',
  },
});

export type WorkspaceSettings = SectionSettings<typeof workspaceSettings>;
