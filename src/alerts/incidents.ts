/**
 * Alerts grouped into incidents: one anomaly that spans many windows of a stream, or hits many
 * streams at once, is one incident with its first window, last window and peak, not one line per
 * alerting window.
 */

/** What the grouping reads of a window's anomaly output (`seqae.anomalies`). */
export interface ScoredWindow {
  streamId: string;
  seq: number;
  /** The window's last reading's time, epoch ms. */
  end: number;
  score: number;
  alert: boolean;
  /** The alert's severity (the anomaly output's `alertScore`), when the scoring gives one. */
  alertScore?: number;
  /** The check that fired (`AlertReason`; any name a newer worker may send). */
  reason?: string | null;
  featureErrors?: { top: number };
}

export interface WindowRef {
  streamId: string;
  seq: number;
  end: number;
}

export interface Incident {
  /** 1, 2, … in the order incidents open. */
  id: number;
  /** The alerting windows with the earliest and the latest end. */
  first: WindowRef;
  last: WindowRef;
  /**
   * The alert with the highest severity (the first of equals): its `score` is that severity (the
   * window's `alertScore`, else its `score`), why it fired and its top feature.
   */
  peak: WindowRef & { score: number; reason: string | null; feature: number | null };
  /** The streams with alerts in it, in the order they joined. */
  streams: string[];
  /** Alerting windows in it. */
  windows: number;
}

export interface IncidentOptions {
  /**
   * Windows between alerts that still join one incident (SEQAE_INCIDENT_GAP): an alert joins an
   * incident when its stream's previous alert in it is at most `gap` windows (seqs) before, or when
   * it ends at most `gap` of its stream's steps after the incident's last alert (another stream).
   */
  gap: number;
}

/** Incidents an alert may still join (the newest): a stream alerting again after more is new. */
const MAX_OPEN = 64;

const ref = (w: ScoredWindow): WindowRef => ({ streamId: w.streamId, seq: w.seq, end: w.end });

/**
 * Groups windows as they come, in time order per stream (streams roughly in step). Every scored
 * window is given, not only alerts: a stream's step (ms between windows) is learnt from its
 * consecutive windows, to compare another stream's alert times in windows.
 */
export class IncidentGrouper {
  private readonly open: { incident: Incident; lastSeq: Map<string, number> }[] = [];
  private readonly steps = new Map<string, { seq: number; end: number; step: number }>();
  private next = 1;

  constructor(private readonly options: IncidentOptions) {}

  /** Takes one window; returns the incident it opened (else undefined: joined one, or no alert). */
  add(w: ScoredWindow): Incident | undefined {
    const step = this.learnStep(w);
    if (!w.alert) return undefined;
    const { gap } = this.options;
    // The newest incident first: an alert joins at most one.
    for (let i = this.open.length - 1; i >= 0; i--) {
      const o = this.open[i]!;
      const seqs = o.lastSeq.get(w.streamId);
      const sameStream = seqs !== undefined && w.seq >= seqs && w.seq - seqs <= gap;
      const sameTime =
        step > 0 &&
        Math.abs(w.end - o.incident.last.end) <= gap * step &&
        w.end >= o.incident.first.end - gap * step;
      if (sameStream || sameTime) {
        join(o.incident, w);
        o.lastSeq.set(w.streamId, Math.max(seqs ?? w.seq, w.seq));
        return undefined;
      }
    }
    const incident: Incident = {
      id: this.next++,
      first: ref(w),
      last: ref(w),
      peak: peakOf(w),
      streams: [w.streamId],
      windows: 1,
    };
    this.open.push({ incident, lastSeq: new Map([[w.streamId, w.seq]]) });
    if (this.open.length > MAX_OPEN) this.open.shift(); // bounds a long demo's memory
    return incident;
  }

  /** The open incident that holds the stream's alert at `seq`, if any. */
  of(streamId: string, seq: number): Incident | undefined {
    for (let i = this.open.length - 1; i >= 0; i--) {
      const o = this.open[i]!;
      if (o.lastSeq.get(streamId) === seq) return o.incident;
    }
    return undefined;
  }

  /** The stream's step (ms between consecutive windows), from its newest pair of windows; 0 unknown. */
  private learnStep(w: ScoredWindow): number {
    const before = this.steps.get(w.streamId);
    let step = before?.step ?? 0;
    if (before && w.seq > before.seq && w.end > before.end)
      step = (w.end - before.end) / (w.seq - before.seq);
    if (!before || w.seq > before.seq) this.steps.set(w.streamId, { seq: w.seq, end: w.end, step });
    return step;
  }
}

function peakOf(w: ScoredWindow): Incident['peak'] {
  return {
    ...ref(w),
    score: severity(w),
    reason: w.reason ?? null,
    feature: w.featureErrors?.top ?? null,
  };
}

function join(incident: Incident, w: ScoredWindow): void {
  incident.windows++;
  if (!incident.streams.includes(w.streamId)) incident.streams.push(w.streamId);
  if (w.end < incident.first.end) incident.first = ref(w);
  if (w.end >= incident.last.end) incident.last = ref(w);
  if (severity(w) > incident.peak.score) incident.peak = peakOf(w);
}

/** An alert's severity: its own alert score where the scoring gives one (see AnomalyFields). */
const severity = (w: ScoredWindow): number => w.alertScore ?? w.score;

/** The incidents of windows of any streams: sorted by end (then stream, seq), then grouped. */
export function groupIncidents(
  windows: readonly ScoredWindow[],
  options: IncidentOptions,
): Incident[] {
  const sorted = [...windows].sort(
    (a, b) =>
      a.end - b.end ||
      (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0) ||
      a.seq - b.seq,
  );
  const grouper = new IncidentGrouper(options);
  const out: Incident[] = [];
  for (const w of sorted) {
    const opened = grouper.add(w);
    if (opened) out.push(opened);
  }
  return out;
}
