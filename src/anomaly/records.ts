/**
 * A quantity's seen range and how often, and how far, the stream leaves it: its record history.
 * A random walk or a trend sets new records all the time, by small steps; noise sets them ever more
 * rarely (the n-th of an exchangeable stream's readings is a record with chance 1/n); a sine never
 * once its cycle is seen. A value past the range is judged against that history: the chance that the
 * stream exits its range this far, its record rate times the chance of an exit at least this far
 * (exponential in its excess, at the scale of its past exits). Records during `warmup` form the
 * range without counting in the history (every early reading is a record).
 */
export class RecordRange {
  private min = Infinity;
  private max = -Infinity;
  /** Readings judged, records among them, their summed excess (widths): forgotten at `decay`. */
  private judged = 0;
  private records = 0;
  private excess = 0;

  constructor(
    /** The part of the range's width an exit must pass before it can alert. */
    private readonly margin: number,
    /** Forgetting per reading of the record history (1 / the readings it remembers). */
    private readonly decay: number,
    /** Readings the prior record is spread over: the record rate of a stream with no record yet. */
    private readonly horizon = 1,
  ) {}

  /**
   * The chance of an exit as far as `x` under the record history when `x` passes the range by more
   * than the margin (1 otherwise, and while `judge` is false); then learns `x`.
   */
  judgeThenAdd(x: number, judge: boolean): number {
    const width = this.max - this.min;
    const past = width > 0 ? Math.max(x - this.max, this.min - x) / width : 0;
    let q = 1;
    if (judge && past > this.margin) q = this.exitChance(past);
    if (judge) {
      const keep = 1 - this.decay;
      this.judged = this.judged * keep + 1;
      this.records *= keep;
      this.excess *= keep;
      if (past > 0) {
        this.records += 1;
        this.excess += past;
      }
    }
    this.min = Math.min(this.min, x);
    this.max = Math.max(this.max, x);
    return q;
  }

  /**
   * The chance of an exit as far as `x` under the record history so far, without learning it (1
   * inside the margin): before a history forms, the prior of one record per `horizon` readings.
   */
  chanceOf(x: number): number {
    const width = this.max - this.min;
    const past = width > 0 ? Math.max(x - this.max, this.min - x) / width : 0;
    return past > this.margin ? this.exitChance(past) : 1;
  }

  /** Record rate (one prior record) times the exponential tail of the excess past the margin. */
  private exitChance(past: number): number {
    const rate = (this.records + 1) / (this.judged + this.horizon);
    const scale = (this.excess + this.margin) / (this.records + 1);
    return rate * Math.exp(-(past - this.margin) / scale);
  }
}
