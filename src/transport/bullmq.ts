import type { Worker } from 'bullmq';
import { raceTimeout } from '../util/timeout.js';

/**
 * Stops a BullMQ worker within `deadlineMs`: it takes no new job, its running jobs may finish until
 * the deadline, then it closes without waiting, killing sandboxed children; a job still running is
 * handed back (its lock lapses and another worker takes it as stalled). Resolves true when work was
 * handed back. BullMQ's own close() cannot do this in two steps, since it memoises its first call.
 */
export async function closeWorker(worker: Worker, deadlineMs: number): Promise<boolean> {
  const handedBack = await raceTimeout(
    worker.pause(false).then(() => false),
    deadlineMs,
    () => true,
  );
  await worker.close(true);
  return handedBack;
}
