/**
 * Producer throughput: windows/s from a synthetic fleet through the whole producer (windowing,
 * encoding, batching, acknowledgement) to Kafka, to BullMQ, and to no sink (windowing alone), for one
 * stream and for many. One JSON line per case, the median of the runs:
 * {"bench":"producer","sink","streams","windows","nIn","batch","windowsPerSec","runs":[…]}.
 * Usage: npm run bench:producer -- [--sinks none,kafka,bullmq] [--streams 1,100] [--windows 20000]
 *        [--nIn 30] [--batch 500] [--repeats 3]
 * Timed from start to the last acknowledgement, connection set-up included. Needs Redis and Kafka
 * (npm run services:up; REDIS_URL / KAFKA_BROKERS); cleans up after itself.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, type SeqaeConfig } from '../src/config/index.js';
import { Producer, type SinkName } from '../src/producer/producer.js';
import { createKafka } from '../src/transport/kafka.js';
import { createRedis } from '../src/transport/redis.js';
import { unlinkMatching } from '../test/support/redis.js';

const { values: args } = parseArgs({
  options: {
    sinks: { type: 'string', default: 'none,kafka,bullmq' },
    streams: { type: 'string', default: '1,100' },
    windows: { type: 'string', default: '20000' },
    nIn: { type: 'string', default: '30' },
    batch: { type: 'string', default: '500' },
    repeats: { type: 'string', default: '3' },
  },
});
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const nIn = Number(args.nIn);
const batch = Number(args.batch);
const target = Number(args.windows);

async function cleanup(config: SeqaeConfig) {
  const admin = createKafka(config).admin();
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => Object.values(config.topics).includes(t));
  if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  await admin.disconnect();
  const redis = createRedis(config);
  await unlinkMatching(redis, [`${config.queues.prefix}:*`, `${config.redis.keyPrefix}:*`]);
  redis.disconnect();
}

async function once(sink: string, streams: number): Promise<number> {
  const length = Math.ceil(target / streams) + nIn - 1;
  const spec = `sine?streams=${streams}&length=${length}&noise=0.05&seed=1`;
  const tag = `bench${randomBytes(3).toString('hex')}`;
  const config = loadConfig(process.env, {
    SEQAE_TOPIC_PREFIX: `${tag}.`,
    SEQAE_QUEUE_PREFIX: `${tag}-`,
    SEQAE_BULLMQ_KEY_PREFIX: `bull-${tag}`,
    SEQAE_KEY_PREFIX: tag,
    SEQAE_LOG_LEVEL: 'warn',
    SEQAE_PRODUCER_BATCH: String(batch),
  });
  try {
    if (sink === 'kafka') {
      const admin = createKafka(config).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: config.topics.windows, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      await admin.disconnect();
    }
    const producer = new Producer(config, {
      source: `synthetic:${spec}`,
      sinks: sink === 'none' ? [] : [sink as SinkName], // none: no connection, windowing alone
      windows: { nIn },
      deadLetters: false,
    });
    const t0 = performance.now();
    const stats = await producer.run();
    const seconds = (performance.now() - t0) / 1000;
    await producer.close();
    return stats.windows / seconds;
  } finally {
    if (sink !== 'none') await cleanup(config);
  }
}

for (const sink of list(args.sinks))
  for (const streams of list(args.streams).map(Number)) {
    const runs: number[] = [];
    await once(sink, streams); // warm-up: JIT, broker metadata, Redis scripts
    for (let i = 0; i < Number(args.repeats); i++) runs.push(await once(sink, streams));
    console.log(
      JSON.stringify({
        bench: 'producer',
        sink,
        streams,
        windows: target,
        nIn,
        batch,
        windowsPerSec: Math.round(median(runs)),
        runs: runs.map(Math.round),
      }),
    );
  }
