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
    /**
     * Values judged for each one the history learns. A quantity over overlapping spans, such as the
     * mean change over the last n readings, shares most of its readings with its last value: its
     * records come in runs, and a change creeps past a range one small step at a time, each inside
     * the margin of a range the last step widened. With `stride` n, its history learns every n-th
     * value (values n apart share no reading), and its range takes each value in once n - 1 more
     * have come: a value is judged against a range that leaves out the values it overlaps.
     */
    private readonly stride = 1,
  ) {
    this.pending = new Float64Array(stride - 1);
  }

  /** Values judged so far, and the last `stride - 1`, not yet in the range (a ring from their count). */
  private calls = 0;
  private readonly pending: Float64Array;

  /** A lone exit held out of the range (`holdOut`), until the next value says whether it lasts. */
  private held?: number;

  /**
   * The chance of an exit as far as `x` under the record history when `x` passes the range by more
   * than the margin (1 otherwise, and while `judge` is false); then learns `x`. An exit with a
   * chance at or below `keepOut` widens the range but stays out of the history: an exit caught on
   * its way (a spread creeping off) would otherwise teach the history to expect its own end. An exit
   * with a chance at or below `holdOut` stays out of both unless the next value exits too: a spike
   * leaves the range as it was, so the next spike is judged as the first; a level that moves and
   * stays is the stream's new range from its second reading.
   */
  judgeThenAdd(x: number, judge: boolean, keepOut = 0, holdOut = 0): number {
    const width = this.max - this.min;
    const past = width > 0 ? Math.max(x - this.max, this.min - x) / width : 0;
    let q = 1;
    if (judge && past > this.margin) q = this.exitChance(past);
    if (q <= holdOut && this.held === undefined) {
      this.held = x;
      return q;
    }
    if (this.held !== undefined) {
      if (past > 0) this.widen(this.held);
      this.held = undefined;
    }
    const n = this.pending.length;
    const call = this.calls++;
    // The value the range takes in now: x, or with a stride the one that came n values before it.
    let entering: number | undefined = x;
    if (n > 0) {
      const slot = call % n;
      entering = call < n ? undefined : this.pending[slot];
      this.pending[slot] = x;
    }
    if (judge && call % this.stride === 0) {
      const keep = 1 - this.decay;
      this.judged = this.judged * keep + 1;
      this.records *= keep;
      this.excess *= keep;
      if (past > 0 && q > keepOut) {
        this.records += 1;
        this.excess += past;
      }
    }
    if (entering !== undefined) this.widen(entering);
    return q;
  }

  private widen(x: number): void {
    this.min = Math.min(this.min, x);
    this.max = Math.max(this.max, x);
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
