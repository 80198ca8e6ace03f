/**
 * Which kafkajs and @platformatic/kafka failures an output sends again (the broker out of reach) and which it reports at
 * once (the broker refused the request), with kafkajs' own error classes as its retrier wraps them.
 */
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs';
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  TimeoutError,
  UserError,
} from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { loginRefused } from '../../src/transport/kafka.js';
import { isUnreachable, refusalOf } from '../../src/transport/unreachable.js';

const refused = () => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED');
// kafkajs' typings give it no arguments; it takes a message like the others.
const badCredentials = new (KafkaJSSASLAuthenticationError as unknown as new (m: string) => Error)(
  'SASL SCRAM SHA256 authentication failed',
);
/** As kafkajs' retrier rejects when it stops (its typings omit the `cause` it passes). */
const gaveUpOn = (e: Error) => Object.assign(new KafkaJSNonRetriableError(e), { cause: e });

describe('isUnreachable', () => {
  it('is true for a connection error, also wrapped by the retrier that gave up on it', () => {
    expect(isUnreachable(refused())).toBe(true);
    expect(isUnreachable(gaveUpOn(refused()))).toBe(true);
    const exhausted = new KafkaJSNumberOfRetriesExceeded(refused(), {
      retryCount: 8,
      retryTime: 1000,
    });
    expect(isUnreachable(exhausted)).toBe(true);
  });

  it('is false for a refusal: too large, bad credentials, anything else', () => {
    const tooLarge = new KafkaJSProtocolError(
      'The request included a message larger than the max message size the server will accept',
    );
    expect(isUnreachable(tooLarge)).toBe(false);
    expect(isUnreachable(gaveUpOn(tooLarge))).toBe(false);
    expect(isUnreachable(badCredentials)).toBe(false);
    expect(isUnreachable(new Error('boom'))).toBe(false);
    expect(isUnreachable(undefined)).toBe(false);
  });
});

/** @platformatic/kafka's errors, as its connection pool and retrier produce them. */
describe('isUnreachable, platformatic', () => {
  const refusedConnection = () =>
    new NetworkError('Connection to 127.0.0.1:1 failed.', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
  const tooLarge = () => new ProtocolError('MESSAGE_TOO_LARGE');

  it('is true for a network error or a timeout, also gathered by the retrier', () => {
    expect(isUnreachable(refusedConnection())).toBe(true);
    expect(isUnreachable(new TimeoutError('Request timed out.'))).toBe(true);
    const noBroker = new MultipleErrors('Cannot connect to any broker.', [refusedConnection()]);
    expect(isUnreachable(noBroker)).toBe(true);
    const gaveUp = new MultipleErrors('produce failed 4 times.', [
      new ProtocolError('NOT_LEADER_OR_FOLLOWER'),
      noBroker,
      noBroker,
    ]);
    expect(isUnreachable(gaveUp)).toBe(true);
  });

  it('is false for a refusal, a bad login (which loginRefused sees) or a client closed on purpose', () => {
    expect(isUnreachable(tooLarge())).toBe(false);
    expect(
      isUnreachable(
        new MultipleErrors('produce failed 2 times.', [refusedConnection(), tooLarge()]),
      ),
    ).toBe(false);
    expect(isUnreachable(new AuthenticationError('SASL authentication failed.'))).toBe(false);
    // A refused login, as platformatic reports it: a failed connection caused by it, retried.
    const badLogin = new NetworkError('Connection to 127.0.0.1:9092 failed.', {
      cause: new AuthenticationError('SASL authentication failed.'),
    });
    expect(isUnreachable(badLogin)).toBe(false);
    const gaveUp = new MultipleErrors('initProducerId failed 4 times.', [
      new MultipleErrors('Cannot connect to any broker.', [badLogin]),
    ]);
    expect(isUnreachable(gaveUp)).toBe(false);
    expect(loginRefused(gaveUp)).toBe(true);
    expect(loginRefused(refusedConnection())).toBe(false);
    expect(isUnreachable(new NetworkError('Client is closed.', { closed: true }))).toBe(false);
    expect(isUnreachable(new UserError('Failed to serialize a message.'))).toBe(false);
  });
});

/** What PlatformaticOutput sends again until its deadline, and what it fails at once as RefusedError. */
describe('refusalOf, platformatic', () => {
  const down = () => new NetworkError('Connection to 127.0.0.1:1 failed.');
  const tooLarge = () => new ProtocolError('MESSAGE_TOO_LARGE');

  it('lets pass what may pass: the connection, a timeout, the answers marked retriable', () => {
    expect(refusalOf(down())).toBeUndefined();
    expect(refusalOf(new TimeoutError('Request timed out.'))).toBeUndefined();
    // A leader being elected, too few replicas in sync: kafkajs retries these too.
    for (const code of ['LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER', 'NOT_ENOUGH_REPLICAS'])
      expect(refusalOf(new ProtocolError(code))).toBeUndefined();
    const gaveUp = new MultipleErrors('produce failed 4 times.', [
      new ProtocolError('LEADER_NOT_AVAILABLE'),
      new MultipleErrors('Cannot connect to any broker.', [down()]),
    ]);
    expect(refusalOf(gaveUp)).toBeUndefined();
  });

  it('refuses what cannot pass, judging every branch of a send that reached several brokers', () => {
    expect(refusalOf(tooLarge())).toMatch(/larger than the max message size/);
    // One broker refused, another is down: in either order, a refusal (sending again cannot cure it).
    for (const branches of [
      [tooLarge(), down()],
      [down(), tooLarge()],
    ])
      expect(refusalOf(new MultipleErrors('Producing messages failed.', branches))).toMatch(
        /larger than the max message size/,
      );
    const badLogin = new NetworkError('Connection to 127.0.0.1:9092 failed.', {
      cause: new AuthenticationError('SASL authentication failed.'),
    });
    expect(refusalOf(badLogin)).toBe('SASL authentication failed.');
    expect(refusalOf(new NetworkError('Client is closed.', { closed: true }))).toBe(
      'Client is closed.',
    );
    expect(refusalOf(new UserError('Failed to serialize a message.'))).toBeDefined();
    expect(refusalOf(new Error('Connection pool is closed.'))).toBe('Connection pool is closed.');
  });
});
