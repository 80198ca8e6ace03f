import type { Command } from 'commander';
import { loadConfig, type SeqaeConfig } from '../config/index.js';

/** A CLI flag and the environment variable it overrides. */
export type FlagSpec = [flag: string, variable: string, description: string];

/** Flags every command takes: the connection and naming settings. */
export const commonFlags: FlagSpec[] = [
  ['--redis-url <url>', 'REDIS_URL', 'Redis URL (redis:// or rediss://)'],
  ['--kafka-brokers <list>', 'KAFKA_BROKERS', 'Kafka bootstrap brokers, host:port,…'],
  ['--client-id <id>', 'KAFKA_CLIENT_ID', 'Kafka client id'],
  ['--topic-prefix <prefix>', 'SEQAE_TOPIC_PREFIX', 'prefix of every topic name'],
  ['--queue-prefix <prefix>', 'SEQAE_QUEUE_PREFIX', 'prefix of the BullMQ queue names'],
  ['--key-prefix <prefix>', 'SEQAE_KEY_PREFIX', 'prefix of seqae keys in Redis'],
  [
    '--backend <name>',
    'SEQAE_BACKEND',
    'compute backend: auto, onnx (score on ONNX Runtime), node, wasm, cpu',
  ],
  ['--http-host <host>', 'SEQAE_HTTP_HOST', 'bind address of /metrics, /healthz, /readyz'],
  [
    '--http-port <port>',
    'SEQAE_HTTP_PORT',
    'port of /metrics, /healthz, /readyz (0: any free one)',
  ],
  ['--log-level <level>', 'SEQAE_LOG_LEVEL', 'trace, debug, info, warn, error, fatal, silent'],
];

const attribute = (flag: string) =>
  flag
    .replace(/^--/, '')
    .replace(/ .*$/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Declares the flags on a command, naming the variable each overrides in its help. */
export function addFlags(command: Command, flags: FlagSpec[]): Command {
  for (const [flag, variable, description] of flags)
    command.option(flag, `${description} [${variable}]`);
  return command;
}

/**
 * The configuration from the environment with the given flags on top. This process's environment is
 * left as it is: a training child gets the resolved configuration from its parent (TrainWorker).
 */
export function configFrom(options: Record<string, unknown>, flags: FlagSpec[]): SeqaeConfig {
  const overrides: Record<string, string> = {};
  for (const [flag, variable] of flags) {
    const value = options[attribute(flag)];
    if (value !== undefined) overrides[variable] = String(value);
  }
  return loadConfig(process.env, overrides);
}
