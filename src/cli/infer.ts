import type { Command } from 'commander';
import { initBackend, scoringEngine } from '../backend/index.js';
import type { SeqaeConfig } from '../config/index.js';
import { inferOptions } from '../config/settings.js';
import { outputPayloads, type WindowOutputs } from '../contracts/outputs.js';
import { readModelFile } from '../model-registry/file.js';
import { ModelRegistry, type ModelVersion } from '../model-registry/index.js';
import { createRedis } from '../transport/redis.js';
import { loadModelVersion } from '../scoring/model-cache.js';
import { anomalyScoring, WindowScorer } from '../scoring/window-scorer.js';
import { inputSource, windowsOf, type InputOptions } from './input.js';
import { addSettingFlags, configFrom } from './options.js';

type InferRun = InputOptions & {
  input: string;
  model?: string;
  version?: number;
  modelFile?: string;
};

/** The version to score with, from the registry or a file; undefined when the registry has none. */
async function findModel(config: SeqaeConfig, run: InferRun): Promise<ModelVersion | undefined> {
  if (run.modelFile) return readModelFile(run.modelFile);
  const redis = createRedis(config, { name: 'seqae-infer' });
  try {
    const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 1 });
    return await registry.get(run.model!, run.version);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** One NDJSON line of a window: its identity, score and errors, reconstruction, prediction, embedding. */
const line = (o: WindowOutputs) =>
  `${JSON.stringify(Object.assign({}, ...Object.values(outputPayloads(o))))}\n`;

/** `seqae infer`: windows of a CSV or NDJSON input scored by one model, as NDJSON on stdout. */
export function registerInfer(program: Command): void {
  const command = program
    .command('infer')
    .description(
      'score the windows of a CSV or NDJSON input with a model of the registry or a model file, as the workers score them: one NDJSON line per window on stdout (score, errors, reconstruction, prediction, embedding)',
    );
  addSettingFlags(command, 'infer', inferOptions).action(async (opts: InferRun) => {
    const { config } = configFrom(opts as unknown as Record<string, unknown>, 'infer');
    const fail = (message: string): never =>
      command.error(`seqae infer: ${message}`, { exitCode: 2 });
    if (Boolean(opts.model) === Boolean(opts.modelFile))
      fail('give one of --model <id> (the registry) or --model-file <file> (seqae train --out)');
    if (opts.version !== undefined && !opts.model) fail('--version goes with --model');

    let source;
    try {
      source = inputSource(opts.input, config, opts);
    } catch (err) {
      return fail((err as Error).message);
    }
    const found = await findModel(config, opts).catch((err: Error) => fail(err.message));
    if (!found)
      return fail(
        `model ${opts.model}${opts.version ? ` v${opts.version}` : ''} is not in the registry (prefix ${config.redis.keyPrefix}); see seqae models list`,
      );
    const backend = await initBackend(config.backend);
    const loaded = await loadModelVersion(found, {
      kind: scoringEngine(backend),
      threads: config.worker.onnxThreads,
    });
    const { nIn, features } = loaded.model.config;
    const scorer = new WindowScorer(
      { use: (_, fn) => fn(loaded) },
      anomalyScoring(config.worker.anomaly),
    );
    const counts = { windows: 0, scored: 0, rejected: 0, bad: 0 };
    try {
      for await (const batch of windowsOf(source, config, opts.step)) {
        counts.windows += batch.windows.length;
        counts.bad += batch.bad.length;
        if (batch.windows.length === 0) continue;
        const r = (await scorer.score(loaded.modelId, batch.windows, config.worker.batchMax))!;
        counts.scored += r.outputs.length;
        counts.rejected += r.rejected.length;
        const text = r.outputs.map(line).join('');
        if (text && !process.stdout.write(text))
          await new Promise((resolve) => process.stdout.once('drain', resolve));
      }
    } catch (err) {
      // a column not in the header: the user's to fix
      if (err instanceof RangeError) return fail(err.message);
      throw err;
    } finally {
      loaded.engine.dispose();
      loaded.model.dispose();
    }
    if (counts.bad > 0)
      process.stderr.write(`seqae infer: ${counts.bad} input lines are no reading, left out\n`);
    if (counts.rejected > 0)
      fail(
        `${counts.rejected} of ${counts.windows} windows do not fit model ${loaded.modelId} v${loaded.version} (${nIn} readings × ${features} values): set --window ${nIn} and the value columns`,
      );
    process.exit(0);
  });
}
