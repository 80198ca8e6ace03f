import { readConfig, type SeqaeConfig } from '../config/index.js';
import type { CommandName } from '../config/settings.js';
import { createLogger, secretsOf, type Logger } from '../log/index.js';
import type { PipelineStats } from '../producer/pipeline.js';
import { Producer, type ProduceOptions } from '../producer/producer.js';
import { WorkerProcess } from '../worker/process.js';

/**
 * Factories for services that embed seqae: the same Producer and WorkerProcess as `seqae produce`
 * and `seqae worker`, configured the same way (settings by variable name, validated once here).
 */
export interface EmbedOptions {
  /** A configuration already loaded (loadConfig); else one is read from `env` and `settings`. */
  config?: SeqaeConfig;
  /** Where settings are read. Default process.env. */
  env?: Record<string, string | undefined>;
  /** Settings by variable name (`{ SEQAE_ROLES: 'stream' }`), over `env`. */
  settings?: Record<string, string>;
  /** Default: pino JSON lines on stderr at the configuration's log level. */
  log?: Logger;
}

function configure(o: EmbedOptions, command: CommandName, name: string) {
  const config = o.config ?? readConfig(o.env ?? process.env, o.settings ?? {}, command).config;
  const log = o.log ?? createLogger(config.logLevel, name, {}, secretsOf(config));
  return { config, log };
}

/**
 * Starts a worker with the roles of its configuration (SEQAE_ROLES) and its HTTP server; resolves
 * once it takes work. Stop it with `await worker.stop()`.
 */
export async function createWorker(options: EmbedOptions = {}): Promise<WorkerProcess> {
  const { config, log } = configure(options, 'worker', 'seqae-worker');
  return WorkerProcess.start(config, log);
}

/** A producer running in the background: `done` settles when its source ends (or it is stopped). */
export interface RunningProducer {
  producer: Producer;
  /** The final statistics, once everything read was sent and the producer closed. */
  done: Promise<PipelineStats>;
  /** Stops reading, sends what was read, closes; resolves with the final statistics. */
  stop(): Promise<PipelineStats>;
}

/**
 * Starts a producer reading `produce.source` (`synthetic:sine?streams=4`, `csv:<path>`, …) into the
 * sinks of its configuration (SEQAE_SINKS), with `produce`'s options over the configuration's.
 */
export function createProducer(
  produce: Omit<ProduceOptions, 'log'>,
  options: EmbedOptions = {},
): RunningProducer {
  const { config, log } = configure(options, 'produce', 'seqae-producer');
  const producer = new Producer(config, { ...produce, log });
  const done = producer.run().finally(() => producer.close());
  return {
    producer,
    done,
    stop: () => {
      producer.stop();
      return done;
    },
  };
}
