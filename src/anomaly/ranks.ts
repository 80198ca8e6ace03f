/**
 * Log-error histogram (small per-stream state): ranks to within a bin, linearly inside it;
 * 10^-8 .. 10^6, 8 bins a decade.
 */
const LOG_MIN = -8 * Math.LN10;
const LOG_MAX = 6 * Math.LN10;
const BINS = 112;
const BIN_WIDTH = (LOG_MAX - LOG_MIN) / BINS;

export class ErrorRanks {
  private readonly counts = new Float64Array(BINS);
  private total = 0;

  constructor(private readonly decay: number) {}

  get size(): number {
    return this.total;
  }

  /** The value below which a fraction `p` of the past errors lie (to within a bin; 0 when empty). */
  quantile(p: number): number {
    if (this.total <= 0) return 0;
    let want = p * this.total;
    for (let b = 0; b < BINS; b++) {
      const c = this.counts[b]!;
      if (c >= want && c > 0) return Math.exp(LOG_MIN + (b + want / c) * BIN_WIDTH);
      want -= c;
    }
    return Math.exp(LOG_MAX);
  }

  /**
   * The surprise of `e` among the past errors, -ln of the fraction at or above it (at least one
   * error's worth), before `e` joins them: exponential with mean 1 while errors come as before.
   */
  surpriseThenAdd(e: number): number {
    const x = (Math.log(Math.max(e, 1e-300)) - LOG_MIN) / BIN_WIDTH;
    const bin = Math.min(BINS - 1, Math.max(0, Math.floor(x)));
    const within = Math.min(1, Math.max(0, x - bin));
    let below = 0;
    for (let b = 0; b < bin; b++) below += this.counts[b]!;
    below += this.counts[bin]! * within;
    const above = this.total > 0 ? 1 - below / this.total : 1;
    const surprise = -Math.log(Math.max(above, 1 / (this.total + 1)));
    if (this.total >= 1 / this.decay) {
      const keep = 1 - this.decay;
      for (let b = 0; b < BINS; b++) this.counts[b]! *= keep;
      this.total *= keep;
    }
    this.counts[bin]! += 1;
    this.total += 1;
    return surprise;
  }
}
