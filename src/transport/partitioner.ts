/**
 * kafkajs' DefaultPartitioner (the Java client's 0.10.2 one) for any client: a keyed record goes to
 * `toPositive(murmur2(key)) % partitions`, so a stream's records land on the same partition
 * whichever client produced them, and keep their order there.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of `key` (a string as its UTF-8 bytes), as a signed 32-bit integer. */
export function murmur2(key: Buffer | string): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last one to three bytes (Java's switch falls through its cases).
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16;
    if (rest >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java client's cheap "positive": the sign bit cleared, not the absolute value. */
export const toPositive = (x: number): number => x & 0x7fffffff;

/** The partition of a keyed record among `partitions`, as kafkajs' DefaultPartitioner picks it. */
export function keyPartition(key: Buffer | string, partitions: number): number {
  return toPositive(murmur2(key)) % partitions;
}
