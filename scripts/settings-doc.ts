/**
 * Writes the settings table of docs/configuration.md from the specs (`npm run docs:settings`);
 * test/settings-doc.test.ts fails while the two differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsDoc } from '../src/platform/settings-doc.js';
import { settingSpecs } from '../src/settings.js';

const path = new URL('../docs/configuration.md', import.meta.url);
const updated = withSettingsDoc(readFileSync(path, 'utf8'), settingSpecs);
if (updated === undefined) {
  process.stderr.write('docs/configuration.md: the settings markers are missing\n');
  process.exit(1);
}
writeFileSync(path, updated);
