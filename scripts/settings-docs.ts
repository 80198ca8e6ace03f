/**
 * Regenerates the settings tables of README.md from src/config/settings.ts: `npm run docs:settings`;
 * with `--check`, only says whether they are up to date (exit 1 when not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTables } from '../src/config/docs.js';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const generated = withSettingsTables(readme);
if (generated === readme) console.log('README.md: settings tables up to date');
else if (process.argv.includes('--check')) {
  console.error('README.md: settings tables out of date; run npm run docs:settings');
  process.exit(1);
} else {
  writeFileSync(file, generated);
  console.log('README.md: settings tables regenerated');
}
