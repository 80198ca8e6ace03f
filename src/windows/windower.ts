import { WINDOW_VERSION, type Window } from '../contracts/window.js';
import type { Reading } from '../contracts/reading.js';
import { withDefaults } from '../util/defaults.js';

/**
 * Cuts streams of readings into sliding windows, per stream, with no I/O: readings go in with `push`,
 * windows come out in order of `seq`. It tolerates, within bounds, what real sensor streams do:
 *
 * - out of order / duplicated readings: a reorder buffer of `reorder` readings per stream releases
 *   them sorted by time; a reading older than the last one released is `late`, one with a timestamp
 *   already seen is a `duplicate`. Both are dropped, counted, and named in what `push` returns.
 * - gaps: with the stream's step (given, or inferred from its first readings), a jump of more than
 *   `gapTolerance` steps is a gap. `gaps: 'ignore'` treats readings as a sequence whatever their times
 *   (right for irregularly sampled data such as NAB's traffic files); `'skip'` restarts the window
 *   after a gap, so no window spans one; `'fill'` forward-fills up to `maxFill` missing readings (they
 *   count as readings of the stream and take `seq` numbers) and restarts after longer gaps.
 *
 * With stride 1 and no gaps, R readings of a stream give exactly R - nIn + 1 windows.
 */
export interface WindowerOptions {
  /** Readings per window, ≥ 1 (config.producer.window). */
  nIn: number;
  /** Readings between the ends of consecutive windows (config.producer.stride). */
  stride: number;
  /** Readings held per stream to put out-of-order input back in order (config.producer.reorder). */
  reorder: number;
  /** Milliseconds between readings. Default: inferred per stream from its first `inferFrom` steps. */
  step?: number;
  /** Steps (differences between consecutive readings) the step is inferred from. Default 8. */
  inferFrom?: number;
  /** What a gap does (config.producer.gaps). */
  gaps: GapPolicy;
  /** A difference of more than gapTolerance × step is a gap. Default 1.5. */
  gapTolerance?: number;
  /**
   * With gaps 'fill': most missing readings filled in one gap; longer gaps restart
   * (config.producer.maxFill).
   */
  maxFill: number;
  /** Values per reading. Default: fixed per stream by its first reading. */
  features?: number;
}

export type GapPolicy = 'ignore' | 'skip' | 'fill';
export type DropReason = 'late' | 'duplicate' | 'features';

/** What one reading gave: the windows it completed (often none), or why it was dropped (then none). */
export interface Pushed {
  windows: Window[];
  dropped?: DropReason;
}

export interface WindowerCounters {
  /** Readings pushed. */
  readings: number;
  windows: number;
  dropped: Record<DropReason, number>;
  /** Gaps seen (any policy but 'ignore'). */
  gaps: number;
  /** Readings made up by forward fill. */
  filled: number;
  /** Windows restarted after a gap. */
  restarts: number;
}

/** The state of one stream, as plain JSON: what a checkpoint stores so another process can resume. */
export interface StreamSnapshot {
  features: number;
  step: number;
  /** Readings released before the step was known (times and values). */
  pending: [number, number[]][];
  /** The reorder buffer, oldest first. */
  held: [number, number[]][];
  /** Time of the last reading released from the reorder buffer (-1e300 when none). */
  released: number;
  /** Time and values of the last reading in the current window run. */
  prevTs: number;
  prevValues: number[] | null;
  /** Values of the last ≤ nIn readings of the current run. */
  tail: number[][];
  /** Readings in the current run (since the start or the last restart). */
  run: number;
  /** seq of the next reading. */
  next: number;
}

interface Stream extends StreamSnapshot {
  id: string;
}

const NONE = -1e300;

/** Defaults of the tuning that no setting exposes (the rest comes from config.producer). */
const defaults = { inferFrom: 8, gapTolerance: 1.5 };

function positiveInt(name: string, x: number, min = 1) {
  if (!Number.isInteger(x) || x < min)
    throw new RangeError(`${name}: expected an integer ≥ ${min}`);
}

export class Windower {
  readonly counters: WindowerCounters = {
    readings: 0,
    windows: 0,
    dropped: { late: 0, duplicate: 0, features: 0 },
    gaps: 0,
    filled: 0,
    restarts: 0,
  };
  private readonly o: Required<Omit<WindowerOptions, 'step' | 'features'>> &
    Pick<WindowerOptions, 'step' | 'features'>;
  private readonly streams = new Map<string, Stream>();

  constructor(options: WindowerOptions) {
    this.o = withDefaults(defaults, options);
    const o = this.o;
    positiveInt('nIn', o.nIn);
    positiveInt('stride', o.stride);
    positiveInt('reorder', o.reorder, 0);
    positiveInt('inferFrom', o.inferFrom);
    positiveInt('maxFill', o.maxFill, 0);
    if (o.step !== undefined && !(o.step > 0)) throw new RangeError('step: expected > 0 ms');
    if (o.features !== undefined) positiveInt('features', o.features);
    if (!(o.gapTolerance > 1)) throw new RangeError('gapTolerance: expected > 1');
    if (!['ignore', 'skip', 'fill'].includes(o.gaps)) throw new RangeError(`gaps: ${o.gaps}`);
  }

