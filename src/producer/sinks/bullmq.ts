import type { Queue } from 'bullmq';
import { CancelledError } from '../../errors/index.js';
import { inferBulkJob, inferJob } from '../../contracts/jobs.js';
import type { Window } from '../../contracts/window.js';
import type { WindowSink } from './types.js';

export interface BullmqWindowSinkOptions {
  /**
   * Waiting jobs at which the producer stops adding and polls until the queue drains below it
   * (backpressure instead of an unbounded Redis); 0 = no ceiling (config.producer.maxWaiting).
   */
  maxWaiting: number;
  /**
   * Windows per job (config.producer.inferBulk): 1, a `window` job each; more, `windows` bulk jobs of
   * up to that many, cut from each send in its order (so a stream's windows keep their order within a
   * job). Default 1.
   */
  bulk?: number;
  /** Aborting stops a wait at the ceiling (the send then fails with CancelledError). */
  signal?: AbortSignal;
  /** Called after the ceiling made the producer wait: seconds waited, waiting count first seen. */
  onWaited?: (seconds: number, waiting: number) => void;
}

/** Poll interval while at the ceiling, ms. */
const CEILING_POLL_MS = 250;

/**
 * Windows into the `seqae-infer` queue with `addBulk`, one job per window (`inferJob`,
 * src/contracts/jobs.ts: jobId = `streamId@seq`, the window identity in BullMQ's allowed alphabet), or
 * with `bulk`, one job per `bulk` windows (`inferBulkJob`: jobId = a hash of its windows' identities). A
 * resent window (or the same windows in one bulk job) whose job still exists (waiting, active, or kept
 * after completion/failure) is not added again. Dedup therefore lasts as long as the job is kept: the
 * job's `removeOnComplete` and `removeOnFail` (an hour and a week, up to 100000 jobs each) bound Redis
 * and, with it, how long a resend is recognised.
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
    const bulk = this.o.bulk ?? 1;
    if (bulk <= 1) {
      await this.queue.addBulk(windows.map(inferJob));
      return;
    }
    const jobs = [];
    for (let i = 0; i < windows.length; i += bulk)
      jobs.push(inferBulkJob(windows.slice(i, i + bulk)));
    await this.queue.addBulk(jobs);
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
