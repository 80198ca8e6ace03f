import { groupIncidents, type Incident } from '../alerts/incidents.js';
import type { TrainingHistory } from '../model/index.js';
import { pca } from './pca.js';

/**
 * What a report shows, as plain JSON (it goes into the page as is): per stream, per window in seq
 * order, its time, last reading, the reconstruction of that reading, the one-step forecast of it,
 * the anomaly score, and the encoder vectors' 2-D projection; per model version its loss curve.
 */
export interface ReportData {
  title: string;
  /** Epoch ms the report was made. */
  generatedAt: number;
  /** Where the data came from, for the header: topic prefix, brokers, registry. */
  source: { topicPrefix: string; brokers: string; keyPrefix: string; labels?: string };
  /** The most windows kept per stream (--max-windows). */
  maxWindows: number;
  /** Messages that could not be read (not JSON, wrong shape), left out. */
  skipped: number;
  streams: StreamReport[];
  /** The shown windows' alerts grouped into incidents (SEQAE_INCIDENT_GAP), in the order they opened. */
  incidents?: Incident[];
}

/** Features drawn per stream (one signal panel each). */
export const MAX_FEATURES = 3;

export interface StreamReport {
  streamId: string;
  /** Features of the stream's readings (all of them, though at most MAX_FEATURES are drawn). */
  features: number;
  /** Windows the run left for this stream, and how many of the newest are shown. */
  windowsSeen: number;
  /** Window ends (epoch ms), oldest first; the x of every per-window series below. */
  t: number[];
  seq: number[];
  /** `signal[f][i]`: feature f of window i's last reading (null: its window message was not read). */
  signal: (number | null)[][];
  /** `reconstruction[f][i]`: the reconstruction of that reading. */
  reconstruction: (number | null)[][];
  /** One-step forecasts, each at the time of the reading it forecasts: `values[f][j]` at `t[j]`. */
  prediction: { t: number[]; values: number[][] };
  score: (number | null)[];
  /** Indices (into `t`) of the windows that were alerts. */
  alerts: number[];
  /** Per alert (as `alerts`): the check that fired and the feature that contributed most. */
  why?: { reason: string | null; feature: number | null; alertScore?: number }[];
  /** Model version that scored each window (null: not scored). */
  version: (number | null)[];
  /** Where a newer model version took over: [time, version], in time order. */
  switches: [number, number][];
  modelIds: string[];
  /** Encoder vectors projected on their top two principal components. */
  embedding?: {
    x: number[];
    y: number[];
    /** Index (into `t`) of each point's window. */
    index: number[];
    explained: number[];
    units: number;
  };
  /** Labelled anomaly windows, [start, end] epoch ms. */
  labels: [number, number][];
  /** One entry per model version kept in the registry. */
  losses: LossCurve[];
}

export interface LossCurve {
  modelId: string;
  version: number;
  createdAt: number;
  epochs: number;
  stoppedEarly: boolean;
  /** Training and held-out loss per epoch (empty when the version predates training history). */
  loss: number[];
  validation?: number[];
}

/** What was read about one window, from whichever topics had it. */
export interface WindowEntry {
  seq: number;
  end?: number;
  step?: number;
  last?: number[];
  reconstruction?: number[];
  prediction?: number[];
  embedding?: number[];
  score?: number;
  alert?: boolean;
  /** The anomaly output's `alertScore`. */
  alertScore?: number;
  /** The anomaly output's `reason`. */
  reason?: string | null;
  /** `featureErrors.top` of the anomaly output. */
  top?: number;
  modelId?: string;
  version?: number;
}

