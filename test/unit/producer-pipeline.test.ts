import { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MemoryCheckpointStore } from '../../src/producer/checkpoints.js';
import { createProducerMetrics } from '../../src/producer/metrics.js';
import { ProducerPipeline } from '../../src/producer/pipeline.js';
import { SendQueue } from '../../src/producer/send-queue.js';
import { PipelineStatistics } from '../../src/producer/statistics.js';
import { CHECKPOINT_INTERVAL_MS, LINGER_MS } from '../../src/producer/timing.js';
import type { TrainingRequests } from '../../src/producer/sinks/train.js';
import { TrainingSink } from '../../src/producer/sinks/training.js';
import type { DeadLetterSink, WindowSink } from '../../src/producer/sinks/types.js';
import { CsvSource } from '../../src/producer/sources/csv.js';
import { SyntheticSource } from '../../src/producer/sources/synthetic.js';
import type {
  ReadingSource,
  SourceBatch,
  SourcePartition,
} from '../../src/producer/sources/types.js';
import { tryParseWindow, windowId, type Window } from '../../src/contracts/window.js';
import type { DeadLetter } from '../../src/contracts/dead-letter.js';
import type { Reading } from '../../src/contracts/reading.js';
import { plainWindowing } from '../support/windows.js';

class ArraySink implements WindowSink {
  readonly windows: Window[] = [];
  maxBatch = 0;
  constructor(
    readonly name = 'memory',
    private readonly delayMs = 0,
    private readonly failAfter = Infinity,
  ) {}
  async send(windows: Window[]) {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.windows.length + windows.length > this.failAfter) throw new Error('sink down');
    this.maxBatch = Math.max(this.maxBatch, windows.length);
    this.windows.push(...windows);
  }
  async close() {}
}

class ArrayDlq implements DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  async send(letters: DeadLetter[]) {
    this.letters.push(...letters);
  }
  async close() {}
}

const NAB = 'test/fixtures/nab/realTraffic/speed_7578.csv';

/** The producer's own values (configuration defaults, src/producer/timing.ts) unless a test sets one. */
const SENDING = {
  batchSize: 500,
  maxInFlight: 5000,
  lingerMs: LINGER_MS,
  checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
};
const maxLineBytes = 65536;

