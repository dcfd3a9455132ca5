import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { auditContext } from '../auth/request.js';
import { preferredCompression } from '../platform/accept-encoding.js';
import { noneMatchHits } from '../platform/conditional.js';
import type { CursorCodec } from '../platform/cursor.js';
import { ok } from '../platform/envelope.js';
import { NOT_MODIFIED } from '../platform/openapi-answers.js';
import { Envelope, keysetPage, PageEnvelope, PageQuery } from '../platform/pagination.js';
import { grantItem, preferencesBody, sharedBody, summaryItem, workspaceItem } from './present.js';
import { RenderedViews } from './rendered-views.js';
import {
  DeleteQuery,
  Grant,
  GrantList,
  MergePatch,
  NameParams,
  PreferencesData,
  PutQuery,
  RenameBody,
  SetCurrentBody,
  SharedItem,
  SharedParams,
  Summary,
  WorkspaceContent,
  WorkspaceItem,
} from './schemas.js';
import type { Actor, WorkspacesService } from './service.js';

const tags = ['workspaces'];
/** Memory for the last preferences body of each reader (rendered-views.ts). */
const RENDERED_VIEWS_BYTES = 32 * 1024 * 1024;
const writes = { rateLimit: { operations: ['preferences.write' as const] } };
const JSON_TYPE = 'application/json; charset=utf-8';
const IF_MATCH = Type.Object({
  'if-match': Type.Optional(
    Type.String({ description: 'The ETag read; a write against a changed one is a 412' }),
  ),
});

function actorOf(request: FastifyRequest): Actor {
  const principal = request.principal!;
  return {
    userId: principal.userId,
    username: principal.username,
    role: principal.role,
    groups: principal.groups,
  };
}

function ifMatchOf(request: FastifyRequest): string | undefined {
  const value = request.headers['if-match'];
  return Array.isArray(value) ? value.join(',') : value;
}

function sendJsonText(reply: FastifyReply, etag: string, body: string | Buffer) {
  return reply.header('etag', etag).type(JSON_TYPE).send(body);
}

export interface WorkspaceRouteOptions {
  service: WorkspacesService;
  cursors: () => CursorCodec;
  bodyLimit: number;
}

