import { InvalidArgumentError, Option, type Command } from 'commander';
import type { SeqaeConfig } from '../config/index.js';
import { ModelRegistry, type ModelMeta } from '../model-registry/index.js';
import { createRedis } from '../transport/redis.js';
import { addSettingFlags, configFrom } from './options.js';
import { outputFormat, print, table, type OutputFormat } from './output.js';

const versionOption = () =>
  new Option(
    '--version <n>',
    'one version (default: the newest for show, every one for delete)',
  ).argParser((text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a version number, 1, 2, …');
    return n;
  });
const jsonOption = () => new Option('--json', 'JSON even on a terminal (the default in a pipe)');

/** Runs `fn` with the model registry of `config`, then closes its connection. */
async function withRegistry<T>(
  config: SeqaeConfig,
  fn: (registry: ModelRegistry) => Promise<T>,
): Promise<T> {
  const redis = createRedis(config, { name: 'seqae-models' });
  try {
    return await fn(new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 1 }));
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

/** One line about a model's newest version, for `models list`. */
function summary(meta: ModelMeta, versions: number[]) {
  const config = meta.config as { nIn?: number; features?: number; units?: number };
  return {
    modelId: meta.modelId,
    latest: meta.version,
    versions,
    variant: meta.variant,
    window: `${config.nIn}x${config.features}`,
    units: config.units,
    loss: meta.summary?.final.loss,
    epochs: meta.summary?.epochs,
    streams: meta.streams.length,
    createdAt: new Date(meta.createdAt).toISOString(),
  };
}

/** A subcommand of `models` with the flags of the settings it reads. */
const subcommand = (models: Command, name: string) =>
  addSettingFlags(models.command(name), 'models');

/** `seqae models list | show | delete`: the model registry in Redis. */
export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description('list, show and delete the models in the registry (Redis, SEQAE_KEY_PREFIX)');
  /** The command's configuration, and its way of refusing a model or version that is not there. */
  const context = (command: Command) => {
    const { config } = configFrom(command.opts(), 'models');
    const missing = (id: string, version?: number): never =>
      command.error(
        `seqae models ${command.name()}: model ${id}${version ? ` v${version}` : ''} is not in the registry at ${config.redis.url} (prefix ${config.redis.keyPrefix}); see seqae models list`,
        { exitCode: 2 },
      );
    return { config, missing };
  };

  subcommand(models, 'list')
    .description('the models with their newest version: shape, loss, versions kept')
    .addOption(jsonOption())
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { config } = context(command);
      const rows = await withRegistry(config, async (registry) => {
        const out: ReturnType<typeof summary>[] = [];
        for (const id of await registry.list()) {
          const found = await registry.get(id).catch(() => undefined);
          if (found) out.push(summary(found.meta, await registry.versions(id)));
        }
        return out;
      });
      const format: OutputFormat = outputFormat(opts.json);
      print(format, rows, () =>
        rows.length === 0
          ? `no models (prefix ${config.redis.keyPrefix})`
          : table(
              rows.map((r) => ({
                ...r,
                versions: r.versions.join(','),
                loss: r.loss?.toPrecision(4),
              })),
              [
                'modelId',
                'latest',
                'versions',
                'variant',
                'window',
                'units',
                'loss',
                'epochs',
                'createdAt',
              ],
            ),
      );
    });

  subcommand(models, 'show')
    .description("a version's metadata: configuration, training summary, error statistics")
    .argument('<id>', 'model id')
    .addOption(versionOption())
    .addOption(jsonOption())
    .action(async (id: string, opts: { version?: number; json?: boolean }, command: Command) => {
      const { config, missing } = context(command);
      const meta = await withRegistry(config, async (registry) => {
        const version = opts.version ?? (await registry.latestVersion(id));
        return version === undefined ? undefined : registry.meta(id, version);
      });
      if (!meta) return missing(id, opts.version);
      print(outputFormat(opts.json), meta, () => JSON.stringify(meta, null, 2));
    });

  subcommand(models, 'delete')
    .description('delete one version of a model, or the whole model')
    .argument('<id>', 'model id')
    .addOption(versionOption())
    .addOption(jsonOption())
    .action(async (id: string, opts: { version?: number; json?: boolean }, command: Command) => {
      const { config, missing } = context(command);
      const deleted = await withRegistry(config, (registry) => registry.delete(id, opts.version));
      if (deleted.length === 0) return missing(id, opts.version);
      print(
        outputFormat(opts.json),
        { modelId: id, deleted },
        () => `deleted model ${id} version${deleted.length > 1 ? 's' : ''} ${deleted.join(', ')}`,
      );
    });
}