describe('producer pipeline', () => {
  it('turns a NAB file into rows - nIn + 1 valid windows, in order, on every sink', async () => {
    const a = new ArraySink('kafka');
    const b = new ArraySink('bullmq');
    const registry = new Registry();
    const metrics = createProducerMetrics(registry);
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 30 },
      sinks: [a, b],
      metrics,
      batchSize: 100,
    });
    const stats = await p.run(
      new CsvSource({ path: NAB, header: true, delimiter: ',', maxLineBytes }),
    );
    expect(stats.readings).toBe(1127);
    expect(a.windows).toHaveLength(1127 - 30 + 1);
    expect(b.windows).toEqual(a.windows);
    expect(a.windows.map((w) => w.seq)).toEqual(Array.from({ length: 1098 }, (_, i) => i + 29));
    expect(a.windows.every((w) => tryParseWindow(JSON.parse(JSON.stringify(w))).ok)).toBe(true);
    expect(a.maxBatch).toBeLessThanOrEqual(100);
    expect(stats.sent).toEqual({ kafka: 1098, bullmq: 1098 });
    const text = await registry.metrics();
    expect(text).toContain('seqae_producer_readings_total 1127');
    expect(text).toContain('seqae_producer_windows_total{sink="bullmq"} 1098');
    expect(text).toMatch(/seqae_producer_send_duration_seconds_count\{sink="kafka"\} \d+/);
  });

  it('dead-letters each bad row with its reason and loses no good window around it', async () => {
    const lines = ['timestamp,value'];
    const bad = new Map<number, string>([
      [5, 'x5'],
      [6, '1,2'],
      [20, 'NaN'],
      [21, ''],
    ]);
    for (let i = 0; i < 60; i++) {
      const t = new Date(Date.UTC(2020, 0, 1) + i * 60_000).toISOString();
      lines.push(`${t},${bad.get(i) ?? i}`);
    }
    const sink = new ArraySink();
    const dlq = new ArrayDlq();
    const registry = new Registry();
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 10 },
      sinks: [sink],
      deadLetters: dlq,
      metrics: createProducerMetrics(registry),
    });
    const input = Readable.from([Buffer.from(lines.join('\n'))]);
    const stats = await p.run(
      new CsvSource({ path: 'x.csv', header: true, delimiter: ',', input, maxLineBytes }),
    );
    expect(stats.readings).toBe(56);
    expect(sink.windows).toHaveLength(56 - 10 + 1);
    // the windows are exactly those of the good rows alone
    const good = Array.from({ length: 60 }, (_, i) => i).filter((i) => !bad.has(i));
    sink.windows.forEach((w, k) =>
      expect(w.values.map((r) => r[0])).toEqual(good.slice(k, k + 10)),
    );
    expect(dlq.letters.map((l) => [l.reason, l.source])).toEqual([
      ['bad_number', 'csv:x.csv#L7'],
      ['column_count', 'csv:x.csv#L8'],
      ['non_finite', 'csv:x.csv#L22'],
      ['bad_number', 'csv:x.csv#L23'],
    ]);
    expect(stats.rejected).toEqual({ bad_number: 2, column_count: 1, non_finite: 1 });
    expect(await registry.metrics()).toContain(
      'seqae_producer_rejected_total{reason="bad_number"} 2',
    );
  });

  it('keeps at most maxInFlight windows unacknowledged behind a slow sink', async () => {
    const sink = new ArraySink('slow', 5);
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 5 },
      sinks: [sink],
      batchSize: 50,
      maxInFlight: 200,
    });
    let most = 0;
    const timer = setInterval(() => (most = Math.max(most, p.stats().inFlight)), 1);
    const stats = await p.run(new SyntheticSource('sine?streams=3&length=1000'));
    clearInterval(timer);
    expect(sink.windows).toHaveLength(3 * 996);
    expect(stats.inFlight).toBe(0);
    expect(most).toBeLessThanOrEqual(200 + 50);
  });

  it('fails with the sink error and sends nothing after a failed send', async () => {
    const sink = new ArraySink('broken', 0, 120);
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 5 },
      sinks: [sink],
      batchSize: 50,
    });
    await expect(p.run(new SyntheticSource('noise?length=1000'))).rejects.toThrow('sink down');
    expect(sink.windows).toHaveLength(100);
  });

  it('stops on abort, still sending what it cut', async () => {
    const sink = new ArraySink();
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 5 },
      sinks: [sink],
    });
    const ac = new AbortController();
    p.on('sent', () => ac.abort());
    const stats = await p.run(new SyntheticSource('sine?length=0'), ac.signal);
    expect(stats.windows).toBeGreaterThan(0);
    expect(sink.windows).toHaveLength(stats.windows);
  });

  it('sends windows of a source that goes quiet without waiting for a full batch', async () => {
    const sink = new ArraySink();
    const ac = new AbortController();
    const quiet: ReadingSource = {
      kind: 'ndjson',
      description: 'quiet',
      async *batches(signal) {
        yield {
          items: Array.from({ length: 10 }, (_, i) => ({
            reading: { streamId: 'q', ts: i * 1000, values: [i] },
          })),
        };
        await new Promise((r) => signal.addEventListener('abort', r));
      },
      async close() {},
    };
    // 8 windows are far from a batch of 500: the linger sends them
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 3 },
      sinks: [sink],
    });
    p.on('sent', () => ac.abort());
    const stats = await p.run(quiet, ac.signal);
    expect(stats.sent.memory).toBe(8);
  });

  it('requests training on the first windows of each stream, once they were delivered', async () => {
    const sink = new ArraySink();
    const requests: { streamId: string; modelId: string; seqs: number[]; delivered: number }[] = [];
    const fake = {
      async requestTraining(streamId: string, windows: Window[], modelId: string) {
        const seqs = windows.map((w) => w.seq);
        requests.push({ streamId, modelId, seqs, delivered: sink.windows.length });
        return `${modelId}@${seqs.at(-1)}`;
      },
      async close() {},
    } as unknown as TrainingRequests;
    const training = new TrainingSink(fake, { windows: 50 });
    const readings = [
      ...Array.from({ length: 100 }, (_, i) => ({ streamId: 'a', ts: i * 1000, values: [i] })),
      ...Array.from({ length: 30 }, (_, i) => ({ streamId: 'b', ts: i * 1000, values: [i] })),
    ];
    const source: ReadingSource = {
      kind: 'ndjson',
      description: 'array',
      async *batches() {
        yield { items: readings.map((reading) => ({ reading })) };
      },
      async close() {},
    };
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 5 },
      sinks: [sink],
      training,
      batchSize: 20,
    });
    const stats = await p.run(source);
    expect(stats.trainingRequests).toBe(2);
    expect(stats.sent).toEqual({ memory: 96 + 26 }); // the training sink is not counted as sent
    expect(requests.map((r) => [r.streamId, r.modelId, r.seqs])).toEqual([
      ['a', 'a', Array.from({ length: 50 }, (_, i) => i + 4)],
      ['b', 'b', Array.from({ length: 26 }, (_, i) => i + 4)], // fewer: asked for at the end
    ]);
    // after the batch holding the 50th window of a (windows 41-60) was acknowledged; b's at the end
    expect(requests.map((r) => r.delivered)).toEqual([60, 122]);
  });

  it('paces a replay by reading time', async () => {
    const sink = new ArraySink();
    const p = new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 2 },
      sinks: [sink],
      speed: 1000,
    });
    const t0 = Date.now();
    await p.run(new SyntheticSource('sine?length=11&step=20000')); // 200 s of readings at ×1000
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});

