import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Detector, FileDetector, FileStep } from '../detector.js';
import { resultsCsv, resultsPath, type NabFile } from './corpus.js';
import { PROFILE_NAMES, probationLength, scoreCorpus, type ProfileName } from './scorer.js';

/** `OUT/summary.json`: the normalised score of each profile, overall and per category. */
export type NabSummary = {
  detector: string;
  files: number;
  seconds: number;
} & Record<
  ProfileName,
  { score: number; raw: number; threshold: number; categories: Record<string, number> }
>;

export interface FileProgress {
  index: number;
  total: number;
  name: string;
  rows: number;
  seconds: number;
}

/** What a file detector does with the file in hand (`index` of `total`). */
export interface FileActivity {
  index: number;
  total: number;
  name: string;
  step: FileStep;
}

/**
 * Runs `detector` over every file as one stream (one score per row, every row, in file order), writes
 * the benchmark's results layout under `out` (`<detector>/<category>/<detector>_<file>.csv`) and
 * `out/summary.json`, and returns the summary.
 */
export async function evaluateNab(
  files: readonly NabFile[],
  detector: Detector | FileDetector,
  out: string,
  onFile?: (progress: FileProgress) => void,
  onStep?: (activity: FileActivity) => void,
): Promise<NabSummary> {
  const started = performance.now();
  const scored = [];
  for (const [index, file] of files.entries()) {
    const t0 = performance.now();
    const info = {
      name: file.name,
      length: file.values.length,
      min: Math.min(...file.values),
      max: Math.max(...file.values),
      probation: probationLength(file.values.length),
    };
    let scores: Float64Array;
    if ('scoreFile' in detector) {
      scores = await detector.scoreFile(file, info, (step) =>
        onStep?.({ step, index, total: files.length, name: file.name }),
      );
      if (scores.length !== file.values.length)
        throw new Error(`${file.name}: ${scores.length} scores for ${file.values.length} rows`);
    } else {
      const stream = await detector.open(info);
      scores = new Float64Array(file.values.length);
      try {
        for (let i = 0; i < file.values.length; i++) scores[i] = await stream.next(file.values[i]!);
      } finally {
        stream.close?.();
      }
    }
    const path = join(out, resultsPath(detector.name, file.name));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, resultsCsv(file, scores));
    scored.push({ name: file.name, timestamps: file.timestamps, scores, windows: file.windows });
    const seconds = (performance.now() - t0) / 1000;
    onFile?.({ index, total: files.length, name: file.name, rows: file.values.length, seconds });
  }
  const result = scoreCorpus(scored);
  const summary = {
    detector: detector.name,
    files: files.length,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  } as NabSummary;
  for (const p of PROFILE_NAMES) {
    const r = result[p];
    summary[p] = {
      score: round2(r.normalised),
      raw: r.raw,
      threshold: r.threshold,
      categories: Object.fromEntries(
        Object.entries(r.categories).map(([c, v]) => [c, round2(v.normalised)]),
      ),
    };
  }
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
