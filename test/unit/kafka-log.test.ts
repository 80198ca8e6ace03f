import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogLevel } from '../../src/transport/kafka.js';

const entry = (level: logLevel, error?: string) => ({
  level,
  log: { message: 'Response Heartbeat(key: 12, version: 3)', error, timestamp: '' },
});

describe('kafkajs log levels', () => {
  it("logs a fresh broker's retriable answers at debug", () => {
    for (const error of [
      "The coordinator is loading and hence can't process requests for this group",
      'The group coordinator is not available',
      'There is no leader for this topic-partition as we are in the middle of a leadership election',
    ])
      expect(kafkaLogLevel(entry(logLevel.ERROR, error))).toBe('debug');
  });

  it('keeps real errors as errors, and other levels as they are', () => {
    const tooLarge =
      'The request included a message larger than the max message size the server will accept';
    expect(kafkaLogLevel(entry(logLevel.ERROR, tooLarge))).toBe('error');
    expect(kafkaLogLevel(entry(logLevel.ERROR))).toBe('error');
    expect(kafkaLogLevel(entry(logLevel.WARN))).toBe('warn');
  });
});
