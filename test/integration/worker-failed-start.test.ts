/**
 * A worker whose start fails half way closes what it had opened: here Kafka refuses its login after
 * the worker has bound its HTTP port and connected to Redis. Start must reject with the refusal, and
 * leave this process with no extra socket, server or child process: its handles are compared with
 * those before the start (Redis, shared with other runs, cannot tell this worker's connections apart).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { WorkerProcess } from '../../src/worker/process.js';
import { testConfig } from '../support/services.js';
import { waitFor } from '../support/wait.js';

/** The kinds of handle a leaked connection, server or child shows as, counted. */
function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (/TCP|Pipe|Process|TTY|UDP/.test(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

describe('a worker whose start fails', () => {
  it('rejects with the refusal and leaves no socket, server or child process open', async () => {
    const config = testConfig('failed-start', {
      SEQAE_ROLES: 'train,stream,infer',
      SEQAE_TRAIN_POOL: '2',
      SEQAE_HTTP_PORT: '0',
      // A SASL login against the plain listener: Kafka refuses it at once.
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'nobody',
      KAFKA_SASL_PASSWORD: 'nothing',
    });
    const before = openHandles();
    const start = WorkerProcess.start(config, pino({ level: 'silent' }));
    await expect(start).rejects.toThrow(/Kafka at .* refused the scram-sha-256 login/);
    // Sockets leave the list a tick after they close: give them a moment, then compare.
    await waitFor(
      'the handles of before the start',
      () => JSON.stringify(openHandles()) === JSON.stringify(before),
      5_000,
    ).catch(() => undefined);
    expect(openHandles()).toEqual(before);
  });
});
