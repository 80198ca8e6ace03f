/**
 * seqae's murmur2 partitioner (what a platformatic producer uses) against kafkajs' own
 * DefaultPartitioner: every keyed record must land on the partition kafkajs would have chosen.
 */
import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyPartition, murmur2, toPositive } from '../../src/transport/partitioner.js';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
    offlineReplicas: [],
  }));

describe('keyPartition', () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  const keys: (string | Buffer)[] = [
    '',
    'a',
    'ab',
    'abc',
    'abcd',
    'speed_7578',
    'demo-1/sensor-19',
    'é€😀 non-ASCII',
    ...Array.from({ length: 2000 }, (_, i) => `stream-${i}`),
    ...Array.from({ length: 500 }, (_, i) => randomBytes(i % 67)),
    ...Array.from({ length: 500 }, (_, i) => randomBytes(1 + (i % 40)).toString('base64')),
  ];

  it('picks the partition kafkajs DefaultPartitioner picks, for many keys and partition counts', () => {
    for (const n of [1, 2, 3, 7, 12, 16, 100, 1000]) {
      const partitionMetadata = metadata(n);
      for (const key of keys) {
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(keyPartition(key, n), `key ${String(key)}, ${n} partitions`).toBe(expected);
      }
    }
  });

  it('hashes a string as its UTF-8 bytes, to a signed 32-bit integer', () => {
    expect(murmur2('speed_7578')).toBe(murmur2(Buffer.from('speed_7578')));
    for (const key of keys) {
      const h = murmur2(key);
      expect(h).toBe(h | 0);
      expect(toPositive(h)).toBeGreaterThanOrEqual(0);
    }
  });
});
