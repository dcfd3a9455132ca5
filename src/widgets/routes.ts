import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { auditContext } from '../auth/request.js';
import { noneMatchHits } from '../platform/conditional.js';
import { ok } from '../platform/envelope.js';
import { NO_CONTENT, NOT_MODIFIED } from '../platform/openapi-answers.js';
import { Envelope } from '../platform/pagination.js';
import { notFound } from '../platform/problem.js';
import { presentWidget } from './present.js';
import type { WidgetsService } from './service.js';

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
    async () => ok((await service.list()).map((w) => ({ ...presentWidget(w), cached: w.cached }))),
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
      return ok(presentWidget(widget));
    },
  );

  app.delete(
    '/*',
    {
      config: admins,
      schema: {
        tags,
        summary: 'Remove a widget bundle, its files and its registration: /widgets/{package}/{version}',
        description: 'The package as written, @scope/name, its slash also percent-encoded (@scope%2Fname).',
        errors: [404],
        answers: { 204: NO_CONTENT },
      },
    },
    async (request, reply) => {
      const address = bundleAddress(String((request.params as { '*': string })['*'] ?? ''));
      if (!address || address.path !== '') throw notFound('widget');
      await service.remove(address.pkg, address.version, auditContext(request));
      return reply.code(204).send();
    },
  );
};

/**
 * The bundle a URL names, and the file in it: `@scope/name/version/path…`, or `@scope%2Fname/version/…`;
 * the path is empty when the URL ends at the version. The path stays as sent (still encoded): the service
 * decodes it once and refuses any way out of the bundle.
 */
export function bundleAddress(rest: string): { pkg: string; version: string; path: string } | undefined {
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
  if (version === undefined || version === '') return undefined;
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
        etag: true,
        errors: [404],
        answers: {
          200: {
            description: 'The file, with the type its name implies',
            content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
          },
          304: NOT_MODIFIED,
        },
      },
    },
    async (request, reply) => {
      const raw =
        request.url.slice(request.url.indexOf('/widget-assets/') + '/widget-assets/'.length).split('?')[0] ??
        '';
      const address = bundleAddress(raw);
      const file = address && (await service.file(address.pkg, address.version, address.path));
      if (!file) throw notFound('widget file');
      reply
        .header('etag', file.etag)
        .header('cache-control', IMMUTABLE)
        .header('content-security-policy', ASSET_CSP);
      // Decided before a byte is read: the ETag is the digest kept when the bundle was approved.
      if (noneMatchHits(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
      const asset = await file.read();
      return reply.type(asset.contentType).send(asset.body);
    },
  );
};
