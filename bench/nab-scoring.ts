/**
 * Compares anomaly scorings on cached NAB errors in seconds: reads the per-row errors `bench/nab.ts`
 * cached under .cache/nab-errors/<source>/ (run it once per source first), replays each variant's
 * scoring over every file as the worker would (errors and value per row, in order), and prints the
 * three profiles, the categories' standard scores and the standard score of each half of the files
 * (even and odd index, each with its own threshold), so a change can be checked for generality.
 *   npx tsx bench/nab-scoring.ts --data ../shared/datasets/nab [--errors seqae] [--only name,name]
 *     [--try scoreHold=0.1 --try shortWindow=25,scoreHold=0.1 ...] [--files] [--explore] [--alerts]
 * With --alerts, each variant's alerts (alert score from 0.5) past each file's probation: labelled
 * windows with an alert in them (caught), alerts in a window and outside every window, and per
 * reason (NAB's windows are wide, a tenth of a file shared among its anomalies, so an alert inside
 * one is near a labelled anomaly); with --files, the same per file (reasons: of the alerts outside).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  LikelihoodScoring,
  type AnomalyScoring,
  type LikelihoodOptions,
  type WindowErrors,
} from '../src/anomaly/index.js';
import { CalibratedScoring, type CalibratedOptions } from './explore-scoring.js';
import { readCorpus } from '../src/eval/nab/corpus.js';
import { PROFILE_NAMES, scoreCorpus, type ScoredFile } from '../src/eval/nab/scorer.js';
import { tryOptions } from './try-options.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets/nab' },
    errors: { type: 'string', default: 'seqae' },
    only: { type: 'string' },
    files: { type: 'boolean', default: false },
    explore: { type: 'boolean', default: false },
    /** The alerts instead of the scores: windows caught, alerts inside and outside the windows. */
    alerts: { type: 'boolean', default: false },
    /** Extra LikelihoodScoring variants, `key=value,key=value` each (option names of LikelihoodOptions). */
    try: { type: 'string', multiple: true, default: [] },
  },
});

/** The variants compared: name → a fresh scoring (one per file, as one stream). */
const VARIANTS: Record<string, () => AnomalyScoring> = {
  likelihood: () => new LikelihoodScoring(),
};
const C = (o: Partial<CalibratedOptions>) => () => new CalibratedScoring(o);
const L = (o: Partial<LikelihoodOptions>) => () => new LikelihoodScoring(o);
Object.assign(VARIANTS, {
  'L short 10': L({ shortWindow: 10 }),
  'L short 40': L({ shortWindow: 40 }),
  'L rangeTail 1e-2': L({ rangeTail: 1e-2 }),
  'L coolDown 30': L({ coolDown: 30 }),
  'L warmup 50': L({ warmup: 50 }),
  'L warmup 100': L({ warmup: 100 }),
});

for (const t of values.try!) VARIANTS[t] = L(tryOptions(t));

/** The exploration's variants (bench/explore-scoring.ts), with --explore. */
if (values.explore)
  Object.assign(VARIANTS, {
    'x ew short': C({ short: 'ew' }),
    'x scales 5,20,80': C({ scales: [5, 20, 80] }),
    'x scales 1,20': C({ scales: [1, 20] }),
    'x empirical tail': C({ tail: 'empirical' }),
    'x quiet 100': C({ quiet: 100 }),
    'x value dev 9': C({ valueWindow: 9 }),
    'x value level': C({ valueLevel: true }),
    'x prediction only': C({ errors: 'prediction' }),
    'x spread 30 low': C({ spreadWindow: 30, spreadSide: 'low' }),
    'x spread 30 high': C({ spreadWindow: 30, spreadSide: 'high' }),
    'x spread 30 ew': C({ spreadWindow: 30, rangeQuiet: true, spreadEw: true }),
    'x spread 30 + level': C({ spreadWindow: 30, rangeQuiet: true, levelCheck: true }),
    'x spread 30 graded': C({ spreadWindow: 30, rangeQuiet: true, graded: true }),
  });

const corpus = await readCorpus(values.data!);
const cacheDir = join('.cache', 'nab-errors', values.errors!);
const errors = await Promise.all(
  corpus.map(
    async (f) =>
      JSON.parse(await readFile(join(cacheDir, f.name + '.json'), 'utf8')) as WindowErrors[],
  ),
);