describe('send queue', () => {
  const window = (seq: number): Window => ({
    v: 1,
    streamId: 's',
    seq,
    end: seq,
    step: 1,
    values: [[seq]],
  });

  it('runs work queued after sends only once they were acknowledged, and nothing after a failure', async () => {
    const sink = new ArraySink('slow', 5, 3);
    const log: string[] = [];
    const queue = new SendQueue({
      ...SENDING,
      sinks: [sink],
      batchSize: 2,
      statistics: new PipelineStatistics([sink.name]),
    });
    queue.add(window(0));
    queue.add(window(1));
    queue.after(async () => void log.push(`after 2: ${sink.windows.length} acknowledged`));
    queue.dispatch();
    queue.add(window(2));
    queue.add(window(3)); // the sink fails on its fourth window
    queue.after(async () => void log.push('after 4'));
    await expect(queue.drain()).rejects.toThrow('sink down');
    expect(log).toEqual(['after 2: 2 acknowledged']);
    queue.add(window(4));
    await expect(queue.drain()).rejects.toThrow('sink down');
    expect(sink.windows.map((w) => w.seq)).toEqual([0, 1]);
  });
});

/** A partitioned source over an array, like Kafka: offsets, commits, redelivery from the commit. */
class FakeTopic implements ReadingSource {
  readonly kind = 'kafka' as const;
  readonly description = 'fake:topic';
  committed = 0;
  constructor(
    private readonly messages: Reading[],
    private readonly batch = 7,
    private readonly stopAt = Infinity,
  ) {}
  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    for (let i = this.committed; i < this.messages.length && i < this.stopAt; i += this.batch) {
      const slice = this.messages.slice(i, Math.min(i + this.batch, this.stopAt));
      yield {
        items: slice.map((reading, k) => ({ reading, offset: String(i + k) })),
        partition: {
          key: 'topic/0',
          topic: 'topic',
          partition: 0,
          nextOffset: String(i + slice.length),
        },
      };
      if (signal.aborted) return;
    }
  }
  async commit(p: SourcePartition) {
    this.committed = Number(p.nextOffset);
  }
  async close() {}
}

describe('checkpoints of a partitioned source', () => {
  it('resume the windowing where it stopped: same windows, same ids, none twice', async () => {
    const readings: Reading[] = [];
    for (let i = 0; i < 100; i++)
      for (const s of ['a', 'b']) readings.push({ streamId: s, ts: i * 1000, values: [i] });
    const whole = new ArraySink();
    await new ProducerPipeline({
      ...SENDING,
      windows: { ...plainWindowing, nIn: 8, stride: 3, reorder: 2 },
      sinks: [whole],
    }).run(new FakeTopic(readings));

    const store = new MemoryCheckpointStore();
    const sink = new ArraySink();
    const first = new FakeTopic(readings, 7, 90);
    const opts = {
      ...SENDING,
      windows: { ...plainWindowing, nIn: 8, stride: 3, reorder: 2 },
      sinks: [sink],
      checkpoints: store,
    };
    await new ProducerPipeline(opts).run(first);
    expect(first.committed).toBe(90);
    // a new process whose last commit was lost after its state was saved: the source redelivers from
    // an older offset, the state (and the offset it belongs to) comes from the store
    const second = new FakeTopic(readings, 7);
    second.committed = 77;
    const stats = await new ProducerPipeline(opts).run(second);
    expect(stats.rejected).toEqual({}); // skipped by offset, not mistaken for late readings
    const ids = sink.windows.map(windowId);
    expect(new Set(ids).size).toBe(ids.length);
    // the reorder buffer's last readings are still held (never flushed for an endless source)
    expect(ids).toEqual(whole.windows.map(windowId).slice(0, ids.length));
    expect(ids.length).toBeGreaterThan(whole.windows.length - 3);
  });
});
