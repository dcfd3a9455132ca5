import type { FastifyInstance } from 'fastify';
import { type ConfigUiPage, loadPage } from './load.js';
import { configUiRoutes } from './routes.js';
import type { ConfigUiSettings } from './settings.js';

/** The built page, read once (before anything else starts: a directory that cannot be served stops it). */
export function assembleConfigUi(settings: ConfigUiSettings): Promise<ConfigUiPage> {
  return loadPage(settings.dir);
}

/**
 * /config-ui at the root of the server, outside the API's scopes (no authentication, no cookies), and
 * one warning at start while the page is not built: its paths answer 404 until then.
 */
export async function registerConfigUi(server: FastifyInstance, page: ConfigUiPage): Promise<void> {
  if (!page.built) {
    const { dir, missing } = page;
    server.addHook('onReady', async () => {
      server.log.warn(
        { config_ui_dir: dir },
        `The Config UI is not built: ${dir} (SWITCHBOARD_CONFIG_UI_DIR) ${missing}; run \`npm run build\` and restart. Until then /config-ui/ answers 404`,
      );
    });
  }
  await server.register(configUiRoutes, { page });
}