const fmt = (x: number) => x.toFixed(2).padStart(6);
const only = values.only?.split(',');
for (const [name, make] of Object.entries(VARIANTS)) {
  if (only && !only.includes(name) && !values.try!.includes(name)) continue;
  if (values.alerts) {
    alertCounts(name, make);
    continue;
  }
  const scored: ScoredFile[] = corpus.map((f, i) => {
    const scoring = make();
    const e = errors[i]!;
    const scores = f.values.map((v, r) =>
      scoring.score(e[r] ?? {}, undefined, { streamId: f.name, value: v }),
    );
    return { name: f.name, timestamps: f.timestamps, scores, windows: f.windows };
  });
  const all = scoreCorpus(scored);
  const halves = [0, 1].map(
    (h) => scoreCorpus(scored.filter((_, i) => i % 2 === h)).standard.normalised,
  );
  const cats = Object.entries(all.standard.categories)
    .map(([c, v]) => `${c.replace(/^(real|artificial)/, '').slice(0, 6)} ${fmt(v.normalised)}`)
    .join(' ');
  console.log(
    `${name.padEnd(28)} ${PROFILE_NAMES.map((p) => fmt(all[p].normalised)).join(' ')} | ${cats} | halves ${halves.map(fmt).join(' ')} | θ ${all.standard.threshold.toFixed(3)}`,
  );
  if (values.files)
    for (const [i, f] of all.standard.files.entries()) {
      // The best score in each window and outside them (past probation): what a threshold separates.
      const sf = scored[i]!;
      const start = Math.min(Math.floor(0.15 * sf.scores.length), 750);
      const inside = sf.windows.map(([a, b]) => {
        let m = 0;
        for (let r = start; r < sf.scores.length; r++)
          if (sf.timestamps[r]! >= a && sf.timestamps[r]! <= b) m = Math.max(m, sf.scores[r]!);
        return m.toFixed(2);
      });
      let out = 0;
      for (let r = start; r < sf.scores.length; r++)
        if (!sf.windows.some(([a, b]) => sf.timestamps[r]! >= a && sf.timestamps[r]! <= b))
          out = Math.max(out, sf.scores[r]!);
      console.log(
        `  ${f.name.slice(0, 50).padEnd(50)} ${fmt(f.score)} tp ${String(f.tp).padStart(3)} fp ${String(f.fp).padStart(3)} | in ${inside.join(' ')} | out ${out.toFixed(2)}`,
      );
    }
}

/** A variant's alerts over the corpus, each file one stream scored from its first row. */
function alertCounts(name: string, make: () => AnomalyScoring): void {
  let inside = 0;
  let outside = 0;
  let caught = 0;
  let windows = 0;
  const reasons: Record<string, number> = {};
  for (const [i, f] of corpus.entries()) {
    const scoring = make();
    const e = errors[i]!;
    // NAB's probation: the first 15% of a file (at most 750 rows) is not scored.
    const probation = Math.min(Math.floor(0.15 * f.values.length), 750);
    const hit = new Set<number>();
    let fileIn = 0;
    let fileOut = 0;
    const outReasons: Record<string, number> = {};
    for (const [r, v] of f.values.entries()) {
      const score = scoring.score(e[r] ?? {}, undefined, { streamId: f.name, value: v });
      if (r < probation || (scoring.alertScoreOf?.(f.name) ?? score) < 0.5) continue;
      const reason = scoring.reasonOf?.(f.name) ?? 'none';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      const w = f.windows.findIndex(([a, b]) => f.timestamps[r]! >= a && f.timestamps[r]! <= b);
      if (w < 0) {
        outside++;
        fileOut++;
        outReasons[reason] = (outReasons[reason] ?? 0) + 1;
      } else {
        inside++;
        fileIn++;
        hit.add(w);
      }
    }
    windows += f.windows.length;
    caught += hit.size;
    if (values.files)
      console.log(
        `  ${f.name.slice(0, 50).padEnd(50)} caught ${hit.size}/${f.windows.length} in ${fileIn} out ${fileOut} ${JSON.stringify(outReasons)}`,
      );
  }
  console.log(
    `${name.padEnd(28)} caught ${caught} of ${windows} windows, ${inside} alerts inside, ${outside} outside | ${JSON.stringify(reasons)}`,
  );
}
