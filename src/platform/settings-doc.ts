import type { SettingSpec } from './settings-spec.js';

/** Where the generated part of docs/configuration.md begins and ends. */
export const DOC_START =
  '<!-- settings: generated from the specs by `npm run docs:settings`; do not edit by hand -->';
export const DOC_END = '<!-- end of settings -->';

// `accepts` is plain text (it ends error messages too), so what Markdown would read as markup is escaped.
const plain = (text: string) => text.replace(/[\\`*_<>|]/g, (c) => `\\${c}`);

const defaultCell = (spec: SettingSpec) =>
  spec.default === undefined ? '(unset)' : spec.default === '' ? '(empty)' : `\`${spec.default}\``;

/** The secrets sentence and the table of every setting, between the markers. */
export function settingsDoc(specs: readonly SettingSpec[]): string {
  const secrets = specs.filter((spec) => spec.secret).map((spec) => `\`${spec.env}\``);
  return [
    DOC_START,
    '',
    `Secrets are never shown, in messages, logs or \`switchboard settings\`: ${secrets.join(', ')}.`,
    '',
    '| variable | file key | default | accepts | meaning |',
    '|---|---|---|---|---|',
    ...specs.map(
      (spec) =>
        `| \`${spec.env}\` | \`${spec.file}\` | ${defaultCell(spec)} | ${plain(spec.accepts)} | ${spec.doc.replace(/\|/g, '\\|')} |`,
    ),
    '',
    DOC_END,
  ].join('\n');
}

/** The document with its generated part replaced; undefined when the markers are missing. */
export function withSettingsDoc(markdown: string, specs: readonly SettingSpec[]): string | undefined {
  const start = markdown.indexOf(DOC_START);
  const end = markdown.indexOf(DOC_END);
  if (start < 0 || end < start) return undefined;
  return markdown.slice(0, start) + settingsDoc(specs) + markdown.slice(end + DOC_END.length);
}
