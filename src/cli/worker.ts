import type { Command } from 'commander';
import { createLogger } from '../log/index.js';
import { WorkerProcess } from '../worker/process.js';
import { addFlags, commonFlags, configFrom, type FlagSpec } from './options.js';

const workerFlags: FlagSpec[] = [
  ...commonFlags,
  ['--roles <list>', 'SEQAE_ROLES', 'roles of this process: train,stream,infer'],
  ['--concurrency <n>', 'SEQAE_CONCURRENCY', 'infer jobs processed at once'],
  ['--train-pool <n>', 'SEQAE_TRAIN_POOL', 'training child processes'],
  ['--group-id <id>', 'SEQAE_GROUP_ID', 'Kafka consumer group of stream workers'],
  ['--model-group <id>', 'SEQAE_MODEL_GROUP', 'one shared model for every stream, with this id'],
  [
    '--warmup-windows <n>',
    'SEQAE_WARMUP_WINDOWS',
    'windows before a stream model is first trained',
  ],
  ['--retrain-every <n>', 'SEQAE_RETRAIN_EVERY', 'retrain after this many windows (0: never)'],
  ['--train-windows <n>', 'SEQAE_TRAIN_WINDOWS', 'recent windows kept per model for training'],
  ['--batch-max <n>', 'SEQAE_BATCH_MAX', 'most windows per scoring micro-batch'],
  ['--batch-wait-ms <ms>', 'SEQAE_BATCH_WAIT_MS', 'longest wait for a micro-batch to fill'],
  [
    '--onnx-threads <n>',
    'SEQAE_ONNX_THREADS',
    'ONNX Runtime threads when it scores (0: one per CPU)',
  ],
  ['--variant <name>', 'SEQAE_VARIANT', 'model trained: composite, reconstruction, prediction'],
  ['--units <n>', 'SEQAE_UNITS', 'LSTM units (and embedding length)'],
  ['--epochs <n>', 'SEQAE_EPOCHS', 'training epochs'],
];

/**
 * Runs `seqae worker` with `args` (the workers/ entry points): the same command, options and exit
 * codes as the CLI.
 */
export async function runWorker(args: string[]): Promise<void> {
  const { Command } = await import('commander');
  const { runCli } = await import('./run.js');
  const program = new Command('seqae').showHelpAfterError();
  registerWorker(program);
  await runCli(program, ['worker', ...args], 'user');
}

/** `seqae worker`: a worker process with the given roles, until SIGINT or SIGTERM. */
export function registerWorker(program: Command): void {
  const command = program
    .command('worker')
    .description(
      'train models and score windows from Kafka and BullMQ; serves /metrics, /healthz, /readyz',
    );
  addFlags(command, workerFlags).action(async (options: Record<string, unknown>) => {
    const config = configFrom(options, workerFlags);
    const log = createLogger(config.logLevel, 'seqae-worker');
    const worker = await WorkerProcess.start(config, log);
    let signals = 0;
    const stop = (signal: string) => {
      if (++signals > 1) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      log.info({ signal }, 'stopping');
      worker.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
