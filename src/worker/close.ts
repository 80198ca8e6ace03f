import type { Worker } from 'bullmq';

/**
 * Stops a BullMQ worker within `deadlineMs`: it takes no new job, its running jobs may finish until
 * the deadline, then it closes without waiting, killing sandboxed children; a job still running is
 * handed back (its lock lapses and another worker takes it as stalled). Resolves true when work was
 * handed back. BullMQ's own close() cannot do this in two steps, since it memoises its first call.
 */
export async function closeWorker(worker: Worker, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const handedBack = await Promise.race([
    worker.pause(false).then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadlineMs))),
  ]);
  clearTimeout(timer);
  await worker.close(true);
  return handedBack;
}
