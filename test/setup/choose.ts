/**
 * Where integration tests get their Redis and Kafka, decided from facts gathered by the global setup
 * (test/setup/services.ts). Pure so that the order is unit-tested:
 *
 *   1. REDIS_URL / KAFKA_BROKERS from the environment, per service;
 *   2. testcontainers, when a Docker engine answers;
 *   3. the project's own services code (src/services), which reuse a local server that answers or
 *      start redis-server / a Kafka broker from Maven jars;
 *   4. else one error naming everything missing and how to get it.
 *
 * SEQAE_TEST_SERVICES=scripts skips step 2 (Docker present but unwanted); =testcontainers insists on it.
 */
export type ServiceSource = 'env' | 'testcontainers' | 'scripts';

export interface ServicesFacts {
  env: { REDIS_URL?: string; KAFKA_BROKERS?: string; SEQAE_TEST_SERVICES?: string };
  /** A Docker engine answered (testcontainers' runtime detection). */
  docker: boolean;
  /** Redis already answers PING at the scripts' address (REDIS_URL's default, 127.0.0.1:6379). */
  redisAnswers: boolean;
  /** `redis-server` is installed, so the scripts can start one. */
  redisServer: boolean;
  /** A Kafka broker already answers at the scripts' address (127.0.0.1:9092). */
  kafkaAnswers: boolean;
  /** `java` runs, so the scripts can start a broker. */
  java: boolean;
  /** The broker's jars are already resolved (.cache/kafka/libs), or Maven can resolve them. */
  kafkaJars: boolean;
  maven: boolean;
}

export interface ServicesChoice {
  redis: ServiceSource;
  kafka: ServiceSource;
}

export class ServicesUnavailableError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `integration tests need real Redis and Kafka, and none could be found or started:\n` +
        missing.map((m) => `  - ${m}`).join('\n') +
        `\nSet REDIS_URL / KAFKA_BROKERS to running servers, or start a Docker engine (testcontainers), ` +
        `or install what is named above and run \`npm run services:up\`.`,
    );
    this.name = 'ServicesUnavailableError';
  }
}

const set = (v: string | undefined) => v !== undefined && v.trim() !== '';

export function chooseServices(facts: ServicesFacts): ServicesChoice {
  const force = facts.env.SEQAE_TEST_SERVICES?.trim() || undefined;
  if (force !== undefined && force !== 'scripts' && force !== 'testcontainers')
    throw new ServicesUnavailableError([
      `SEQAE_TEST_SERVICES must be "scripts" or "testcontainers" (got ${JSON.stringify(force)})`,
    ]);
  const docker = force !== 'scripts' && facts.docker;
  const scriptsAllowed = force !== 'testcontainers';
  const missing: string[] = [];

  const pick = (
    fromEnv: boolean,
    scripts: boolean,
    whatScriptsNeed: string,
  ): ServiceSource | undefined => {
    if (fromEnv) return 'env';
    if (docker) return 'testcontainers';
    if (scriptsAllowed && scripts) return 'scripts';
    missing.push(
      force === 'testcontainers'
        ? `SEQAE_TEST_SERVICES=testcontainers but no Docker engine answers`
        : whatScriptsNeed,
    );
    return undefined;
  };

  const redis = pick(
    set(facts.env.REDIS_URL),
    facts.redisAnswers || facts.redisServer,
    'Redis: nothing answers PING at redis://127.0.0.1:6379 and `redis-server` is not installed (Debian: apt-get install -y redis-server)',
  );
  const kafka = pick(
    set(facts.env.KAFKA_BROKERS),
    facts.kafkaAnswers || (facts.java && (facts.kafkaJars || facts.maven)),
    !facts.java
      ? 'Kafka: no broker answers at 127.0.0.1:9092 and Java is not installed (Debian: apt-get install -y openjdk-17-jre-headless maven)'
      : 'Kafka: no broker answers at 127.0.0.1:9092, its jars are not resolved and Maven is not installed (Debian: apt-get install -y maven)',
  );
  if (redis === undefined || kafka === undefined) throw new ServicesUnavailableError(missing);
  return { redis, kafka };
}
