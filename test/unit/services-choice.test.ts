import { describe, expect, it } from 'vitest';
import {
  chooseServices,
  ServicesUnavailableError,
  type ServicesFacts,
} from '../../test/setup/choose.js';

/** A machine with nothing: no env, no Docker, no servers, no tools. */
const nothing: ServicesFacts = {
  env: {},
  docker: false,
  redisAnswers: false,
  redisServer: false,
  kafkaAnswers: false,
  java: false,
  kafkaJars: false,
  maven: false,
};
const facts = (over: Partial<ServicesFacts>): ServicesFacts => ({ ...nothing, ...over });
const scriptsCan = { redisServer: true, java: true, maven: true };

describe('chooseServices', () => {
  it('takes REDIS_URL and KAFKA_BROKERS from the environment first, even with Docker', () => {
    expect(
      chooseServices(
        facts({
          env: { REDIS_URL: 'redis://r:6379', KAFKA_BROKERS: 'k:9092' },
          docker: true,
          ...scriptsCan,
        }),
      ),
    ).toEqual({ redis: 'env', kafka: 'env' });
  });

  it('decides per service: env for one, the next source for the other', () => {
    expect(chooseServices(facts({ env: { REDIS_URL: 'redis://r:6379' }, docker: true }))).toEqual({
      redis: 'env',
      kafka: 'testcontainers',
    });
    expect(chooseServices(facts({ env: { KAFKA_BROKERS: 'k:9092' }, ...scriptsCan }))).toEqual({
      redis: 'scripts',
      kafka: 'env',
    });
  });

  it('ignores blank variables', () => {
    expect(
      chooseServices(facts({ env: { REDIS_URL: ' ', KAFKA_BROKERS: '' }, docker: true })),
    ).toEqual({ redis: 'testcontainers', kafka: 'testcontainers' });
  });

  it('prefers testcontainers when a Docker engine answers', () => {
    expect(chooseServices(facts({ docker: true, ...scriptsCan }))).toEqual({
      redis: 'testcontainers',
      kafka: 'testcontainers',
    });
  });

  it('falls back to the scripts without Docker', () => {
    expect(chooseServices(facts(scriptsCan))).toEqual({ redis: 'scripts', kafka: 'scripts' });
  });

  it('lets the scripts reuse servers that already answer, with no tools installed', () => {
    expect(chooseServices(facts({ redisAnswers: true, kafkaAnswers: true }))).toEqual({
      redis: 'scripts',
      kafka: 'scripts',
    });
  });

  it('needs Java plus resolved jars or Maven to start Kafka from the scripts', () => {
    expect(chooseServices(facts({ redisAnswers: true, java: true, kafkaJars: true })).kafka).toBe(
      'scripts',
    );
    expect(() => chooseServices(facts({ redisAnswers: true, java: true }))).toThrow(/maven/i);
    expect(() =>
      chooseServices(facts({ redisAnswers: true, maven: true, kafkaJars: true })),
    ).toThrow(/Java is not installed/);
  });

  it('fails with one error naming everything missing and how to get it', () => {
    let error: unknown;
    try {
      chooseServices(nothing);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServicesUnavailableError);
    const e = error as ServicesUnavailableError;
    expect(e.missing).toHaveLength(2);
    expect(e.message).toMatch(/redis-server/);
    expect(e.message).toMatch(/openjdk/);
    expect(e.message).toMatch(/REDIS_URL \/ KAFKA_BROKERS/);
  });

  it('SEQAE_TEST_SERVICES=scripts skips Docker', () => {
    expect(
      chooseServices(
        facts({ env: { SEQAE_TEST_SERVICES: 'scripts' }, docker: true, ...scriptsCan }),
      ),
    ).toEqual({ redis: 'scripts', kafka: 'scripts' });
  });

  it('SEQAE_TEST_SERVICES=testcontainers insists on Docker', () => {
    expect(() =>
      chooseServices(facts({ env: { SEQAE_TEST_SERVICES: 'testcontainers' }, ...scriptsCan })),
    ).toThrow(/no Docker engine answers/);
    expect(
      chooseServices(facts({ env: { SEQAE_TEST_SERVICES: 'testcontainers' }, docker: true })),
    ).toEqual({ redis: 'testcontainers', kafka: 'testcontainers' });
  });

  it('rejects an unknown SEQAE_TEST_SERVICES', () => {
    expect(() =>
      chooseServices(facts({ env: { SEQAE_TEST_SERVICES: 'docker' }, docker: true })),
    ).toThrow(/SEQAE_TEST_SERVICES/);
  });
});
