/**
 * Vitest global setup of the `integration` project: finds or starts real Redis and Kafka (order in
 * test/setup/choose.ts), gives the run an id, and hands both to the test workers through vitest's
 * `provide` (read with `inject('seqaeServices')`, see test/support/services.ts) and through
 * REDIS_URL / KAFKA_BROKERS / SEQAE_TEST_RUN in process.env, which the forked workers inherit.
 * At teardown it deletes the run's Redis keys and Kafka topics (unless SEQAE_TEST_KEEP=1) and stops
 * what it started.
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { hasJava, hasMaven, kafkaAnswers, kafkaJarsReady } from '../../src/services/kafka.js';
import { hasRedisServer, redisAnswers } from '../../src/services/redis.js';
import { repoRoot, servicesRelease, servicesUp } from '../../src/services/index.js';
import { raceTimeout } from '../../src/util/timeout.js';
import { unlinkMatching } from '../support/redis.js';
import { chooseServices, type ServicesChoice, type ServicesFacts } from './choose.js';

export interface SeqaeTestServices {
  redisUrl: string;
  kafkaBrokers: string;
  /** This run's id; every name a test creates carries `t<runId>`. */
  runId: string;
  source: ServicesChoice;
}

declare module 'vitest' {
  export interface ProvidedContext {
    seqaeServices: SeqaeTestServices;
  }
}

const DEFAULT_REDIS = 'redis://127.0.0.1:6379';
const DEFAULT_KAFKA = '127.0.0.1:9092';
const log = (line: string) => console.error(`[services] ${line}`);

async function dockerAnswers(timeoutMs = 5_000): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    return await raceTimeout(
      getContainerRuntimeClient().then(() => true),
      timeoutMs,
      () => false,
    );
  } catch {
    return false;
  }
}

async function gatherFacts(env: NodeJS.ProcessEnv): Promise<ServicesFacts> {
  const needRedis = !env.REDIS_URL?.trim();
  const needKafka = !env.KAFKA_BROKERS?.trim();
  const wantDocker = (needRedis || needKafka) && env.SEQAE_TEST_SERVICES !== 'scripts';
  const [docker, redisUp, kafkaUp] = await Promise.all([
    wantDocker ? dockerAnswers() : false,
    needRedis ? redisAnswers(DEFAULT_REDIS) : false,
    needKafka ? kafkaAnswers([DEFAULT_KAFKA]).then((n) => n !== undefined) : false,
  ]);
  return {
    env: {
      REDIS_URL: env.REDIS_URL,
      KAFKA_BROKERS: env.KAFKA_BROKERS,
      SEQAE_TEST_SERVICES: env.SEQAE_TEST_SERVICES,
    },
    docker,
    redisAnswers: redisUp,
    redisServer: needRedis && !redisUp && hasRedisServer(),
    kafkaAnswers: kafkaUp,
    java: needKafka && !kafkaUp && hasJava(),
    kafkaJars: needKafka && kafkaJarsReady(repoRoot),
    maven: needKafka && !kafkaUp && !kafkaJarsReady(repoRoot) && hasMaven(),
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const choice = chooseServices(await gatherFacts(env));
  const stops: (() => Promise<unknown>)[] = [];
  let redisUrl = env.REDIS_URL?.trim() || DEFAULT_REDIS;
  let kafkaBrokers = env.KAFKA_BROKERS?.trim() || DEFAULT_KAFKA;

  try {
    if (choice.redis === 'testcontainers') {
      const { RedisContainer } = await import('@testcontainers/redis');
      const redis = await new RedisContainer(
        env.SEQAE_TEST_REDIS_IMAGE ?? 'redis:7-alpine',
      ).start();
      stops.push(() => redis.stop());
      redisUrl = redis.getConnectionUrl();
    }
    if (choice.kafka === 'testcontainers') {
      const { KafkaContainer } = await import('@testcontainers/kafka');
      const kafka = await new KafkaContainer(
        env.SEQAE_TEST_KAFKA_IMAGE ?? 'confluentinc/cp-kafka:7.9.0',
      )
        .withKraft()
        .start();
      stops.push(() => kafka.stop());
      kafkaBrokers = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
    }
    if (choice.redis === 'scripts' || choice.kafka === 'scripts') {
      const owner = `test-${process.pid}`;
      const up = await servicesUp({
        owner,
        log,
        env: { ...env, REDIS_URL: redisUrl, KAFKA_BROKERS: kafkaBrokers },
      });
      stops.push(() =>
        servicesRelease({
          owner,
          log,
          env: { ...env, REDIS_URL: redisUrl, KAFKA_BROKERS: kafkaBrokers },
        }),
      );
      if (up.started.kafka || up.started.redis)
        log(
          `started ${[up.started.redis && 'redis', up.started.kafka && 'kafka'].filter(Boolean).join(' and ')}`,
        );
    }
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    throw error;
  }

  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  log(
    `redis ${redisUrl} (${choice.redis}), kafka ${kafkaBrokers} (${choice.kafka}), run t${runId}`,
  );
  process.env.REDIS_URL = redisUrl;
  process.env.KAFKA_BROKERS = kafkaBrokers;
  process.env.SEQAE_TEST_RUN = runId;
  project.provide('seqaeServices', { redisUrl, kafkaBrokers, runId, source: choice });

  return async () => {
    if (!['1', 'true', 'yes'].includes(env.SEQAE_TEST_KEEP ?? '')) {
      await cleanupRun(runId, redisUrl, kafkaBrokers.split(',')).catch((error: unknown) =>
        log(`cleanup of run t${runId} failed: ${String(error)}`),
      );
    }
    for (const stop of stops.reverse()) await stop();
  };
}

/** Deletes every Redis key and Kafka topic whose name carries this run's tag. */
async function cleanupRun(runId: string, redisUrl: string, brokers: string[]): Promise<void> {
  const tag = `t${runId}`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    await unlinkMatching(redis, [`${tag}*`, `bull-${tag}*`]);
  } finally {
    redis.disconnect();
  }
  const admin = new Kafka({
    clientId: 'seqae-test-cleanup',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${tag}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}
