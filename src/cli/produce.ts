import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { CancelledError, SeqaeError } from '../errors/index.js';
import { startHttpServer, type HttpServer } from '../http/index.js';
import { createLogger, secretsOf } from '../log/index.js';
import { createMetricsRegistry } from '../metrics/registry.js';
import type { PipelineStats } from '../producer/pipeline.js';
import { Producer, type ProduceOptions, type SinkName } from '../producer/producer.js';
import type { CsvColumns } from '../producer/sources/csv.js';
import { streamIdSchema } from '../contracts/window.js';
import { produceOptions } from '../config/settings.js';
import { addSettingFlags, configFrom, startOrExit } from './options.js';
import type { Registry } from 'prom-client';
import type { SeqaeConfig } from '../config/index.js';
import type { Logger } from '../log/index.js';

function formatSummary(stats: PipelineStats, stopped: boolean) {
  return {
    source: stats.source,
    readings: stats.readings,
    windows: stats.windows,
    sent: stats.sent,
    rejected: stats.rejected,
    deadLetters: stats.deadLetters,
    gaps: stats.gaps,
    filled: stats.filled,
    restarts: stats.restarts,
    trainingRequests: stats.trainingRequests,
    seconds: Number(stats.seconds.toFixed(3)),
    windowsPerSecond: Math.round(stats.windowsPerSecond),
    stopped,
  };
}

/** `seqae produce`: readings from a source, cut into windows, onto Kafka and/or BullMQ. */
export function registerProduce(program: Command): Command {
  const command = program
    .command('produce')
    .description(
      'cut sensor readings into sequence windows and send them to Kafka and/or BullMQ; bad input goes to the DLQ topic',
    );
  addSettingFlags(command, 'produce', produceOptions);
  command.action(async (opts: Record<string, unknown>) => {
    const { config, deprecations } = configFrom(opts, 'produce');
    const log = createLogger(config.logLevel, 'seqae-producer', {}, secretsOf(config));
    for (const line of deprecations) log.warn(line);
    for (const id of [opts.stream, opts.modelId])
      if (id !== undefined && !streamIdSchema.safeParse(id).success)
        command.error(`seqae produce: "${String(id)}": 1-200 characters, no whitespace or ':'`, {
          exitCode: 2,
        });
    const registry = createMetricsRegistry({ role: 'producer' });
    const options = produceOptionsOf(opts, config, registry, log);
    let producer: Producer;
    try {
      producer = new Producer(config, options);
    } catch (err) {
      // a bad source spec, a missing file, an unknown column: the user's to fix, one line
      console.error(`seqae produce: ${(err as Error).message}`);
      process.exit(2);
    }

    let http: HttpServer | undefined;
    if (opts.http) {
      const { host, port } = config.http;
      http = await startOrExit(
        () => startHttpServer({ host, port, metricsRegistry: registry }),
        'produce',
      );
      log.info({ url: `${http.url}/metrics` }, 'metrics served');
    }

    let stopped = false;
    const stop = (signal: string) => {
      if (stopped) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopped = true;
      log.info({ signal }, 'stopping: no more reading, sending what was read');
      producer.stop();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));

    const bar = opts.progress && process.stderr.isTTY ? progressBar(producer) : undefined;

    let code = 0;
    try {
      const stats = await producer.run();
      bar?.finish();
      process.stdout.write(`${JSON.stringify(formatSummary(stats, stopped))}\n`);
    } catch (err) {
      if (err instanceof CancelledError && stopped) {
        log.warn(
          { err: err.message },
          'stopped while waiting on a full queue; unsent windows dropped',
        );
        process.stdout.write(`${JSON.stringify(formatSummary(producer.pipeline.stats(), true))}\n`);
      } else if (err instanceof SeqaeError && err.code === 'config') {
        // refused Redis credentials: the user's to fix, one line as for any bad setting
        console.error(`seqae produce: ${err.message}`);
        code = 2;
      } else {
        log.error({ err }, 'producer failed');
        code = 1;
      }
    } finally {
      bar?.stop();
      await producer.close();
      await http?.close();
    }
    process.exit(code);
  });
  return command;
}

/** The producer's options from the command's flags and settings. */
function produceOptionsOf(
  opts: Record<string, unknown>,
  config: SeqaeConfig,
  registry: Registry,
  log: Logger,
): ProduceOptions {
  const columns = opts.columns as CsvColumns | undefined;
  const streamColumn = opts.streamColumn as string | undefined;
  return {
    source: opts.source as string,
    streamId: opts.stream as string | undefined,
    sinks: config.producer.sinks as SinkName[],
    speed: opts.speed as number,
    columns:
      columns || streamColumn !== undefined
        ? {
            ...columns,
            stream:
              streamColumn === undefined
                ? undefined
                : /^\d+$/.test(streamColumn)
                  ? Number(streamColumn)
                  : streamColumn,
          }
        : undefined,
    header: opts.header as boolean,
    delimiter: opts.delimiter as string,
    windows: opts.step ? { step: opts.step as number } : undefined,
    deadLetters: opts.dlq as boolean,
    train: opts.train
      ? { windows: opts.train as number, modelId: opts.modelId as string | undefined }
      : undefined,
    idleExitMs: opts.idleExit as number | undefined,
    registry,
    log,
  };
}

/** A progress bar on stderr for a source of known size (a file); undefined for others. */
function progressBar(producer: Producer): { finish(): void; stop(): void } | undefined {
  const progress = producer.source.progress;
  if (!progress) return undefined;
  const bar = new SingleBar({
    format:
      ' {bar} {percentage}% | readings {readings} | windows {windows} | {rate} windows/s | {rejected} rejected',
    hideCursor: true,
    stream: process.stderr,
  });
  const payload = () => {
    const s = producer.pipeline.stats();
    const rejected = Object.values(s.rejected).reduce((a, b) => a + b, 0);
    return {
      readings: s.readings,
      windows: Math.min(...Object.values(s.sent), s.windows),
      rate: Math.round(s.windowsPerSecond),
      rejected,
    };
  };
  bar.start(progress.total, 0, payload());
  const tick = setInterval(() => bar.update(progress.done(), payload()), 200);
  return {
    finish: () => bar.update(progress.total, payload()),
    stop: () => {
      clearInterval(tick);
      bar.stop();
    },
  };
}
