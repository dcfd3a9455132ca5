import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineSection, type SectionSettings, text } from '../platform/settings-spec.js';

/**
 * Where the package's own build of the page is: this module is two levels below the package root both as
 * source (src/config-ui/settings.ts, run by tsx or vitest) and built (dist/config-ui/settings.js).
 */
export const BUILT_PAGE_DIR = fileURLToPath(new URL('../../dist/ui/config-ui', import.meta.url));

/** The Config UI: the directory of its built page. */
export const configUiSettings = defineSection(
  {
    dir: {
      env: 'SWITCHBOARD_CONFIG_UI_DIR',
      file: 'config_ui_dir',
      ...text('a directory path'),
      doc: 'The built Config UI (`npm run build` writes it), read once at start and served at `/config-ui/`. Unset: `dist/ui/config-ui` of the installed package. Without its `index.html` the page answers 404 and the log warns at start.',
    },
  },
  (values) => ({ dir: resolve(values.dir ?? BUILT_PAGE_DIR) }),
);

export type ConfigUiSettings = SectionSettings<typeof configUiSettings>;
