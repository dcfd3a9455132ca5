import { Type } from '@fastify/type-provider-typebox';

/** A workspace name as a path parameter; the service says what is wrong with a bad one. */
export const NameParams = Type.Object({ name: Type.String({ description: 'Workspace name' }) });
export const SharedParams = Type.Object({
  owner: Type.String({ description: 'Username of the owner' }),
  name: Type.String({ description: 'Workspace name' }),
});

/** Checked by the service (document.ts), which names what is wrong; described here for the API document. */
export const MergePatch = Type.Unknown({
  description:
    'A JSON object: an RFC 7396 merge patch (application/merge-patch+json, or application/json). Keys set replace, null removes, objects merge.',
});
export const WorkspaceContent = Type.Unknown({
  description: 'A JSON object: the workspace, as the front end shapes it (panels, widgets, layout…).',
});

export const Grant = Type.Object(
  {
    principal_type: Type.Union([Type.Literal('role'), Type.Literal('group'), Type.Literal('user')]),
    principal: Type.String({ minLength: 1, maxLength: 64, description: 'A role, a group or a username' }),
    access: Type.Union([Type.Literal('view'), Type.Literal('edit')]),
  },
  { additionalProperties: false },
);
export const GrantList = Type.Array(Grant, { maxItems: 10_000 });

export const WorkspaceItem = Type.Object({
  name: Type.String(),
  current: Type.Boolean(),
  etag: Type.String({ description: 'ETag of the content: If-Match of PUT and DELETE' }),
  grants: Type.Array(Grant),
});

export const SetCurrentBody = Type.Object(
  {
    // Null first: with type coercion on, a string branch tried first would turn null into "".
    name: Type.Union([Type.Null(), Type.String({ maxLength: 300 })], {
      description: 'One of your workspaces, <owner>/<name> for one shared with you, or null',
    }),
  },
  { additionalProperties: false },
);
export const RenameBody = Type.Object(
  { name: Type.String({ maxLength: 1000, description: 'The new name' }) },
  { additionalProperties: false },
);
export const PutQuery = Type.Object({
  make_current: Type.Optional(Type.Boolean({ description: 'Also make it the current workspace' })),
});
export const DeleteQuery = Type.Object({
  next: Type.Optional(
    Type.String({ description: 'The workspace to make current (default: the first left)' }),
  ),
});

export const Summary = Type.Object({
  workspaces: Type.Array(Type.String()),
  current_workspace: Type.Union([Type.String(), Type.Null()]),
  counts: Type.Object({
    workspaces: Type.Integer(),
    shared_with_me: Type.Integer(),
    shared_by_me: Type.Integer(),
    grants: Type.Integer(),
  }),
});

export const SharedItem = Type.Object({
  owner: Type.String(),
  owner_id: Type.String(),
  name: Type.String(),
  access: Type.Union([Type.Literal('view'), Type.Literal('edit')]),
  etag: Type.String(),
  workspace: WorkspaceContent,
  variables: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

/** The keys of a preferences document the server reads (document.ts checks them); the rest are the front end's. */
export const PreferencesDocument = Type.Object(
  {
    workspaces: Type.Optional(
      Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), {
        description: 'Your workspaces by name',
      }),
    ),
    currentWorkspace: Type.Optional(
      Type.String({ description: 'One of your workspaces, or <owner>/<name> for one shared with you' }),
    ),
    variables: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Shared along with your workspaces' }),
    ),
    theme: Type.Optional(Type.Unknown()),
    timeRange: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

export const PreferencesData = Type.Composite(
  [
    PreferencesDocument,
    Type.Object({
      shared_workspace_grants: Type.Record(Type.String(), Type.Array(Grant), {
        description: 'Who each of your workspaces is shared with',
      }),
      shared_workspace_library: Type.Array(SharedItem, {
        description: 'What others share with you, rebuilt on every read',
      }),
    }),
  ],
  {
    additionalProperties: true,
    description: 'Your document as the front end wrote it, plus the two keys the server adds.',
  },
);
