/**
 * The demo's state of each stream, from what it hears (windows arriving, training jobs, scores):
 * pure, events in, rows and notices out, so the view and its tests need no services.
 *
 * A stream is `warming up` from its first window until its first training job appears, `training`
 * until its first score, then `scoring` (later retrainings show in its row, not as a change).
 */

import { IncidentGrouper } from '../alerts/incidents.js';

export type StreamState = 'warming up' | 'training' | 'scoring';

/** What the demo hears; `at` is the demo's clock (epoch ms) when it heard it. */
export type DemoEvent =
  | { type: 'window'; streamId: string; seq: number; at: number }
  | { type: 'train-queued'; streamId: string; version: number; at: number }
  | { type: 'train-active'; streamId: string; version: number; at: number }
  | {
      type: 'train-progress';
      streamId: string;
      version: number;
      epoch: number;
      epochs: number;
      loss: number;
      at: number;
    }
  | { type: 'train-done'; streamId: string; version: number; at: number }
  | { type: 'train-failed'; streamId: string; version: number; reason: string; at: number }
  | {
      type: 'score';
      streamId: string;
      seq: number;
      score: number;
      alert: boolean;
      /** The alert's own severity (the anomaly output's `alertScore`), when sent. */
      alertScore?: number;
      version: number;
      at: number;
      /** The window's end (epoch ms), the check that fired and the top feature, when sent. */
      end?: number;
      reason?: string | null;
      feature?: number;
    };

/** Readings `index … index + length - 1` of a stream carry an injected anomaly. */
export interface InjectedAnomaly {
  streamId: string;
  index: number;
  length: number;
}

export interface TrainingInfo {
  version: number;
  phase: 'queued' | 'running' | 'done' | 'failed';
  epoch?: number;
  epochs?: number;
  loss?: number;
  reason?: string;
}

/** What a stream's row shows besides its counters (those of Stream, below). */
export interface StreamRow extends Omit<
  Stream,
  'id' | 'firstAt' | 'arrivals' | 'trainings' | 'alertSeqs'
> {
  streamId: string;
  /** The id without the run's prefix (`sensor-7`). */
  name: string;
  state: StreamState;
  /** Windows a second arriving, over the last `rateWindowMs`. */
  windowsPerSec: number;
  injected: boolean;
  /** Why the stream's last alert fired, and its top feature. */
  lastAlert?: { reason: string | null; feature: number | null };
}

/** What changed with an event: the lines of a plain log. */
export type Notice =
  | {
      kind: 'state';
      streamId: string;
      name: string;
      from?: StreamState;
      to: StreamState;
      detail: string;
    }
  | {
      kind: 'alert';
      streamId: string;
      name: string;
      seq: number;
      score: number;
      /** The injected anomaly in the window, if any (its first reading's index). */
      injectedAt?: number;
    }
  | { kind: 'train-failed'; streamId: string; name: string; reason: string }
  | {
      kind: 'incident';
      streamId: string;
      name: string;
      /** The incident's number (1, 2, … in the order they opened). */
      id: number;
      /** This alert: the one that opened the incident, or an injected anomaly's that joined it. */
      seq: number;
      score: number;
      /** This alert's severity (`alertScore`), when the worker sent one. */
      alertScore?: number;
      reason: string | null;
      feature: number | null;
      joined: boolean;
      /** The injected anomaly in the alert's window (its first reading's index). */
      injectedAt?: number;
    };

export interface Totals {
  /**
   * Injected anomalies whose catch window (its start to `CATCH_WITHIN` windows after) the stream's
   * scores covered, and those of them with an alert in it.
   */
  injected: number;
  caught: number;
  /** The injected anomalies counted but not caught, as `streamId at index`. */
  missed: string[];
  streams: number;
  byState: Record<StreamState, number>;
  windows: number;
  windowsPerSec: number;
  scored: number;
  alerts: number;
  alertsOnInjected: number;
  trainings: number;
}

export interface TrackerOptions {
  /** The run's stream id prefix, left out of the names shown. */
  prefix: string;
  /** Readings per window (nIn): a window ending at `seq` holds readings seq - window + 1 … seq. */
  window: number;
  /** Span of the windows/s figure, ms. Default 5000. */
  rateWindowMs?: number;
  /** Where injected anomalies are, per stream id, in increasing index; may grow (see `inject`). */
  injected?: readonly InjectedAnomaly[];
  /** Windows between alerts of one incident (SEQAE_INCIDENT_GAP). Default 30. */
  incidentGap?: number;
}

/** An injected anomaly counts as caught by an alert at or after its start, within this many windows. */
export const CATCH_WITHIN = 10;

interface Stream {
  id: string;
  /** The first and last seq scored, and the seqs of its alerts. */
  firstScored?: number;
  lastScored?: number;
  alertSeqs: number[];
  windows: number;
  firstAt: number;
  arrivals: number[];
  training?: TrainingInfo;
  trainings: number;
  /** The newest model version that scored. */
  version?: number;
  scored: number;
  score?: number;
  alert: boolean;
  alerts: number;
  /** Alerts on windows holding an injected anomaly. */
  alertsOnInjected: number;
  lastAlert?: StreamRow['lastAlert'];
}

