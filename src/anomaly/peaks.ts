import { ErrorRanks } from './ranks.js';

/**
 * Peaks over threshold (after SPOT, Siffer et al., KDD 2017): the chance of a value as large as `x`
 * among a stream's past values, beyond what the past values can rank. Values above the stream's
 * running `level` quantile t are its peaks; their excesses over t are fitted with a generalised Pareto
 * distribution, so P(X > x) = P(X > t) · (1 + ξ (x - t) / σ)^(-1/ξ). The fit is by the excesses'
 * median and upper quartile (for a GPD their ratio is 2^ξ + 1), so the aftermath of one anomaly among
 * the peaks does not make the tail heavy; ξ is kept in [0, 0.5] (at least an exponential tail: a
 * stream's first peaks understate its tail more often than they overstate it). For positive values
 * spread over decades (errors, ratios of errors): the quantiles come from log-binned histograms
 * (ranks.ts), 8 bins a decade, two of them a stream.
 */
export class PeakTail {
  private readonly values: ErrorRanks;
  private readonly excesses: ErrorRanks;

  constructor(
    /** Forgetting per value (1 / the values remembered). */
    decay: number,
    /** The quantile whose excesses are peaks. */
    private readonly level = 0.98,
    /** Peaks needed before a value is judged. */
    private readonly minPeaks = 5,
  ) {
    this.values = new ErrorRanks(decay);
    this.excesses = new ErrorRanks(decay);
  }

  /**
   * The chance of a value at least `x` (1 below the threshold, or while `judge` is false); then
   * learns it unless the chance is at most `unlearnt` (a repeated spike stays as improbable as the
   * first).
   */
  judgeThenAdd(x: number, judge: boolean, unlearnt = 0): number {
    const t = this.values.quantile(this.level);
    const y = x - t;
    const q = judge && this.excesses.size >= this.minPeaks && y > 0 ? this.survival(y) : 1;
    if (q <= unlearnt) return q;
    this.values.surpriseThenAdd(x);
    // Peaks count once the threshold stands on enough values to be a quantile.
    if (y > 0 && this.values.size * (1 - this.level) >= 1) this.excesses.surpriseThenAdd(y);
    return q;
  }

  private survival(y: number): number {
    const median = this.excesses.quantile(0.5);
    const upper = this.excesses.quantile(0.75);
    const xi = Math.min(0.5, Math.max(0, Math.log2(Math.max(upper / median - 1, 1))));
    // ξ → 0: an exponential tail, its median excess σ ln 2.
    const sigma = xi > 1e-6 ? (xi * median) / (2 ** xi - 1) : median / Math.LN2;
    const tail = xi > 1e-6 ? Math.pow(1 + (xi * y) / sigma, -1 / xi) : Math.exp(-y / sigma);
    return (1 - this.level) * tail;
  }
}
