import type { KeepJobs, Queue } from 'bullmq';
import { CancelledError } from '../../errors/index.js';
import { windowJobId, type Window } from '../../windows/contract.js';
import type { WindowSink } from './types.js';
import { withDefaults } from '../../windows/defaults.js';

export interface BullmqWindowSinkOptions {
  /** Job name. Default 'window'. */
  jobName?: string;
  /** Completed jobs kept, for dedup of resends and inspection. Default 1 hour / 100000 jobs. */
  removeOnComplete?: KeepJobs;
  /** Failed jobs kept. Default 7 days / 100000 jobs. */
  removeOnFail?: KeepJobs;
  /** Attempts per job before it fails for good. Default 3 (exponential backoff from 1 s). */
  attempts?: number;
  /**
   * Waiting jobs at which the producer stops adding and polls until the queue drains below it
   * (backpressure instead of an unbounded Redis). Default 100000; 0 = no ceiling.
   */
  maxWaiting?: number;
  /** Poll interval while at the ceiling, ms. Default 250. */
  pollMs?: number;
  /** Aborting stops a wait at the ceiling (the send then fails with CancelledError). */
  signal?: AbortSignal;
  /** Called after the ceiling made the producer wait: seconds waited, waiting count first seen. */
  onWaited?: (seconds: number, waiting: number) => void;
}

/**
 * Windows into the `seqae-infer` queue with `addBulk`, one job per window, jobId = `streamId@seq`
 * (the window identity in BullMQ's allowed alphabet). A resent window whose job still exists (waiting,
 * active, or kept after completion/failure) is not added again. Dedup therefore lasts as long as the
 * job is kept: `removeOnComplete`/`removeOnFail` bound Redis and, with it, how long a resend is
 * recognised. Within one run with the default bounds, every resend is recognised.
 */
export class BullmqWindowSink implements WindowSink {
  readonly name = 'bullmq';
  private readonly o: Required<Omit<BullmqWindowSinkOptions, 'signal' | 'onWaited'>> &
    Pick<BullmqWindowSinkOptions, 'signal' | 'onWaited'>;

  constructor(
    readonly queue: Queue,
    options: BullmqWindowSinkOptions = {},
  ) {
    this.o = withDefaults(
      {
        jobName: 'window',
        removeOnComplete: { age: 3600, count: 100_000 },
        removeOnFail: { age: 7 * 24 * 3600, count: 100_000 },
        attempts: 3,
        maxWaiting: 100_000,
        pollMs: 250,
      },
      options,
    );
  }

  async send(windows: Window[]): Promise<void> {
    if (windows.length === 0) return;
    await this.belowCeiling();
    const { jobName, removeOnComplete, removeOnFail, attempts } = this.o;
    await this.queue.addBulk(
      windows.map((w) => ({
        name: jobName,
        data: w,
        opts: {
          jobId: windowJobId(w),
          removeOnComplete,
          removeOnFail,
          attempts,
          backoff: { type: 'exponential', delay: 1000 },
        },
      })),
    );
  }

  private async belowCeiling(): Promise<void> {
    const { maxWaiting, pollMs, signal } = this.o;
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
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