export class DemoTracker {
  private readonly streams = new Map<string, Stream>();
  private readonly injected = new Map<string, InjectedAnomaly[]>();
  private readonly rateWindowMs: number;
  private readonly incidents: IncidentGrouper;
  /** Incidents already said to hold an injected anomaly. */
  private readonly injectedSaid = new Set<number>();

  constructor(private readonly options: TrackerOptions) {
    this.rateWindowMs = options.rateWindowMs ?? 5000;
    this.incidents = new IncidentGrouper({ gap: options.incidentGap ?? 30 });
    this.inject(options.injected ?? []);
  }

  /** Adds known anomaly positions (an endless fleet's next block, say). */
  inject(anomalies: readonly InjectedAnomaly[]): void {
    for (const a of anomalies) {
      let list = this.injected.get(a.streamId);
      if (!list) this.injected.set(a.streamId, (list = []));
      list.push(a);
    }
  }

  /** Applies an event; returns what changed that a plain log should say. Events of other runs are ignored. */
  apply(event: DemoEvent): Notice[] {
    if (!event.streamId.startsWith(this.options.prefix)) return [];
    const known = this.streams.get(event.streamId);
    const before = known && stateOf(known);
    const s = known ?? this.stream(event.streamId, event.at);
    const notices: Notice[] = [];
    switch (event.type) {
      case 'window':
        s.windows++;
        s.arrivals.push(event.at);
        if (s.arrivals.length > 4096) s.arrivals.splice(0, s.arrivals.length - 4096);
        break;
      case 'train-queued':
        if (!s.training || s.training.version < event.version)
          s.training = { version: event.version, phase: 'queued' };
        break;
      case 'train-active':
        if (!s.training || s.training.version <= event.version) {
          if (s.training?.version !== event.version || s.training.phase !== 'running')
            s.trainings++;
          s.training = { ...s.training, version: event.version, phase: 'running' };
        }
        break;
      case 'train-progress':
        if (!s.training || s.training.version <= event.version) {
          if (s.training?.version !== event.version) s.trainings++;
          s.training = {
            version: event.version,
            phase: 'running',
            epoch: event.epoch,
            epochs: event.epochs,
            loss: event.loss,
          };
        }
        break;
      case 'train-done':
        if (s.training?.version === event.version) s.training = { ...s.training, phase: 'done' };
        else if (!s.training || s.training.version < event.version)
          s.training = { version: event.version, phase: 'done' };
        break;
      case 'train-failed':
        s.training = { version: event.version, phase: 'failed', reason: event.reason };
        notices.push({
          kind: 'train-failed',
          streamId: s.id,
          name: this.name(s.id),
          reason: event.reason,
        });
        break;
      case 'score': {
        s.scored++;
        s.firstScored = Math.min(s.firstScored ?? event.seq, event.seq);
        s.lastScored = Math.max(s.lastScored ?? event.seq, event.seq);
        s.score = event.score;
        s.alert = event.alert;
        s.version = Math.max(s.version ?? 0, event.version);
        if (event.alert) {
          s.alerts++;
          s.alertSeqs.push(event.seq);
          const hit = this.injectedIn(s.id, event.seq);
          if (hit !== undefined) s.alertsOnInjected++;
          notices.push({
            kind: 'alert',
            streamId: s.id,
            name: this.name(s.id),
            seq: event.seq,
            score: event.score,
            ...(hit !== undefined ? { injectedAt: hit } : {}),
          });
        }
        break;
      }
    }
    if (event.type === 'score') notices.push(...this.incident(s, event));
    const after = stateOf(s);
    if (after !== before)
      notices.unshift({
        kind: 'state',
        streamId: s.id,
        name: this.name(s.id),
        ...(before ? { from: before } : {}),
        to: after,
        detail: this.detail(s),
      });
    return notices;
  }

