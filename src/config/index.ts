import { availableParallelism } from 'node:os';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { redact } from '../log/redact.js';
import {
  DEFAULT_HTTP_PORT,
  declarations,
  settings,
  type CommandName,
  type Resolved,
} from './settings.js';

/**
 * The configuration of a process, read from environment variables once at its edge and passed down
 * typed. Its shape is that of the declarations in ./settings.ts, with a few values derived here.
 */

/** The settings as declared, before the values derived from them. */
type Declared = Resolved<typeof settings>;

export type SeqaeConfig = Omit<Declared, 'kafka' | 'topics' | 'queues' | 'http'> & {
  kafka: Omit<Declared['kafka'], 'sasl'> & { sasl?: KafkaSasl };
  topics: Topics;
  queues: Queues;
  http: { host: string; port: number };
  worker: { groupId: string; trainPool: number };
  producer: { groupId: string };
};

export type WorkerSettings = SeqaeConfig['worker'];
export type ProducerSettings = SeqaeConfig['producer'];
export type Role = WorkerSettings['roles'][number];

interface KafkaSasl {
  mechanism: NonNullable<Declared['kafka']['sasl']['mechanism']>;
  username: string;
  password: string;
}

export interface Topics {
  readings: string;
  windows: string;
  reconstructions: string;
  predictions: string;
  embeddings: string;
  anomalies: string;
  /** Operators' false-alarm marks (`seqae feedback`), read by every worker. */
  feedback: string;
  dlq: string;
}

export interface Queues {
  /** Redis key prefix of BullMQ (BullMQ's own `prefix` option). */
  prefix: string;
  infer: string;
  train: string;
}

/** Topic names for a prefix: `seqae.` gives `seqae.windows`, `seqae.dlq`, … */
export function topicNames(prefix: string): Topics {
  const t = (name: string) => `${prefix}${name}`;
  return {
    readings: t('readings'),
    windows: t('windows'),
    reconstructions: t('reconstructions'),
    predictions: t('predictions'),
    embeddings: t('embeddings'),
    anomalies: t('anomalies'),
    feedback: t('feedback'),
    dlq: t('dlq'),
  };
}

/** A configuration and the lines to log about how it was given (deprecated variable names). */
export interface LoadedConfig {
  config: SeqaeConfig;
  deprecations: string[];
}

type Variables = Record<string, string | undefined>;

/**
 * Reads and validates every setting. `overrides` (CLI flags) win over `env`; both are keyed by variable
 * name, and a variable's current name wins over its former ones. Throws a ConfigError naming the first
 * bad variable.
 */
export function readConfig(
  env: Variables = process.env,
  overrides: Variables = {},
  command: CommandName = 'worker',
): LoadedConfig {
  const declared: Record<string, unknown> = {};
  const deprecations: string[] = [];
  for (const [path, s] of declarations(settings)) {
    const names = [s.env!, ...(s.formerEnv ?? [])];
    const given = [overrides, env]
      .flatMap((source) => names.map((variable) => ({ variable, raw: source[variable] })))
      .filter((g) => g.raw !== undefined);
    const [chosen] = given;
    for (const former of new Set(given.map((g) => g.variable)))
      if (former !== s.env)
        deprecations.push(
          `${former} is deprecated${chosen!.variable === former ? '' : ` and ignored`}: use ${s.env}`,
        );
    const variable = chosen?.variable ?? s.env!;
    const raw = chosen?.raw;
    const result = (s.schema as z.ZodType).safeParse(
      raw === undefined || raw === '' ? s.default : raw,
    );
    if (!result.success) {
      const issue = result.error.issues[0];
      const got = s.secret ? 'value not shown' : `got ${JSON.stringify(redact(raw ?? ''))}`;
      throw new ConfigError(variable, `${issue?.message ?? 'invalid'} (${got})`);
    }
    let node = declared;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path.at(-1)!] = result.data;
  }
  return { config: derive(declared as Declared, command), deprecations };
}

/** `readConfig` without the deprecation lines. */
export function loadConfig(env: Variables = process.env, overrides: Variables = {}): SeqaeConfig {
  return readConfig(env, overrides).config;
}

/** The values that come from other settings, and the checks that span several. */
function derive(d: Declared, command: CommandName): SeqaeConfig {
  const { mechanism, username, password } = d.kafka.sasl;
  let sasl: KafkaSasl | undefined;
  if (mechanism) {
    const needed = `required when ${settings.kafka.sasl.mechanism.env} is set`;
    if (!username) throw new ConfigError(settings.kafka.sasl.username.env, needed);
    if (!password) throw new ConfigError(settings.kafka.sasl.password.env, needed);
    sasl = { mechanism, username, password };
  }
  if (command === 'produce' && d.producer.window > d.maxWindowValues)
    throw new ConfigError(
      settings.producer.window.env,
      `${d.producer.window} readings a window exceed ${settings.maxWindowValues.env}=${d.maxWindowValues}`,
    );
  return {
    ...d,
    redis: { ...d.redis, tls: d.redis.tls || d.redis.url.startsWith('rediss://') },
    kafka: { ...d.kafka, sasl },
    topics: topicNames(d.topics.prefix),
    http: {
      host: d.http.host,
      port: d.http.port ?? DEFAULT_HTTP_PORT[command === 'produce' ? 'produce' : 'worker'],
    },
    queues: {
      prefix: d.queues.prefix,
      infer: `${d.queues.namePrefix}infer`,
      train: `${d.queues.namePrefix}train`,
    },
    worker: {
      ...d.worker,
      groupId: d.worker.groupId ?? groupFor(d.topics.prefix, 'stream'),
      trainPool: d.worker.trainPool ?? availableParallelism(),
    },
    producer: {
      ...d.producer,
      groupId: d.producer.groupId ?? groupFor(d.topics.prefix, 'producer'),
      sinks: [...new Set(d.producer.sinks)],
      // At least one whole batch may be in flight.
      inFlight: Math.max(d.producer.inFlight, d.producer.batch),
    },
  };
}

/**
 * The default consumer group of a role: one per topic prefix (`seqae.` gives `seqae-stream`), so that
 * workers of two prefixes never join one group and get each other's partitions.
 */
function groupFor(topicPrefix: string, role: string): string {
  const base = topicPrefix.replace(/[._-]+$/, '');
  return base ? `${base}-${role}` : role;
}
