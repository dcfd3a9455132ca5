import type { FastifyInstance } from 'fastify';
import { type ConfigUiPage, loadPage } from '../config-ui/load.js';
import { demoRoutes } from './routes.js';
import type { DemoSettings } from './settings.js';

/** The built dashboard, read once at start when the demo is on; nothing is read while it is off. */
export async function assembleDemo(settings: DemoSettings): Promise<ConfigUiPage | undefined> {
  if (!settings.enabled) return undefined;
  return loadPage(
    settings.dir,
    (dir, problem) =>
      `SWITCHBOARD_DEMO=true serves ${dir}, but ${problem}; run \`npm run build\`, which writes it beside the Config UI's build`,
  );
}

/**
 * /demo/ at the root of the server, outside the API's scopes, like the Config UI. While the demo is off its
 * paths answer a 404 that says how to turn it on; on and not built, one warning at start.
 */
export async function registerDemo(server: FastifyInstance, page: ConfigUiPage | undefined): Promise<void> {
  if (page && !page.built) {
    const { dir, missing } = page;
    server.addHook('onReady', async () => {
      server.log.warn(
        { demo_dir: dir },
        `The demo dashboard is not built: ${dir} ${missing}; run \`npm run build\` and restart. Until then /demo/ answers 404`,
      );
    });
  }
  await server.register(demoRoutes, { page });
}
