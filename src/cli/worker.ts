import type { Command } from 'commander';
import { createLogger, secretsOf } from '../log/index.js';
import { WorkerProcess } from '../worker/process.js';
import { addSettingFlags, configFrom, startOrExit } from './options.js';

/** `seqae worker`: a worker process with the given roles, until SIGINT or SIGTERM. */
export function registerWorker(program: Command): void {
  const command = program
    .command('worker')
    .description(
      'train models and score windows from Kafka and BullMQ; serves /metrics, /healthz, /readyz',
    );
  addSettingFlags(command, 'worker').action(async (options: Record<string, unknown>) => {
    const { config, deprecations } = configFrom(options, 'worker');
    const log = createLogger(config.logLevel, 'seqae-worker', {}, secretsOf(config));
    for (const line of deprecations) log.warn(line);
    const worker = await startOrExit(() => WorkerProcess.start(config, log), 'worker');
    let signals = 0;
    const stop = (signal: string, code = 0) => {
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      log.info({ signal }, 'stopping');
      worker.stop().then(
        () => process.exit(code),
        (err: unknown) => {
          log.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    worker.on('fatal', (err) => {
      log.fatal({ err: err.message }, 'cannot go on: stopping with exit code 1');
      stop('fatal', 1);
    });
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