  /** One row per stream, in stream order (`sensor-2` before `sensor-10`). */
  rows(now: number): StreamRow[] {
    return [...this.streams.values()]
      .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))
      .map((s) => ({
        streamId: s.id,
        name: this.name(s.id),
        state: stateOf(s),
        windows: s.windows,
        windowsPerSec: this.rate(s, now),
        ...(s.training ? { training: { ...s.training } } : {}),
        ...(s.version !== undefined ? { version: s.version } : {}),
        scored: s.scored,
        ...(s.score !== undefined ? { score: s.score } : {}),
        alert: s.alert,
        alerts: s.alerts,
        alertsOnInjected: s.alertsOnInjected,
        injected: this.injected.has(s.id),
        ...(s.lastAlert ? { lastAlert: s.lastAlert } : {}),
      }));
  }

  totals(now: number): Totals {
    const byState: Record<StreamState, number> = { 'warming up': 0, training: 0, scoring: 0 };
    const t: Totals = {
      injected: 0,
      caught: 0,
      missed: [],
      streams: this.streams.size,
      byState,
      windows: 0,
      windowsPerSec: 0,
      scored: 0,
      alerts: 0,
      alertsOnInjected: 0,
      trainings: 0,
    };
    for (const s of this.streams.values()) {
      byState[stateOf(s)]++;
      t.windows += s.windows;
      t.windowsPerSec += this.rate(s, now);
      t.scored += s.scored;
      t.alerts += s.alerts;
      t.alertsOnInjected += s.alertsOnInjected;
      t.trainings += s.trainings;
      const { injected, caught, missed } = this.catches(s);
      t.injected += injected;
      t.caught += caught;
      t.missed.push(...missed.map((index) => `${s.id} at ${index}`));
    }
    return t;
  }

  private stream(id: string, at: number): Stream {
    let s = this.streams.get(id);
    if (!s) {
      s = {
        id,
        windows: 0,
        firstAt: at,
        arrivals: [],
        trainings: 0,
        alertSeqs: [],
        scored: 0,
        alert: false,
        alerts: 0,
        alertsOnInjected: 0,
      };
      this.streams.set(id, s);
    }
    return s;
  }

  /**
   * Groups a scored window into incidents: a notice when its alert opens one, or when it brings an
   * injected anomaly into one that had none (so each injected anomaly caught is said).
   */
  private incident(s: Stream, e: Extract<DemoEvent, { type: 'score' }>): Notice[] {
    if (e.alert) s.lastAlert = { reason: e.reason ?? null, feature: e.feature ?? null };
    const opened = this.incidents.add({
      streamId: s.id,
      seq: e.seq,
      end: e.end ?? e.at,
      score: e.score,
      alert: e.alert,
      ...(e.alertScore !== undefined ? { alertScore: e.alertScore } : {}),
      reason: e.reason ?? null,
      ...(e.feature !== undefined ? { featureErrors: { top: e.feature } } : {}),
    });
    const hit = e.alert ? this.injectedIn(s.id, e.seq) : undefined;
    const incident = opened ?? (hit !== undefined ? this.incidents.of(s.id, e.seq) : undefined);
    if (!incident || (!opened && this.injectedSaid.has(incident.id))) return [];
    if (hit !== undefined) this.injectedSaid.add(incident.id);
    return [
      {
        kind: 'incident',
        streamId: s.id,
        name: this.name(s.id),
        id: incident.id,
        seq: e.seq,
        score: e.score,
        ...(e.alertScore !== undefined ? { alertScore: e.alertScore } : {}),
        reason: e.reason ?? null,
        feature: e.feature ?? null,
        joined: !opened,
        ...(hit !== undefined ? { injectedAt: hit } : {}),
      },
    ];
  }

  private name(id: string): string {
    return id.slice(this.options.prefix.length) || id;
  }

  private rate(s: Stream, now: number): number {
    const from = now - this.rateWindowMs;
    let i = 0;
    while (i < s.arrivals.length && s.arrivals[i]! <= from) i++;
    if (i > 0) s.arrivals.splice(0, i);
    const span = Math.min(this.rateWindowMs, Math.max(1000, now - s.firstAt));
    return (s.arrivals.length * 1000) / span;
  }

  /**
   * The stream's injected anomalies its scores covered, those with an alert in their catch window,
   * and the indices of the others.
   */
  private catches(s: Stream): { injected: number; caught: number; missed: number[] } {
    let injected = 0;
    let caught = 0;
    const missed: number[] = [];
    if (s.firstScored === undefined || s.lastScored === undefined)
      return { injected, caught, missed };
    for (const a of this.injected.get(s.id) ?? []) {
      if (a.index < s.firstScored || a.index + CATCH_WITHIN > s.lastScored) continue;
      injected++;
      if (s.alertSeqs.some((q) => q >= a.index && q <= a.index + CATCH_WITHIN)) caught++;
      else missed.push(a.index);
    }
    return { injected, caught, missed };
  }

  /** The first index of an injected anomaly among the readings of the window ending at `seq`. */
  private injectedIn(id: string, seq: number): number | undefined {
    const first = seq - this.options.window + 1;
    for (const a of this.injected.get(id) ?? [])
      if (a.index <= seq && a.index + a.length - 1 >= first) return a.index;
    return undefined;
  }

  private detail(s: Stream): string {
    const t = s.training;
    switch (stateOf(s)) {
      case 'warming up':
        return `${s.windows} windows`;
      case 'training':
        return t ? `model v${t.version} ${t.phase}` : '';
      case 'scoring':
        return `model v${s.version} score ${s.score?.toFixed(3)}`;
    }
  }
}

function stateOf(s: Stream): StreamState {
  if (s.scored > 0) return 'scoring';
  if (s.training) return 'training';
  return 'warming up';
}