/** /preferences, /workspaces and /shared: a user's own layout, what they share and what is shared with them. */
export const workspaceRoutes: FastifyPluginAsyncTypebox<WorkspaceRouteOptions> = async (app, options) => {
  const { service, cursors, bodyLimit } = options;
  const rendered = new RenderedViews(RENDERED_VIEWS_BYTES);
  app.addContentTypeParser(
    'application/merge-patch+json',
    { parseAs: 'string', bodyLimit },
    app.getDefaultJsonParser('error', 'error'),
  );

  app.get(
    '/preferences',
    {
      schema: {
        tags,
        summary: 'Your preferences, your grants, and the workspaces shared with you (rebuilt on every read)',
        description:
          'ETag: `"<version>.<library tag>"`; send it as If-None-Match for a 304 when nothing changed.',
        response: { 200: Envelope(PreferencesData) },
        etag: true,
        answers: { 304: NOT_MODIFIED },
      },
    },
    async (request, reply) => {
      const actor = actorOf(request);
      const head = await service.head(actor);
      if (noneMatchHits(request.headers['if-none-match'], head.etag)) {
        // Without a payload: a 304 has no body, and so no Content-Length either.
        return (reply as FastifyReply).header('etag', head.etag).code(304).send();
      }
      // A library of hundreds of workspaces is hundreds of kilobytes of JSON: compressed, a tenth or less.
      reply.header('vary', 'accept-encoding');
      const coding = preferredCompression(request.headers['accept-encoding']);
      let etag = head.etag;
      let body = rendered.get(actor.userId, etag);
      if (!body) {
        const view = await service.view(actor, head);
        etag = view.etag;
        body = Buffer.from(preferencesBody(view));
        rendered.put(actor.userId, etag, body);
      }
      // Undefined when the body is not kept (too large, or replaced by a newer read meanwhile).
      const pending = coding && rendered.compressed(actor.userId, etag, coding);
      const compressed = pending instanceof Promise ? await pending : pending;
      if (coding && compressed)
        return sendJsonText(reply.header('content-encoding', coding), etag, compressed);
      return sendJsonText(reply, etag, body);
    },
  );

  app.patch(
    '/preferences',
    {
      bodyLimit,
      config: writes,
      schema: {
        tags,
        summary: 'Merge-patch your preferences (viewers: only currentWorkspace, theme and timeRange)',
        description:
          "If-Match compares your own document's version (the part of the ETag before the dot): changes to what others share with you never make your write a conflict.",
        headers: IF_MATCH,
        body: MergePatch,
        response: { 200: Envelope(PreferencesData) },
      },
    },
    async (request, reply) => {
      const view = await service.patch(actorOf(request), request.body, ifMatchOf(request));
      return sendJsonText(reply, view.etag, preferencesBody(view));
    },
  );

  app.get(
    '/preferences/summary',
    {
      schema: {
        tags,
        summary: 'Your workspace names, the current one, and counts',
        response: { 200: Envelope(Summary) },
      },
    },
    async (request) => ok(summaryItem(await service.summary(actorOf(request)))),
  );

  app.get(
    '/workspaces',
    {
      schema: {
        tags,
        summary: 'Your workspaces by name',
        querystring: PageQuery,
        response: { 200: PageEnvelope(WorkspaceItem) },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      return keysetPage({
        query: request.query,
        codec: cursors(),
        scope: `workspaces:${actor.userId}`,
        fetch: async (after, limit) => {
          const all = (await service.workspaces(actor)).sort((a, b) =>
            a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
          );
          const from = after === undefined ? 0 : all.findIndex((w) => w.name > String(after[0]));
          return from === -1 ? [] : all.slice(from, from + limit);
        },
        keyOf: (w) => [w.name],
        present: workspaceItem,
      });
    },
  );

  app.put(
    '/workspaces/current',
    {
      config: writes,
      schema: {
        tags,
        summary: 'Set the current workspace (viewers too)',
        body: SetCurrentBody,
        response: {
          200: Envelope(Type.Object({ current_workspace: Type.Union([Type.String(), Type.Null()]) })),
        },
      },
    },
    async (request) =>
      ok({ current_workspace: await service.setCurrent(actorOf(request), request.body.name) }),
  );

  app.get(
    '/workspaces/:name',
    {
      schema: {
        tags,
        summary: 'One of your workspaces, with its grants',
        params: NameParams,
        response: {
          200: Envelope(Type.Composite([WorkspaceItem, Type.Object({ workspace: WorkspaceContent })])),
        },
      },
    },
    async (request, reply) => {
      const found = await service.workspace(actorOf(request), request.params.name);
      reply.header('etag', found.workspace.etag);
      return ok({ ...workspaceItem(found), workspace: JSON.parse(found.workspace.json) });
    },
  );

  app.put(
    '/workspaces/:name',
    {
      bodyLimit,
      config: writes,
      schema: {
        tags,
        summary: 'Create or replace one of your workspaces (If-Match honoured)',
        params: NameParams,
        querystring: PutQuery,
        headers: IF_MATCH,
        body: WorkspaceContent,
        response: { 200: Envelope(WorkspaceItem), 201: Envelope(WorkspaceItem) },
      },
    },
    async (request, reply) => {
      const { created, workspace } = await service.putWorkspace(
        actorOf(request),
        request.params.name,
        request.body,
        {
          ifMatch: ifMatchOf(request),
          makeCurrent: request.query.make_current,
        },
      );
      reply.code(created ? 201 : 200).header('etag', workspace.workspace.etag);
      if (created) reply.header('location', `/api/v1/workspaces/${encodeURIComponent(workspace.name)}`);
      return ok(workspaceItem(workspace));
    },
  );

  app.delete(
    '/workspaces/:name',
    {
      config: writes,
      schema: {
        tags,
        summary: 'Delete one of your workspaces and its grants; `next` (or the first left) becomes current',
        params: NameParams,
        querystring: DeleteQuery,
        headers: IF_MATCH,
        response: {
          200: Envelope(Type.Object({ current_workspace: Type.Union([Type.String(), Type.Null()]) })),
        },
      },
    },
    async (request) => {
      const { currentWorkspace } = await service.deleteWorkspace(actorOf(request), request.params.name, {
        ifMatch: ifMatchOf(request),
        next: request.query.next,
      });
      return ok({ current_workspace: currentWorkspace });
    },
  );

  app.post(
    '/workspaces/:name/rename',
    {
      config: writes,
      schema: {
        tags,
        summary: 'Rename one of your workspaces; its grants and current status follow',
        params: NameParams,
        body: RenameBody,
        response: { 200: Envelope(WorkspaceItem) },
      },
    },
    async (request, reply) => {
      const renamed = await service.renameWorkspace(actorOf(request), request.params.name, request.body.name);
      reply.header('etag', renamed.workspace.etag);
      return ok(workspaceItem(renamed));
    },
  );

  app.get(
    '/workspaces/:name/grants',
    {
      schema: {
        tags,
        summary: 'Who one of your workspaces is shared with',
        params: NameParams,
        response: { 200: Envelope(Type.Array(Grant)) },
      },
    },
    async (request) => ok((await service.grants(actorOf(request), request.params.name)).map(grantItem)),
  );

  app.put(
    '/workspaces/:name/grants',
    {
      config: writes,
      schema: {
        tags,
        summary: 'Share one of your workspaces: the full list of grants (roles reach that role and above)',
        params: NameParams,
        body: GrantList,
        response: { 200: Envelope(Type.Array(Grant)) },
      },
    },
    async (request) =>
      ok(
        (
          await service.setGrants(actorOf(request), request.params.name, request.body, auditContext(request))
        ).map(grantItem),
      ),
  );

  app.get(
    '/shared/:owner/:name',
    {
      schema: {
        tags,
        summary: 'A workspace shared with you (404 alike when it does not exist or is not shared with you)',
        params: SharedParams,
        response: { 200: Envelope(SharedItem) },
      },
    },
    async (request, reply) => {
      const entry = await service.shared(actorOf(request), request.params.owner, request.params.name);
      return sendJsonText(reply, entry.workspace.etag, sharedBody(entry));
    },
  );

  app.patch(
    '/shared/:owner/:name',
    {
      bodyLimit,
      config: writes,
      schema: {
        tags,
        summary: 'Merge-patch the content of a workspace shared with you for editing (If-Match honoured)',
        params: SharedParams,
        headers: IF_MATCH,
        body: MergePatch,
        response: { 200: Envelope(SharedItem) },
      },
    },
    async (request, reply) => {
      const { owner, name } = request.params;
      const entry = await service.patchShared(
        actorOf(request),
        owner,
        name,
        request.body,
        ifMatchOf(request),
        auditContext(request),
      );
      return sendJsonText(reply, entry.workspace.etag, sharedBody(entry));
    },
  );

  // What only the owner may do: a grantee is told so (403), anyone else learns nothing (404).
  const ownerOnly = [
    ['DELETE', '/shared/:owner/:name', 'delete'],
    ['POST', '/shared/:owner/:name/rename', 'rename'],
    ['PUT', '/shared/:owner/:name/grants', 'share'],
  ] as const;
  for (const [method, url, what] of ownerOnly) {
    app.route({
      method,
      url,
      config: writes,
      schema: {
        tags,
        summary: `Refused: only the owner may ${what} a workspace`,
        params: SharedParams,
        // Never succeeds: a grantee is refused (403), anyone else told nothing is there (404).
        errors: [403, 404],
      },
      handler: async (request) => {
        const { owner, name } = request.params as { owner: string; name: string };
        return service.refuseOwnerOnly(actorOf(request), owner, name, what);
      },
    });
  }
};
