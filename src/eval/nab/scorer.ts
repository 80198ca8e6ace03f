/**
 * The Numenta Anomaly Benchmark's scoring, as its README describes it and its own scorer computes
 * it: anomaly windows worth a scaled sigmoid of how early they are detected, false positives costing
 * by their distance past the previous window, one threshold swept over the whole corpus per
 * profile, normalised between the detector that never fires and the perfect one. Pure functions.
 */

/** The cost weights of a scoring profile. */
export interface Profile {
  tpWeight: number;
  fnWeight: number;
  fpWeight: number;
}

export const PROFILES = {
  standard: { tpWeight: 1, fnWeight: 1, fpWeight: 0.11 },
  reward_low_FP_rate: { tpWeight: 1, fnWeight: 1, fpWeight: 0.22 },
  reward_low_FN_rate: { tpWeight: 1, fnWeight: 2, fpWeight: 0.11 },
} as const satisfies Record<string, Profile>;

export type ProfileName = keyof typeof PROFILES;
export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

/** One file to score: its rows' timestamps (ms), one score per row, its labelled windows. */
export interface ScoredFile {
  /** `category/file.csv`, as in the labels. */
  name: string;
  timestamps: readonly number[];
  scores: ArrayLike<number>;
  /** `[start, end]` timestamps (ms), both rows of the file, in time order. */
  windows: readonly (readonly [number, number])[];
}

/** The rows not scored at the start of a file of `n` rows: min(floor(0.15 n), 750). */
export function probationLength(n: number): number {
  return Math.min(Math.floor(0.15 * n), 750);
}

/** 2 / (1 + e^(5x)) - 1, and -1 from x = 3 on. */
export function scaledSigmoid(x: number): number {
  return x >= 3 ? -1 : 2 / (1 + Math.exp(5 * x)) - 1;
}

/**
 * A scored row: its anomaly score, the window it lies in (undefined outside every window) and its
 * unweighted worth: in a window S(position) / S(-1), in [0, 1]; outside, S(distance past the previous
 * window), in [-1, 0].
 */
export interface RowWorth {
  score: number;
  window: string | undefined;
  worth: number;
}

/**
 * The rows of a file past probation with their worth. A window runs from the row whose timestamp is
 * its start to the row whose timestamp is its end; its width and right edge are counted from the
 * first rows holding those timestamps (so repeated or backward timestamps score as the benchmark's
 * scorer scores them).
 */
export function rowWorths(file: ScoredFile): RowWorth[] {
  const { timestamps, scores } = file;
  if (timestamps.length !== scores.length)
    throw new Error(`${file.name}: ${timestamps.length} timestamps, ${scores.length} scores`);
  const pending = [...file.windows];
  const probation = probationLength(timestamps.length);
  const maxTp = scaledSigmoid(-1);
  const rows: RowWorth[] = [];
  let current: { name: string; end: number; right: number; width: number } | undefined;
  let previous: { right: number; width: number } | undefined;
  for (let i = 0; i < timestamps.length; i++) {
    const t = timestamps[i]!;
    if (pending.length > 0 && t === pending[0]![0]) {
      const [start, end] = pending.shift()!;
      const right = timestamps.indexOf(end);
      current = {
        name: `${file.name}|${start}`,
        end,
        right,
        width: right - timestamps.indexOf(start) + 1,
      };
    }
    let worth: number;
    if (current) worth = scaledSigmoid(-(current.right - i + 1) / current.width) / maxTp;
    else if (!previous) worth = scaledSigmoid(3);
    else worth = scaledSigmoid(Math.abs(previous.right - i) / (previous.width - 1));
    if (i >= probation) rows.push({ score: scores[i]!, window: current?.name, worth });
    if (current && t === current.end) {
      previous = { right: i, width: current.width };
      current = undefined;
    }
  }
  return rows;
}

/** The outcome of one threshold: the raw score and the row counts past probation. */
export interface ThresholdScore {
  threshold: number;
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
}

/**
 * Every threshold's score over `rows` (from one file or a whole corpus), highest threshold first:
 * 1.1 (no detection), then each distinct score, a row being a detection when its score is at least
 * the threshold. A window scores its best detection's worth × tpWeight, or -fnWeight without one; a
 * detection outside every window adds its worth × fpWeight.
 */
