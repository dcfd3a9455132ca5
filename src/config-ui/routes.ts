import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { preferredCompression } from '../platform/accept-encoding.js';
import { noneMatchHits } from '../platform/conditional.js';
import { AppError, ErrorCode } from '../platform/problem.js';
import { PAGE_HEADERS } from './headers.js';
import type { ConfigUiPage, PageFile } from './load.js';
import { PREFIX, pageLocation, pagePath } from './paths.js';

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

/** A page read at start, where it is served, and what its paths answer when there is no file for them. */
export interface PageMount {
  /** Ends with a slash: `/config-ui/`. */
  readonly prefix: string;
  readonly page: ConfigUiPage;
  /** A path the build has no file for. */
  readonly noSuchFile: () => AppError;
  /** Any path, while the page is not built. */
  readonly notBuilt: () => AppError;
}

/**
 * Serves a built page at `prefix` from the table read at start (load.ts): the Config UI and the demo
 * dashboard (src/demo) alike, with one set of headers, caching and compression rules.
 */
export function servePage(app: FastifyInstance, mount: PageMount): void {
  const { prefix, page } = mount;
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!page.built) throw mount.notBuilt();
    const path = pagePath(request.url, prefix);
    const file = path === undefined ? undefined : page.files.get(path);
    if (!file) throw mount.noSuchFile();
    return send(request, reply, file);
  };
  app.get(prefix, { schema }, handler);
  app.get(`${prefix}*`, { schema }, handler);
}

/**
 * The Config UI at /config-ui/. No authentication: the page is the same for everyone, and the API it calls
 * decides what each caller may see and do.
 */
export const configUiRoutes: FastifyPluginAsync<{ page: ConfigUiPage }> = async (app, { page }) => {
  app.get('/config-ui', { schema }, async (request, reply) => reply.redirect(pageLocation(request.url), 308));
  servePage(app, { prefix: PREFIX, page, noSuchFile, notBuilt });
};
