import type { FastifyPluginAsync } from 'fastify';
import type { ConfigUiPage } from '../config-ui/load.js';
import { servePage } from '../config-ui/routes.js';
import { AppError, ErrorCode } from '../platform/problem.js';

export const PREFIX = '/demo/';

const off = () =>
  new AppError(
    ErrorCode.unknownRoute,
    'the demo dashboard is off on this server: start it with SWITCHBOARD_DEMO=true (examples/dashboard/README.md)',
  );

const noSuchFile = () =>
  new AppError(ErrorCode.unknownRoute, 'the demo dashboard has no such file; it is one page, at /demo/');

const notBuilt = () =>
  new AppError(
    ErrorCode.unknownRoute,
    'the demo dashboard is not built on this server: build it with `npm run build`, then restart',
  );

/** Not operations of the API: /openapi.json leaves them out (docs/api.md lists them). */
const schema = { hide: true };

/**
 * The dashboard at /demo/, served as the Config UI is (src/config-ui/routes.ts). Its paths exist while the
 * demo is off too, answering 404 with the way to turn it on, so that its row in docs/api.md names a route
 * every server has.
 */
export const demoRoutes: FastifyPluginAsync<{ page: ConfigUiPage | undefined }> = async (app, { page }) => {
  if (page) {
    servePage(app, { prefix: PREFIX, page, noSuchFile, notBuilt });
    return;
  }
  const handler = async () => {
    throw off();
  };
  app.get(PREFIX, { schema }, handler);
  app.get(`${PREFIX}*`, { schema }, handler);
};