export function sweepThresholds(rows: readonly RowWorth[], profile: Profile): ThresholdScore[] {
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  const windows = new Map<string, number>();
  for (const r of sorted) if (r.window !== undefined) windows.set(r.window, -profile.fnWeight);
  let windowSum = -profile.fnWeight * windows.size;
  let fpSum = 0;
  let tp = 0;
  let fp = 0;
  const inWindows = sorted.filter((r) => r.window !== undefined).length;
  const outside = sorted.length - inWindows;
  const out: ThresholdScore[] = [];
  const record = (threshold: number) =>
    out.push({ threshold, score: windowSum + fpSum, tp, tn: outside - fp, fp, fn: inWindows - tp });
  let threshold = 1.1;
  for (const r of sorted) {
    if (r.score !== threshold) {
      record(threshold);
      threshold = r.score;
    }
    if (r.window === undefined) {
      fp++;
      fpSum += r.worth * profile.fpWeight;
    } else {
      tp++;
      const best = windows.get(r.window)!;
      const worth = r.worth * profile.tpWeight;
      if (worth > best) {
        windows.set(r.window, worth);
        windowSum += worth - best;
      }
    }
  }
  record(threshold);
  return out;
}

/** The score of `rows` with detections at scores ≥ `threshold`. */
export function scoreAtThreshold(
  rows: readonly RowWorth[],
  profile: Profile,
  threshold: number,
): ThresholdScore {
  const best = new Map<string, number>();
  let fpSum = 0;
  const counts = { tp: 0, tn: 0, fp: 0, fn: 0 };
  for (const r of rows) {
    const detected = r.score >= threshold;
    if (r.window === undefined) {
      if (detected) fpSum += r.worth * profile.fpWeight;
      counts[detected ? 'fp' : 'tn']++;
    } else {
      const worth = detected ? r.worth * profile.tpWeight : -profile.fnWeight;
      best.set(r.window, Math.max(best.get(r.window) ?? -profile.fnWeight, worth));
      counts[detected ? 'tp' : 'fn']++;
    }
  }
  let score = fpSum;
  for (const w of best.values()) score += w;
  return { threshold, score, ...counts };
}

/** The windows that count in `rows`: those with a row past probation. */
export function countWindows(rows: readonly RowWorth[]): number {
  return new Set(rows.filter((r) => r.window !== undefined).map((r) => r.window)).size;
}

/** 100 × (raw − null) / (perfect − null), null = −fnWeight and perfect = tpWeight per window. */
export function normalise(raw: number, windows: number, profile: Profile): number {
  const nul = -profile.fnWeight * windows;
  const perfect = profile.tpWeight * windows;
  return perfect === nul ? 0 : (100 * (raw - nul)) / (perfect - nul);
}

export interface FileResult {
  name: string;
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
  windows: number;
}

export interface ProfileResult {
  /** The threshold chosen for the whole corpus. */
  threshold: number;
  raw: number;
  normalised: number;
  windows: number;
  /** The normalised score of each category (the part of a name before `/`) at that threshold. */
  categories: Record<string, { raw: number; normalised: number; windows: number }>;
  files: FileResult[];
}

export type CorpusResult = Record<ProfileName, ProfileResult>;

/**
 * Scores a corpus per profile: the threshold that maximises the corpus score (the highest of equal
 * bests), then each file and category at that threshold.
 */
export function scoreCorpus(files: readonly ScoredFile[]): CorpusResult {
  const perFile = files.map((f) => ({ name: f.name, rows: rowWorths(f) }));
  const all = perFile.flatMap((f) => f.rows);
  const windows = countWindows(all);
  const result = {} as CorpusResult;
  for (const name of PROFILE_NAMES) {
    const profile = PROFILES[name];
    let best: ThresholdScore | undefined;
    for (const s of sweepThresholds(all, profile)) if (!best || s.score > best.score) best = s;
    const threshold = best!.threshold;
    const fileResults = perFile.map(({ name, rows }) => ({
      name,
      ...scoreAtThreshold(rows, profile, threshold),
      windows: countWindows(rows),
    }));
    const categories: ProfileResult['categories'] = {};
    for (const f of fileResults) {
      const c = (categories[f.name.split('/')[0]!] ??= { raw: 0, normalised: 0, windows: 0 });
      c.raw += f.score;
      c.windows += f.windows;
    }
    for (const c of Object.values(categories)) c.normalised = normalise(c.raw, c.windows, profile);
    result[name] = {
      threshold,
      raw: best!.score,
      normalised: normalise(best!.score, windows, profile),
      windows,
      categories,
      files: fileResults.map(({ threshold: _t, ...f }) => f),
    };
  }
  return result;
}
