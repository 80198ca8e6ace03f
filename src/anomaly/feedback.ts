import type { AlertReason, FalseAlarm } from './index.js';

/**
 * What a worker knows of a would-be alert, and what a false-alarm mark remembers of the alert it
 * marks: the check behind it, its score, its errors (normalised units) and how far the window's last
 * value stands from the window's median (`excess`, in the stream's units, first feature).
 */
export interface AlertDetail {
  reason: AlertReason | null;
  score: number;
  reconstructionError: number | null;
  predictionError: number | null;
  value?: number;
  excess?: number;
}

export interface FeedbackOptions {
  /**
   * How much more severe than a marked false alarm an event may be and still count as the same
   * pattern: 0.5 lets its magnitude (root of its errors, its excess) be up to 1.5 times the marked one.
   */
  tolerance: number;
  /** Marks older than this stop counting (ms); 0 or Infinity: never. */
  expiryMs: number;
  /** Marks kept per stream, the newest; older ones drop out. */
  perStream: number;
}

/** A window's last value (first feature) less the median of that feature over the window. */
export function windowExcess(values: readonly (readonly number[])[]): number | undefined {
  const xs = values.map((row) => row[0]!).filter(Number.isFinite);
  if (xs.length === 0 || !Number.isFinite(values.at(-1)?.[0])) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return values.at(-1)![0]! - median;
}

/** The size of an event by its errors: their root (linear in a spike's height), the larger kind. */
function magnitude(d: Partial<AlertDetail>): number | undefined {
  const errors = [d.reconstructionError, d.predictionError].filter(
    (e): e is number => typeof e === 'number' && Number.isFinite(e) && e >= 0,
  );
  return errors.length > 0 ? Math.sqrt(Math.max(...errors)) : undefined;
}

/**
 * Whether a would-be alert is the pattern of a marked false alarm: the same check (when the mark
 * knows it) and no more severe by more than `tolerance`, on every measure both know — the error
 * magnitude, the excess (same side) for a range alert, else the score. A mark that knows none of
 * these matches nothing: suppressing blindly would silence the stream.
 */
export function similar(d: AlertDetail, mark: FalseAlarm, tolerance: number): boolean {
  if (mark.reason !== undefined && (mark.reason ?? null) !== d.reason) return false;
  const grow = 1 + Math.max(0, tolerance);
  let compared = false;
  const [m, mm] = [magnitude(d), magnitude(mark)];
  if (m !== undefined && mm !== undefined) {
    if (m > mm * grow) return false;
    compared = true;
  } else if (mark.score !== undefined) {
    if (d.score > mark.score * grow) return false;
    compared = true;
  }
  if (d.reason === 'range' && d.excess !== undefined && mark.excess !== undefined) {
    if (Math.sign(d.excess) !== Math.sign(mark.excess)) return false;
    if (Math.abs(d.excess) > Math.abs(mark.excess) * grow) return false;
    compared = true;
  }
  return compared;
}

/**
 * Each stream's false-alarm marks, in memory, with no I/O: fed from the feedback topic and Redis,
 * asked by the scorer about every would-be alert. Marks are keyed by window (a mark sent twice,
 * or seen from the topic and Redis both, counts once).
 */
export class FeedbackMemory {
  private readonly marks = new Map<string, Map<number, FalseAlarm>>();

  constructor(private readonly options: FeedbackOptions) {}

  /** Remembers `mark` (its `at`, epoch ms, defaults to now); the stream's oldest beyond the bound go. */
  add(mark: FalseAlarm, now = Date.now()): void {
    let stream = this.marks.get(mark.streamId);
    if (!stream) this.marks.set(mark.streamId, (stream = new Map()));
    stream.delete(mark.seq);
    stream.set(mark.seq, { ...mark, at: mark.at ?? now });
    const over = stream.size - Math.max(1, this.options.perStream);
    for (const seq of [...stream.keys()].slice(0, Math.max(0, over))) stream.delete(seq);
  }

  /** The marks of `streamId` still in force at `now`. */
  of(streamId: string, now = Date.now()): FalseAlarm[] {
    const { expiryMs } = this.options;
    const all = [...(this.marks.get(streamId)?.values() ?? [])];
    if (!(expiryMs > 0 && Number.isFinite(expiryMs))) return all;
    return all.filter((m) => now - (m.at ?? now) <= expiryMs);
  }

  /** The mark in force that makes `detail` on `streamId` no alert, if any. */
  suppressing(streamId: string, detail: AlertDetail, now = Date.now()): FalseAlarm | undefined {
    if (!this.marks.has(streamId)) return undefined;
    return this.of(streamId, now).find((m) => similar(detail, m, this.options.tolerance));
  }
}
