import { resolve } from 'node:path';
import { boolean, defineSection, type SectionSettings } from '../platform/settings-spec.js';

/**
 * The demo dashboard: off unless asked for. Its build lives beside the Config UI's (`npm run build` writes
 * both under dist/ui), so it needs no directory setting of its own.
 */
export const demoSettings = defineSection(
  {
    enabled: {
      env: 'SWITCHBOARD_DEMO',
      file: 'demo',
      default: 'false',
      ...boolean,
      doc: 'Serves the demo dashboard (`examples/dashboard`, built by `npm run build` into `dashboard` beside the Config UI, by default `dist/ui/dashboard`) at `/demo/`. Off: `/demo/` answers 404. How to feed it live data: `examples/dashboard/README.md`.',
    },
  },
  (values, context: { configUiDir: string }) => ({
    enabled: values.enabled,
    dir: resolve(context.configUiDir, '..', 'dashboard'),
  }),
);

export type DemoSettings = SectionSettings<typeof demoSettings>;
