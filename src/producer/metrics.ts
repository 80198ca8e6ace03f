import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The producer's metrics, registered on the registry passed in (never prom-client's global one), so
 * that several pipelines in one process or test stay apart. Label values are bounded: sinks are
 * `kafka`/`bullmq`/`dlq`, reasons are the rejection codes (ReadingRejection, DropReason).
 */
export interface ProducerMetrics {
  /** Readings accepted from a source (bad rows excluded). */
  readings: Counter;
  /** Windows acknowledged by each sink (`kafka`, `bullmq`), and dead letters by `dlq`. */
  windows: Counter<'sink'>;
  /** Rows, messages and readings rejected, by reason (bad_number, column_count, late, …). */
  rejected: Counter<'reason'>;
  /** One send (a batch) to a sink, until acknowledged. */
  sendDuration: Histogram<'sink'>;
  /** Windows handed to sinks and not yet acknowledged. */
  inFlight: Gauge;
  /** Seconds the producer waited on a full queue (BullMQ waiting-job ceiling). */
  backpressureSeconds: Counter<'sink'>;
}

export const PRODUCER_METRIC_NAMES = {
  readings: 'seqae_producer_readings_total',
  windows: 'seqae_producer_windows_total',
  rejected: 'seqae_producer_rejected_total',
  sendDuration: 'seqae_producer_send_duration_seconds',
  inFlight: 'seqae_producer_windows_in_flight',
  backpressureSeconds: 'seqae_producer_backpressure_seconds_total',
} as const;

const cache = new WeakMap<Registry, ProducerMetrics>();

/** The producer metrics on `registry`, created once per registry. */
export function createProducerMetrics(registry: Registry): ProducerMetrics {
  const known = cache.get(registry);
  if (known) return known;
  const registers = [registry];
  const n = PRODUCER_METRIC_NAMES;
  const m: ProducerMetrics = {
    readings: new Counter({
      name: n.readings,
      help: 'Sensor readings a producer accepted from its source (bad rows excluded).',
      registers,
    }),
    windows: new Counter({
      name: n.windows,
      help: 'Windows acknowledged by a sink (kafka, bullmq); dead letters acknowledged under sink="dlq".',
      labelNames: ['sink'],
      registers,
    }),
    rejected: new Counter({
      name: n.rejected,
      help: 'Input rows, messages or readings a producer rejected, by reason (sent to the DLQ unless the reason is duplicate).',
      labelNames: ['reason'],
      registers,
    }),
    sendDuration: new Histogram({
      name: n.sendDuration,
      help: 'Time from handing a batch of windows to a sink until it acknowledged them.',
      labelNames: ['sink'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    inFlight: new Gauge({
      name: n.inFlight,
      help: 'Windows handed to sinks and not yet acknowledged (bounded by the in-flight limit).',
      registers,
    }),
    backpressureSeconds: new Counter({
      name: n.backpressureSeconds,
      help: 'Seconds a producer waited because a sink was full (BullMQ waiting-job ceiling).',
      labelNames: ['sink'],
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
