/**
 * Compares two `seqae eval nab` results directories (say in-process and --via kafka) on the files both
 * have: each file's largest per-row score difference and rows differing by more than 1e-3, and the
 * three profile scores of each on those files alone (so a partial run can be compared).
 *   npx tsx bench/nab-compare.ts --data ../shared/datasets/nab --a OUT1 --b OUT2 [--detector seqae]
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readResults, readWindows, resultsPath } from '../src/eval/nab/corpus.js';
import { PROFILE_NAMES, scoreCorpus } from '../src/eval/nab/scorer.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    a: { type: 'string' },
    b: { type: 'string' },
    detector: { type: 'string', default: 'seqae' },
  },
});
if (!values.data || !values.a || !values.b) {
  console.error('usage: bench/nab-compare.ts --data DIR --a OUT1 --b OUT2 [--detector NAME]');
  process.exit(2);
}
const windows = await readWindows(join(values.data, 'labels', 'combined_windows.json'));
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const a = [];
const b = [];
for (const [name, ws] of [...windows].sort(([x], [y]) => (x < y ? -1 : 1))) {
  const pa = join(values.a, resultsPath(values.detector!, name));
  const pb = join(values.b, resultsPath(values.detector!, name));
  if (!(await exists(pa)) || !(await exists(pb))) continue;
  const ra = await readResults(pa);
  const rb = await readResults(pb);
  let max = 0;
  let over = 0;
  for (let i = 0; i < ra.scores.length; i++) {
    const d = Math.abs(ra.scores[i]! - (rb.scores[i] ?? NaN));
    if (!(d <= max)) max = d;
    if (!(d <= 1e-3)) over++;
  }
  console.log(
    `${name}: ${ra.scores.length}/${rb.scores.length} rows, max |a-b| ${max}, ${over} over 1e-3`,
  );
  a.push({ name, ...ra, windows: ws });
  b.push({ name, ...rb, windows: ws });
}
const sa = scoreCorpus(a);
const sb = scoreCorpus(b);
console.log(`${a.length} files in both`);
for (const p of PROFILE_NAMES)
  console.log(`${p}: a ${sa[p].normalised.toFixed(2)}, b ${sb[p].normalised.toFixed(2)}`);
