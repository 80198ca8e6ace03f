/**
 * Which kafkajs failures KafkaOutput sends again (the broker out of reach) and which it reports at
 * once (the broker refused the request), with kafkajs' own error classes as its retrier wraps them.
 */
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSSASLAuthenticationError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isUnreachable } from '../../src/transport/kafka-output.js';

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