  /** Adds one reading; returns the windows it completes, oldest first, or why it was dropped. */
  push(reading: Reading): Pushed {
    this.counters.readings++;
    const out: Window[] = [];
    let s = this.streams.get(reading.streamId);
    if (!s) {
      s = this.newStream(reading.streamId, this.o.features ?? reading.values.length);
      this.streams.set(reading.streamId, s);
    }
    if (reading.values.length !== s.features) return this.drop('features');
    const ts = reading.ts;
    if (ts < s.released) return this.drop('late');
    if (ts === s.released) return this.drop('duplicate');

    // Insert into the reorder buffer, sorted by time (it is short: a linear scan from the end).
    const held = s.held;
    let i = held.length;
    while (i > 0 && held[i - 1]![0] > ts) i--;
    if (i > 0 && held[i - 1]![0] === ts) return this.drop('duplicate');
    held.splice(i, 0, [ts, reading.values]);
    while (held.length > this.o.reorder) {
      const [t, v] = held.shift()!;
      s.released = t;
      this.release(s, t, v, out);
    }
    return { windows: out };
  }

  /** Releases everything held (reorder buffers, readings awaiting a step) at the end of input. */
  flush(): Window[] {
    const out: Window[] = [];
    for (const s of this.streams.values()) {
      for (const [t, v] of s.held.splice(0)) {
        s.released = t;
        this.release(s, t, v, out);
      }
      if (s.step === 0 && s.pending.length > 0) this.settleStep(s, out);
    }
    return out;
  }

  /** Readings per window and between window ends: what a snapshot's state was made with. */
  get shape(): { nIn: number; stride: number } {
    return { nIn: this.o.nIn, stride: this.o.stride };
  }

  /** Ids of the streams seen. */
  streamIds(): IterableIterator<string> {
    return this.streams.keys();
  }

  /** The state of a stream as JSON-safe data, or undefined if never seen. */
  snapshot(streamId: string): StreamSnapshot | undefined {
    const s = this.streams.get(streamId);
    if (!s) return undefined;
    const { id: _id, ...snap } = s;
    return structuredClone(snap);
  }

  /** Forgets a stream (its partition moved to another consumer). */
  forget(streamId: string): void {
    this.streams.delete(streamId);
  }

  /** Resumes a stream from a snapshot (replacing any state it had). */
  restore(streamId: string, snap: StreamSnapshot): void {
    this.streams.set(streamId, { id: streamId, ...structuredClone(snap) });
  }

  private newStream(id: string, features: number): Stream {
    return {
      id,
      features,
      step: this.o.step ?? 0,
      pending: [],
      held: [],
      released: NONE,
      prevTs: NONE,
      prevValues: null,
      tail: [],
      run: 0,
      next: 0,
    };
  }

  private drop(reason: DropReason): Pushed {
    this.counters.dropped[reason]++;
    return { windows: [], dropped: reason };
  }

  /** A reading leaves the reorder buffer in time order. */
  private release(s: Stream, ts: number, values: number[], out: Window[]) {
    if (s.step > 0) return this.advance(s, ts, values, out);
    s.pending.push([ts, values]);
    if (s.pending.length > this.o.inferFrom) this.settleStep(s, out);
  }

  /** Infers the step from the pending readings, then runs them. */
  private settleStep(s: Stream, out: Window[]) {
    s.step = inferStep(s.pending.map(([t]) => t));
    const pending = s.pending;
    s.pending = [];
    for (const [t, v] of pending) this.advance(s, t, v, out);
  }

  /** Gap handling, then the reading joins the current run. */
  private advance(s: Stream, ts: number, values: number[], out: Window[]) {
    const o = this.o;
    if (o.gaps !== 'ignore' && s.prevValues !== null && s.step > 0) {
      const delta = ts - s.prevTs;
      if (delta > s.step * o.gapTolerance) {
        this.counters.gaps++;
        const missing = Math.round(delta / s.step) - 1;
        if (o.gaps === 'fill' && missing <= o.maxFill) {
          const fill = s.prevValues;
          const from = s.prevTs;
          for (let k = 1; k <= missing; k++) {
            const t = from + k * s.step;
            if (t >= ts) break;
            this.counters.filled++;
            this.append(s, t, fill, out);
          }
        } else {
          this.counters.restarts++;
          s.tail = [];
          s.run = 0;
        }
      }
    }
    this.append(s, ts, values, out);
  }

  private append(s: Stream, ts: number, values: number[], out: Window[]) {
    const seq = s.next++;
    s.prevTs = ts;
    s.prevValues = values;
    s.tail.push(values);
    if (s.tail.length > this.o.nIn) s.tail.shift();
    s.run++;
    if (s.run >= this.o.nIn && (s.run - this.o.nIn) % this.o.stride === 0) {
      this.counters.windows++;
      out.push({
        v: WINDOW_VERSION,
        streamId: s.id,
        seq,
        end: ts,
        step: s.step,
        values: s.tail.slice(),
      });
    }
  }
}

/**
 * The nominal step of a stream from its first timestamps: the lower quartile of the positive
 * differences, rounded to whole ms. A quartile rather than the median because gaps only ever lengthen
 * differences; 0 when there is no difference to go by.
 */
export function inferStep(times: readonly number[]): number {
  const d: number[] = [];
  for (let i = 1; i < times.length; i++) {
    const x = times[i]! - times[i - 1]!;
    if (x > 0) d.push(x);
  }
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return Math.max(1, Math.round(d[Math.floor((d.length - 1) / 4)]!));
}

/** Windows of a finite list of readings, with the counters: the whole windower as one pure call. */
export function windowize(
  readings: Iterable<Reading>,
  options: WindowerOptions,
): { windows: Window[]; counters: WindowerCounters; dropped: [Reading, DropReason][] } {
  const dropped: [Reading, DropReason][] = [];
  const w = new Windower(options);
  const windows: Window[] = [];
  for (const r of readings) {
    const pushed = w.push(r);
    if (pushed.dropped) dropped.push([r, pushed.dropped]);
    for (const x of pushed.windows) windows.push(x);
  }
  for (const x of w.flush()) windows.push(x);
  return { windows, counters: w.counters, dropped };
}