/** Model versions' training summaries, as the registry keeps them. */
export interface VersionSummary {
  modelId: string;
  version: number;
  createdAt: number;
  summary?: { epochs: number; stoppedEarly: boolean; history?: TrainingHistory };
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const round = (x: number) => Number(x.toPrecision(6));

/**
 * One stream's report from its windows' entries: the newest `maxWindows` windows (and the one before
 * them, whose forecast is of the first shown reading), its labels and its models' loss curves.
 */
export function streamReport(
  streamId: string,
  entries: Iterable<WindowEntry>,
  options: { maxWindows: number; labels?: [number, number][]; versions?: VersionSummary[] },
): StreamReport {
  const all = [...entries].filter((e) => e.end !== undefined).sort((a, b) => a.seq - b.seq);
  const shown = all.slice(-options.maxWindows);
  const features = Math.max(
    1,
    ...all.map((e) => e.last?.length ?? e.reconstruction?.length ?? e.prediction?.length ?? 0),
  );
  const drawn = Math.min(features, MAX_FEATURES);
  const cols = <T>(fill: (f: number) => T[]) => Array.from({ length: drawn }, (_, f) => fill(f));
  const at = (row: number[] | undefined, f: number) =>
    row?.[f] === undefined ? null : round(row[f]);

  // The step between readings: the windows' own, else the spacing of their ends.
  const gaps = all.slice(1).map((e, i) => (e.end! - all[i]!.end!) / (e.seq - all[i]!.seq));
  const step = median(all.flatMap((e) => (e.step ? [e.step] : []))) ?? median(gaps) ?? 0;
  const first = shown[0]?.seq ?? 0;
  const forecasts = all.filter((e) => e.prediction && e.seq + 1 >= first);
  const scored = shown.flatMap((e, i) => (e.embedding ? [{ e, i }] : []));
  const units = scored[0]?.e.embedding!.length ?? 0;
  const same = scored.filter(({ e }) => e.embedding!.length === units);
  const projection = same.length >= 2 ? pca(same.map(({ e }) => e.embedding!)) : undefined;

  return {
    streamId,
    features,
    windowsSeen: all.length,
    t: shown.map((e) => e.end!),
    seq: shown.map((e) => e.seq),
    signal: cols((f) => shown.map((e) => at(e.last, f))),
    reconstruction: cols((f) => shown.map((e) => at(e.reconstruction, f))),
    prediction: {
      t: forecasts.map((e) => e.end! + step),
      values: cols((f) => forecasts.map((e) => round(e.prediction![f] ?? NaN))),
    },
    score: shown.map((e) => (e.score === undefined ? null : round(e.score))),
    alerts: shown.flatMap((e, i) => (e.alert ? [i] : [])),
    why: shown.flatMap((e) =>
      e.alert
        ? [
            {
              reason: e.reason ?? null,
              feature: e.top ?? null,
              ...(e.alertScore !== undefined && { alertScore: round(e.alertScore) }),
            },
          ]
        : [],
    ),
    version: shown.map((e) => e.version ?? null),
    switches: switches(shown),
    modelIds: [...new Set(all.flatMap((e) => (e.modelId ? [e.modelId] : [])))].sort(),
    embedding: projection && {
      x: projection.points.map((p) => round(p[0] ?? 0)),
      y: projection.points.map((p) => round(p[1] ?? 0)),
      index: same.map(({ i }) => i),
      explained: projection.explained.map(round),
      units,
    },
    labels: options.labels ?? [],
    losses: (options.versions ?? []).map(lossCurve),
  };
}

/** The incidents of the streams' shown windows: alerts close in time are one, whatever the stream. */
export function reportIncidents(streams: readonly StreamReport[], gap: number): Incident[] {
  return groupIncidents(
    streams.flatMap((s) => {
      const alertAt = new Map(s.alerts.map((i, k) => [i, k]));
      return s.t.map((end, i) => {
        const k = alertAt.get(i) ?? -1;
        const why = k >= 0 ? s.why?.[k] : undefined;
        return {
          streamId: s.streamId,
          seq: s.seq[i]!,
          end,
          score: s.score[i] ?? 0,
          alert: k >= 0,
          reason: why?.reason ?? null,
          ...(why?.alertScore !== undefined && { alertScore: why.alertScore }),
          ...(why?.feature != null ? { featureErrors: { top: why.feature } } : {}),
        };
      });
    }),
    { gap },
  );
}

/** The windows (in seq order) whose model version differs from the previous scored one's. */
function switches(shown: readonly WindowEntry[]): [number, number][] {
  const out: [number, number][] = [];
  let last: number | undefined;
  for (const e of shown) {
    if (e.version === undefined) continue;
    if (last !== undefined && e.version !== last) out.push([e.end!, e.version]);
    last = e.version;
  }
  return out;
}

/** A version's loss curve from its training summary. */
export function lossCurve(v: VersionSummary): LossCurve {
  const h = v.summary?.history;
  return {
    modelId: v.modelId,
    version: v.version,
    createdAt: v.createdAt,
    epochs: v.summary?.epochs ?? 0,
    stoppedEarly: v.summary?.stoppedEarly ?? false,
    loss: h?.loss ?? [],
    ...(h?.validation ? { validation: h.validation.loss } : {}),
  };
}
