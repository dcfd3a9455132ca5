import type { WidgetRecord } from './store.js';

/** A registered bundle as the API and `switchboard widgets list --json` show it (its manifest left out). */
export const presentWidget = (w: WidgetRecord) => ({
  package: w.package,
  version: w.version,
  integrity: w.integrity,
  files: w.files,
  size: w.size,
  registered_by: w.registeredBy,
  registered_at: w.registeredAt,
});
