/**
 * Embed seqae in a service: start a worker (stream + train roles) and a producer of a synthetic
 * fleet in this process, read the anomaly scores back from Kafka, stop both. Needs Redis and Kafka
 * (REDIS_URL, KAFKA_BROKERS; `seqae services up` starts local ones).
 *
 *   node --conditions=seqae-source --import tsx examples/embed-worker.ts
 *
 * Any setting may be given as a variable (SEQAE_TOPIC_PREFIX, …); the small model below trains in
 * seconds. Prints one JSON line: windows sent, scores read, alerts.
 */
import { createKafka, createProducer, createWorker, type AnomalyOutput } from 'seqae';

const STREAMS = 2;
const LENGTH = 300;
const ALERT = 0.997;

// The example's own defaults, under whatever the environment sets.
const env = {
  SEQAE_ROLES: 'stream,train',
  SEQAE_WARMUP_WINDOWS: '64',
  SEQAE_EPOCHS: '5',
  SEQAE_UNITS: '8',
  SEQAE_TRAIN_POOL: '1',
  SEQAE_HTTP_PORT: '0',
  SEQAE_LOG_LEVEL: 'warn',
  ...process.env,
};

// #region embed (README.md)
const worker = await createWorker({ env }); // default: process.env; `settings` overrides it
const source = `synthetic:sine?streams=${STREAMS}&length=${LENGTH}&anomalies=2&seed=7`;
const producer = createProducer({ source }, { env });
const sent = await producer.done; // windows sent; the worker publishes their scores to Kafka
// #endregion

const { config } = worker;
// A client configured as seqae's own (brokers, TLS, SASL), for the service's own reading.
const kafka = createKafka(config, { clientId: 'seqae-example' });
const consumer = kafka.consumer({ groupId: `${config.kafka.clientId}-example-${process.pid}` });
const scores = new Map<string, number>();
try {
  await consumer.connect();
  await consumer.subscribe({ topic: config.topics.anomalies, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const out = JSON.parse(message.value!.toString()) as AnomalyOutput;
      scores.set(out.id, out.score);
    },
  });

  // Windows that came before the first model are scored once it is published.
  const deadline = Date.now() + 150_000;
  while (scores.size < sent.windows && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 500));
  const values = [...scores.values()];
  console.log(
    JSON.stringify({
      sent: sent.windows,
      scored: scores.size,
      alerts: values.filter((s) => s >= ALERT).length,
      maxScore: Math.max(...values),
    }),
  );
} finally {
  await consumer.disconnect();
  await worker.stop();
}
