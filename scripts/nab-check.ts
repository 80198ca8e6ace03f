/**
 * Scores detectors' published results with the TypeScript scorer, against the benchmark's own numbers:
 * `npm run eval:nab-check -- --data ../shared/datasets/nab` scores every detector under
 * `<data>/reference-results` and, file by file, compares with its `<detector>_<profile>_scores.csv`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { csvRows, readDetectorResults, readWindows } from '../src/eval/nab/corpus.js';
import { PROFILE_NAMES, scoreCorpus } from '../src/eval/nab/scorer.js';

const { values } = parseArgs({
  options: { data: { type: 'string' }, results: { type: 'string' } },
});
if (!values.data) {
  console.error('usage: npm run eval:nab-check -- --data DIR [--results DIR]');
  process.exit(2);
}
const resultsDir = values.results ?? join(values.data, 'reference-results');
const windows = await readWindows(join(values.data, 'labels', 'combined_windows.json'));
let mismatches = 0;
let compared = 0;
for (const detector of (await readdir(resultsDir)).sort()) {
  const result = scoreCorpus(await readDetectorResults(resultsDir, detector, windows));
  const line = PROFILE_NAMES.map((p) => result[p].normalised.toFixed(2)).join(' / ');
  console.log(`${detector}: ${line} (${PROFILE_NAMES.join(' / ')})`);
  for (const profile of PROFILE_NAMES) {
    let official: string;
    try {
      official = await readFile(
        join(resultsDir, detector, `${detector}_${profile}_scores.csv`),
        'utf8',
      );
    } catch {
      continue;
    }
    const ours = new Map(result[profile].files.map((f) => [f.name, f]));
    for (const row of csvRows(official).rows) {
      const [, , file, threshold, score, tp, tn, fp, fn] = row;
      if (file === '' || row[0] === 'Totals') {
        const diff = Math.abs(Number(row[4]) - result[profile].raw);
        if (diff > 1e-6) {
          mismatches++;
          console.log(`  ${profile} total: official ${row[4]}, ours ${result[profile].raw}`);
        }
        continue;
      }
      compared++;
      const f = ours.get(file!);
      const same =
        f &&
        Math.abs(f.score - Number(score)) < 1e-9 &&
        [f.tp, f.tn, f.fp, f.fn].join() === [tp, tn, fp, fn].join() &&
        Math.abs(result[profile].threshold - Number(threshold)) < 1e-9;
      if (!same) {
        mismatches++;
        console.log(`  ${profile} ${file}: official ${row.slice(3).join(',')}, ours`, f);
      }
    }
  }
}
console.log(
  mismatches === 0
    ? `${compared} per-file scores and counts match the official ones`
    : `${mismatches} mismatches of ${compared}`,
);
process.exit(mismatches === 0 ? 0 : 1);
