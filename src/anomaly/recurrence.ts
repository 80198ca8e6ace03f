/**
 * Whether an alert recurs on a schedule: a daily job's spike, a step at the same hour every day, a
 * burst every hundred readings. Such an event is the stream's routine, whatever its size, and an
 * operator paged for it every day turns the alerts off. Random events (a fault, a spike injected at
 * a random time) fall on no such grid. Each event's start (its first alerting window) is kept; an
 * event is recurring when `count` earlier ones lie on a grid ending at it: at t - L, t - 2L, …,
 * t - count·L, each within `jitter`·L (a job that starts at 03:04 one day and 04:09 the next is
 * still daily). Periods shorter than `minPeriod` windows are not schedules but one long event.
 */
export class Recurrence {
  /** The last `capacity` event starts, oldest first. */
  private readonly starts: number[] = [];

  constructor(
    /** Earlier events on the grid that make one recurring (0: never). */
    private readonly count: number,
    /** Tolerance of each earlier event's place, as a fraction of the period. */
    private readonly jitter: number,
    /** The shortest period, in windows. */
    private readonly minPeriod: number,
    /** Event starts remembered. */
    private readonly capacity = 32,
  ) {}

  /** Whether an event starting at window `t` falls on a grid of `count` earlier ones. */
  recurs(t: number): boolean {
    const k = this.count;
    if (k <= 0 || this.starts.length < k) return false;
    // The grid's far end is an earlier start p = t - k·L; its other points must each find a start.
    for (const p of this.starts) {
      const period = (t - p) / k;
      if (period < this.minPeriod) break;
      const tolerance = Math.max(1, this.jitter * period);
      let on = true;
      for (let j = 1; j < k && on; j++) on = this.near(t - j * period, tolerance);
      if (on) return true;
    }
    return false;
  }

  /** Records an event starting at window `t` (starts come in order). */
  add(t: number): void {
    this.starts.push(t);
    if (this.starts.length > this.capacity) this.starts.shift();
  }

  private near(at: number, tolerance: number): boolean {
    for (const s of this.starts) if (Math.abs(s - at) <= tolerance) return true;
    return false;
  }
}
