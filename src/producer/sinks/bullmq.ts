import type { JobsOptions, Queue } from 'bullmq';
import { CancelledError } from '../../errors/index.js';
import { windowJobId, type Window } from '../../contracts/window.js';
import type { WindowSink } from './types.js';

export interface BullmqWindowSinkOptions {
  /**
   * Waiting jobs at which the producer stops adding and polls until the queue drains below it
   * (backpressure instead of an unbounded Redis); 0 = no ceiling (config.producer.maxWaiting).
   */
  maxWaiting: number;
  /** Aborting stops a wait at the ceiling (the send then fails with CancelledError). */
  signal?: AbortSignal;
  /** Called after the ceiling made the producer wait: seconds waited, waiting count first seen. */
  onWaited?: (seconds: number, waiting: number) => void;
}

const JOB_NAME = 'window';

/**
 * Completed jobs are kept 1 hour / 100000 jobs (dedup of resends, inspection), failed ones 7 days;
 * 3 attempts with exponential backoff from 1 s.
 */
const JOB_OPTIONS = {
  removeOnComplete: { age: 3600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 100_000 },
  attempts: 3,
  backoff: { type: 'exponential', delay: 1000 },
} satisfies JobsOptions;

/** Poll interval while at the ceiling, ms. */
const CEILING_POLL_MS = 250;

/**
 * Windows into the `seqae-infer` queue with `addBulk`, one job per window, jobId = `streamId@seq`
 * (the window identity in BullMQ's allowed alphabet). A resent window whose job still exists (waiting,
 * active, or kept after completion/failure) is not added again. Dedup therefore lasts as long as the
 * job is kept: `removeOnComplete`/`removeOnFail` bound Redis and, with it, how long a resend is
 * recognised. Within one run with these bounds, every resend is recognised.
 */
export class BullmqWindowSink implements WindowSink {
  readonly name = 'bullmq';

  constructor(
    readonly queue: Queue,
    private readonly o: BullmqWindowSinkOptions,
  ) {}

  async send(windows: Window[]): Promise<void> {
    if (windows.length === 0) return;
    await this.belowCeiling();
    await this.queue.addBulk(
      windows.map((w) => ({
        name: JOB_NAME,
        data: w,
        opts: { ...JOB_OPTIONS, jobId: windowJobId(w) },
      })),
    );
  }

  private async belowCeiling(): Promise<void> {
    const { maxWaiting, signal } = this.o;
    if (maxWaiting <= 0) return;
    let since: number | undefined;
    let first = 0;
    for (;;) {
      const waiting = await this.queue.getWaitingCount();
      if (waiting < maxWaiting) {
        if (since !== undefined) this.o.onWaited?.((Date.now() - since) / 1000, first);
        return;
      }
      if (since === undefined) [since, first] = [Date.now(), waiting];
      if (signal?.aborted) throw new CancelledError('stopped while waiting for the queue to drain');
      await new Promise((r) => setTimeout(r, CEILING_POLL_MS));
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
