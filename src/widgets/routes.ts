import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { auditContext } from '../auth/request.js';
import { ok } from '../platform/envelope.js';
import { Envelope } from '../platform/pagination.js';
import { notFound } from '../platform/problem.js';
import type { WidgetsService } from './service.js';
import type { WidgetRecord } from './store.js';

const tags = ['widgets'];
const admins = { access: { rule: { minRole: 'admin' as const } } };

const Widget = Type.Object({
  package: Type.String(),
  version: Type.String(),
  integrity: Type.String({ description: "The registry's dist.integrity (sha512 Subresource Integrity)" }),
  files: Type.Integer(),
  size: Type.Integer({ description: 'Unpacked bytes' }),
  registered_by: Type.Union([Type.String(), Type.Null()]),
  registered_at: Type.String({ format: 'date-time' }),
});
const ListedWidget = Type.Composite([Widget, Type.Object({ cached: Type.Boolean() })]);

const present = (w: WidgetRecord) => ({
  package: w.package,
  version: w.version,
  integrity: w.integrity,
  files: w.files,
  size: w.size,
  registered_by: w.registeredBy,
  registered_at: w.registeredAt,
});

/** A bundle's files are the same bytes for good: cached by the browser for a year, private to the caller. */
const IMMUTABLE = 'private, max-age=31536000, immutable';
/** Opened on its own, a widget file is a sandboxed document with an opaque origin: it can reach nothing here. */
const ASSET_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** /widgets under the API: list, register, remove (docs/widgets.md). */
export const widgetRoutes: FastifyPluginAsyncTypebox<{ service: WidgetsService }> = async (
  app,
  { service },
) => {
  app.get(
    '',
    {
      schema: {
        tags,
        summary: 'Registered widget bundles',
        response: { 200: Envelope(Type.Array(ListedWidget)) },
      },
    },
    async () => ok((await service.list()).map((w) => ({ ...present(w), cached: w.cached }))),
  );

  app.post(
    '',
    {
      config: { ...admins, rateLimit: { operations: ['widgets.register'], concurrency: 'widgets.register' } },
      schema: {
        tags,
        summary:
          'Register a widget bundle: fetched, verified and unpacked (201; 200 when registered already)',
        body: Type.Object(
          {
            package: Type.String({ minLength: 1, maxLength: 214 }),
            version: Type.String({ minLength: 1, maxLength: 64 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Envelope(Widget), 201: Envelope(Widget) },
      },
    },
    async (request, reply) => {
      const { widget, created } = await service.register(
        request.body.package,
        request.body.version,
        auditContext(request),
      );
      reply.code(created ? 201 : 200);
      return ok(present(widget));
    },
  );

  const remove = async (
    pkg: string,
    version: string,
    request: Parameters<typeof auditContext>[0],
    reply: FastifyReply,
  ) => {
    await service.remove(pkg, version, auditContext(request));
    return reply.code(204).send();
  };
  app.delete(
    '/:scope/:name/:version',
    {
      config: admins,
      schema: {
        tags,
        summary: 'Remove a widget bundle: its files and its registration',
        params: Type.Object({
          scope: Type.String({ pattern: '^@' }),
          name: Type.String(),
          version: Type.String(),
        }),
      },
    },
    async (request, reply) =>
      remove(`${request.params.scope}/${request.params.name}`, request.params.version, request, reply),
  );
  app.delete(
    '/:package/:version',
    {
      config: admins,
      schema: {
        tags,
        summary: 'Remove a widget bundle, its name with the slash percent-encoded (@scope%2Fname)',
        params: Type.Object({ package: Type.String(), version: Type.String() }),
      },
    },
    async (request, reply) => remove(request.params.package, request.params.version, request, reply),
  );
};

/**
 * Where a bundle file's URL names it: `@scope/name/version/path…`, or `@scope%2Fname/version/path…`. The
 * path stays as sent (still encoded): the service decodes it once and refuses any way out of the bundle.
 */
export function assetAddress(rest: string): { pkg: string; version: string; path: string } | undefined {
  const parts = rest.split('/');
  let pkg: string;
  const first = parts.shift() ?? '';
  let decodedFirst: string;
  try {
    decodedFirst = decodeURIComponent(first);
  } catch {
    return undefined;
  }
  if (decodedFirst.includes('/')) pkg = decodedFirst;
  else {
    const name = parts.shift();
    if (name === undefined) return undefined;
    pkg = `${decodedFirst}/${name}`;
  }
  const version = parts.shift();
  if (version === undefined || parts.length === 0) return undefined;
  return { pkg, version, path: parts.join('/') };
}

/** GET /widget-assets/… for whoever is signed in (docs/widgets.md says how a front end loads them). */
export const widgetAssetRoutes: FastifyPluginAsyncTypebox<{ service: WidgetsService }> = async (
  app,
  { service },
) => {
  app.get(
    '/*',
    {
      schema: {
        tags,
        summary: 'A file of a registered widget bundle: /widget-assets/{package}/{version}/{path}',
      },
    },
    async (request, reply) => {
      const raw =
        request.url.slice(request.url.indexOf('/widget-assets/') + '/widget-assets/'.length).split('?')[0] ??
        '';
      const address = assetAddress(raw);
      const asset = address && (await service.asset(address.pkg, address.version, address.path));
      if (!asset) throw notFound('widget file');
      reply
        .header('etag', asset.etag)
        .header('cache-control', IMMUTABLE)
        .header('content-security-policy', ASSET_CSP);
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.type(asset.contentType).send(asset.body);
    },
  );
};
