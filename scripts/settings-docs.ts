/**
 * Regenerates the settings tables of docs/settings.md from src/config/settings.ts:
 * `npm run docs:settings`; with `--check`, only says whether they are up to date (exit 1 when not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTables } from '../src/config/docs.js';

const file = new URL('../docs/settings.md', import.meta.url);
const doc = readFileSync(file, 'utf8');
const generated = withSettingsTables(doc);
if (generated === doc) console.log('docs/settings.md: settings tables up to date');
else if (process.argv.includes('--check')) {
  console.error('docs/settings.md: settings tables out of date; run npm run docs:settings');
  process.exit(1);
} else {
  writeFileSync(file, generated);
  console.log('docs/settings.md: settings tables regenerated');
}
