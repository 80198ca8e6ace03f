/**
 * Replay pacing: reading time mapped to wall time, scaled by `speed` (1 = real time, 10 = ten times
 * real time). The first reading paced fixes the origin.
 */
export class Pacer {
  private origin?: { wall: number; ts: number };

  constructor(private readonly speed: number) {
    if (!(speed > 0)) throw new RangeError('speed: expected > 0');
  }

  /**
   * Waits until the reading at `ts` is due, or `signal` aborts. `beforeSleep` runs first when there is
   * a wait (the pipeline sends what it holds rather than hold it back while it sleeps).
   */
  async wait(ts: number, signal: AbortSignal, beforeSleep: () => void): Promise<void> {
    const now = Date.now();
    if (!this.origin) {
      this.origin = { wall: now, ts };
      return;
    }
    const due = this.origin.wall + (ts - this.origin.ts) / this.speed;
    if (due - now > 1) {
      beforeSleep();
      await sleep(due - now, signal);
    }
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
