import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { initBackend } from '../backend/index.js';
import type { SeqaeConfig } from '../config/index.js';
import { trainOptions } from '../config/settings.js';
import type { Window } from '../contracts/window.js';
import { CancelledError } from '../errors/index.js';
import { SequenceAutoencoder, type EpochProgress } from '../model/index.js';
import { writeModelFile } from '../model-registry/file.js';
import { ModelRegistry } from '../model-registry/index.js';
import { createRedis } from '../transport/redis.js';
import {
  modelInputFor,
  trainAndPublish,
  trainOnWindows,
  versionMeta,
} from '../training/training.js';
import { inputSource, windowsOf, type InputOptions } from './input.js';
import { addSettingFlags, configFrom } from './options.js';

type TrainRun = InputOptions & { csv: string; modelId: string; out?: string; progress: boolean };

/** Per epoch on stderr: a bar on a terminal, else one line each (logs, CI). */
function epochReporter(show: boolean): { onEpoch: (p: EpochProgress) => void; stop(): void } {
  const text = (p: EpochProgress) =>
    `loss ${p.loss.toPrecision(4)}${p.validation ? ` (held out ${p.validation.loss.toPrecision(4)})` : ''}`;
  if (!show || !process.stderr.isTTY)
    return {
      onEpoch: (p) => process.stderr.write(`epoch ${p.epoch}/${p.epochs} ${text(p)}\n`),
      stop: () => {},
    };
  const bar = new SingleBar({
    format: ' training {bar} epoch {value}/{total} | {losses}',
    hideCursor: true,
    stream: process.stderr,
  });
  let started = false;
  return {
    onEpoch: (p) => {
      if (!started) bar.start(p.epochs, 0, { losses: '' });
      started = true;
      bar.update(p.epoch, { losses: text(p) });
    },
    stop: () => bar.stop(),
  };
}

/** Every window of the CSV file, and how many rows were no reading. */
async function readWindows(config: SeqaeConfig, run: TrainRun) {
  const windows: Window[] = [];
  let bad = 0;
  const source = inputSource(`csv:${run.csv}`, config, run);
  for await (const batch of windowsOf(source, config, run.step)) {
    windows.push(...batch.windows);
    bad += batch.bad.length;
  }
  return { windows, bad };
}

/** Trains on `windows` and writes the model to `out`, outside the registry. */
async function trainToFile(
  config: SeqaeConfig,
  run: TrainRun & { out: string },
  windows: Window[],
  options: { onEpoch: (p: EpochProgress) => void; signal: AbortSignal },
) {
  const model = SequenceAutoencoder.create(modelInputFor(windows, config.worker.model));
  try {
    const trained = await trainOnWindows(model, windows, config.worker.training, options);
    writeModelFile(run.out, {
      meta: {
        modelId: run.modelId,
        version: 1,
        ...versionMeta(model, trained, { from: 'scratch' }),
      },
      artifact: Buffer.from(await model.save()),
    });
    return {
      modelId: run.modelId,
      out: run.out,
      samples: trained.samples,
      summary: trained.summary,
    };
  } finally {
    model.dispose();
  }
}

/** Trains on `windows` and publishes the model's next version in the registry. */
async function trainToRegistry(
  config: SeqaeConfig,
  run: TrainRun,
  windows: Window[],
  options: { onEpoch: (p: EpochProgress) => void; signal: AbortSignal },
) {
  const redis = createRedis(config, { name: 'seqae-train' });
  const registry = new ModelRegistry(redis, {
    prefix: config.redis.keyPrefix,
    keep: config.worker.modelKeep,
  });
  try {
    const r = await trainAndPublish(
      { modelId: run.modelId, reason: 'request' },
      windows,
      config.worker.model,
      registry,
      config.worker.training,
      options,
    );
    return { modelId: r.modelId, version: r.version, samples: r.samples, summary: r.summary };
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** `seqae train`: a one-off training from a CSV file, to the registry or a file. */
export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .description(
      'train a model once on the windows of a CSV file and publish it to the registry (or write it to --out); progress per epoch on stderr, the result as JSON on stdout',
    );
  addSettingFlags(command, 'train', trainOptions).action(async (opts: TrainRun) => {
    const { config } = configFrom(opts as unknown as Record<string, unknown>, 'train');
    const fail = (message: string): never =>
      command.error(`seqae train: ${message}`, { exitCode: 2 });
    let read: Awaited<ReturnType<typeof readWindows>>;
    try {
      read = await readWindows(config, opts);
    } catch (err) {
      // a missing file, a column not in the header: the user's to fix
      return fail((err as Error).message);
    }
    const { windows, bad } = read;
    if (bad > 0)
      process.stderr.write(`seqae train: ${bad} rows of ${opts.csv} are no reading, left out\n`);
    if (windows.length < 2)
      return fail(
        `${opts.csv} gave ${windows.length} windows of ${config.producer.window} readings: give a longer file or a smaller --window`,
      );
    await initBackend(config.backend, { scoring: false });
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const progress = epochReporter(opts.progress);
    const options = { onEpoch: progress.onEpoch, signal: abort.signal };
    try {
      const result = opts.out
        ? await trainToFile(config, { ...opts, out: opts.out }, windows, options)
        : await trainToRegistry(config, opts, windows, options);
      progress.stop();
      const { summary, ...rest } = result;
      process.stdout.write(
        `${JSON.stringify({
          ...rest,
          windows: windows.length,
          badRows: bad,
          epochs: summary.epochs,
          stoppedEarly: summary.stoppedEarly,
          loss: summary.final.loss,
          validationLoss: summary.validation?.loss,
        })}\n`,
      );
    } catch (err) {
      progress.stop();
      if (err instanceof CancelledError && abort.signal.aborted) {
        process.stderr.write('seqae train: stopped, nothing published\n');
        process.exit(130);
      }
      throw err;
    }
    process.exit(0);
  });
}
