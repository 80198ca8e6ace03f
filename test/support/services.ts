/**
 * Helpers for integration tests against the real Redis and Kafka that test/setup/services.ts found
 * or started. `testConfig(name)` isolates a test file: its topics, queues, BullMQ prefix and Redis
 * keys all carry `t<run>` and the name, so runs never see each other's data and a rerun starts clean.
 */
import { inject } from 'vitest';
import type { Admin } from 'kafkajs';
import { loadConfig, type SeqaeConfig } from '../../src/config/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { unlinkMatching } from './redis.js';

export interface TestServices {
  redisUrl: string;
  kafkaBrokers: string;
  runId: string;
}

/** The services of this run, from the global setup (`inject`), else from process.env. */
export function testServices(): TestServices {
  const provided = inject('seqaeServices');
  if (provided) return provided;
  const { REDIS_URL, KAFKA_BROKERS, SEQAE_TEST_RUN } = process.env;
  if (!REDIS_URL || !KAFKA_BROKERS || !SEQAE_TEST_RUN)
    throw new Error(
      'no test services: run integration tests through vitest (`npx vitest run --project integration`), whose global setup provides them',
    );
  return { redisUrl: REDIS_URL, kafkaBrokers: KAFKA_BROKERS, runId: SEQAE_TEST_RUN };
}

/** Letters, digits, `_` and `-` only: valid in topic, queue, BullMQ and Redis key names alike. */
function safeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  if (!safe) throw new Error(`testConfig: name ${JSON.stringify(name)} has no usable characters`);
  return safe;
}

/**
 * The variables of one test file (or test) named `name`, pointing at this run's services: topics
 * `t<run>.<name>.windows`…, queues `t<run>-<name>-infer`…, BullMQ prefix `bull-t<run>-<name>`, Redis
 * key prefix `t<run>.<name>`, then `overrides`. For a child process configured like a container.
 */
export function testEnv(
  name: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const { redisUrl, kafkaBrokers, runId } = testServices();
  const tag = `t${runId}`;
  const safe = safeName(name);
  return {
    REDIS_URL: redisUrl,
    KAFKA_BROKERS: kafkaBrokers,
    KAFKA_CLIENT_ID: `seqae-test-${safe}`,
    SEQAE_TOPIC_PREFIX: `${tag}.${safe}.`,
    SEQAE_QUEUE_PREFIX: `${tag}-${safe}-`,
    SEQAE_BULLMQ_KEY_PREFIX: `bull-${tag}-${safe}`,
    SEQAE_KEY_PREFIX: `${tag}.${safe}`,
    ...overrides,
  };
}

/** The validated configuration of testEnv(name, overrides), over this process's variables. */
export function testConfig(name: string, overrides: Record<string, string> = {}): SeqaeConfig {
  return loadConfig(process.env, testEnv(name, overrides));
}

/** Runs `fn` with a connected kafkajs admin client, disconnecting afterwards. */
export async function withKafkaAdmin<T>(
  config: SeqaeConfig,
  fn: (admin: Admin) => Promise<T>,
): Promise<T> {
  const admin = createKafka(config, { clientId: `${config.kafka.clientId}-admin` }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates `topics` (those missing) with `partitions` partitions each and waits for their leaders. */
export async function createTopics(
  config: SeqaeConfig,
  topics: string[],
  partitions = 1,
): Promise<void> {
  await withKafkaAdmin(config, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length === 0) return;
    await admin.createTopics({
      topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
      waitForLeaders: true,
    });
  });
}

/**
 * Deletes the Redis keys of `config`: its BullMQ prefix and its key prefix. Returns how many.
 * (The global setup also deletes every key of the run at teardown.)
 */
export async function cleanupRedis(config: SeqaeConfig): Promise<number> {
  const redis = createRedis(config, { name: 'seqae-test-cleanup' });
  try {
    // `[:.]` so that the prefix `t1.foo` never matches the keys of a file named `foo2`.
    const k = config.redis.keyPrefix;
    return await unlinkMatching(redis, [`${config.queues.prefix}:*`, k, `${k}[:.]*`]);
  } finally {
    redis.disconnect();
  }
}
