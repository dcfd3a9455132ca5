import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { preferredCompression } from '../platform/accept-encoding.js';
import { noneMatchHits } from '../platform/conditional.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { PAGE_HEADERS } from './headers.js';
import type { ConfigUiPage, PageFile } from './load.js';
import { pageLocation, pagePath } from './paths.js';

/** Not operations of the API: /openapi.json leaves them out (docs/api.md lists them). */
const schema = { hide: true };

/** What an unknown path under /config-ui/ answers: the page never falls back to index.html. */
const noSuchFile = () =>
  new AppError(
    ErrorCode.unknownRoute,
    'the Config UI has no such file; its screens are addressed after the # of /config-ui/',
  );

/** What every path of the page answers on a server without the built page. */
const notBuilt = () =>
  new AppError(
    ErrorCode.unknownRoute,
    'the Config UI is not built on this server: build it with `npm run build`, or set SWITCHBOARD_CONFIG_UI_DIR to a built copy, then restart',
  );

/** A file of the page: 304 when the caller's copy is current, else its bytes in the best coding it takes. */
function send(request: FastifyRequest, reply: FastifyReply, file: PageFile) {
  reply.headers(PAGE_HEADERS).header('cache-control', file.cacheControl).header('etag', file.etag);
  const compressible = Object.keys(file.compressed).length > 0;
  if (compressible) reply.header('vary', 'accept-encoding');
  if (noneMatchHits(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
  const coding = compressible ? preferredCompression(request.headers['accept-encoding']) : undefined;
  const compressed = coding && file.compressed[coding];
  reply.type(file.contentType);
  if (coding && compressed) return reply.header('content-encoding', coding).send(compressed);
  return reply.send(file.body);
}

/**
 * The Config UI at /config-ui/, from the table read at start (load.ts). No authentication: the page is
 * the same for everyone, and the API it calls decides what each caller may see and do.
 */
export const configUiRoutes: FastifyPluginAsync<{ page: ConfigUiPage }> = async (app, { page }) => {
  app.get('/config-ui', { schema }, async (request, reply) => reply.redirect(pageLocation(request.url), 308));

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!page.built) throw notBuilt();
    const path = pagePath(request.url);
    const file = path === undefined ? undefined : page.files.get(path);
    if (!file) throw noSuchFile();
    return send(request, reply, file);
  };
  app.get('/config-ui/', { schema }, handler);
  app.get('/config-ui/*', { schema }, handler);
};
