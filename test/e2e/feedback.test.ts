import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/index.js';
import type { Window } from '../../src/contracts/window.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { WorkerProcess } from '../../src/worker/process.js';
import { collectOutputs, sendWindows, type Collected } from '../support/kafka.js';
import { publishModel } from '../support/models.js';
import { runNode } from '../support/processes.js';
import { cleanupRedis, createTopics, testConfig, testEnv } from '../support/services.js';
import { waitFor } from '../support/wait.js';

/**
 * An operator marks an alert false (`seqae feedback`, or a tool on the feedback topic): the same
 * pattern later on that stream is no alert (suppressed: 'feedback'), on another stream it still
 * is, and a clearly larger event on the marked stream still is. Scoring is training-z (each window
 * against the model's training errors), so that every spike alerts as the first one did without
 * feedback, whatever a stateful scoring learns from the first.
 */
const NAME = 'e2e-feedback';
const NIN = 12;
const MODEL = 'fb-model';
const overrides = {
  SEQAE_ROLES: 'stream',
  SEQAE_MODEL_GROUP: MODEL,
  SEQAE_ANOMALY_SCORING: 'training-z',
  SEQAE_ALERT_THRESHOLD: '0.999',
  SEQAE_HTTP_PORT: '0',
  SEQAE_BATCH_WAIT_MS: '50',
  SEQAE_BACKEND: 'wasm',
};
const config = testConfig(NAME, overrides);
const env = testEnv(NAME, overrides);

/** The sine the model was trained on (test/support/windows.ts), with spikes added at some readings. */
function series(length: number, spikes: Record<number, number>): number[] {
  return Array.from(
    { length },
    (_, t) => 10 + 5 * Math.sin((2 * Math.PI * t) / 24) + (spikes[t] ?? 0),
  );
}

/** Stride-1 windows of `x` whose last reading is in [from, to). */
function windowsOf(streamId: string, x: number[], from: number, to: number): Window[] {
  const out: Window[] = [];
  for (let seq = Math.max(from, NIN - 1); seq < to; seq++)
    out.push({
      v: 1,
      streamId,
      seq,
      end: 1_700_000_000_000 + seq * 60_000,
      step: 60_000,
      values: x.slice(seq - NIN + 1, seq + 1).map((v) => [v]),
    });
  return out;
}

// Same phase of the sine for every spike (t ≡ 4 mod 24): the repeats are the same pattern.
const FIRST = 100;
const REPEAT = 172;
const LARGER = 244;
const SPLIT = 150; // windows before it go first, the rest after the feedback
const LENGTH = 290;
const SPIKE = 12;
const streams = {
  cli: series(LENGTH, { [FIRST]: SPIKE, [REPEAT]: SPIKE, [LARGER]: 3 * SPIKE }),
  topic: series(LENGTH, { [FIRST]: SPIKE, [REPEAT]: SPIKE }),
  other: series(LENGTH, { [FIRST]: SPIKE, [REPEAT]: SPIKE }),
};
type StreamName = keyof typeof streams;
interface Anomaly {
  streamId: string;
  seq: number;
  score: number;
  predictionError: number | null;
  alert: boolean;
  suppressed?: string;
}

describe('operator feedback: a marked false alarm stops the same pattern alerting on that stream', () => {
  let worker: WorkerProcess;
  let outputs: Collected;

  const anomalies = (stream: StreamName, from: number, to: number) =>
    outputs.messages
      .get('anomalies')!
      .map((m) => m.value as unknown as Anomaly)
      .filter((a) => a.streamId === stream && a.seq >= from && a.seq < to);
  const seen = (stream: StreamName, to: number) =>
    new Set(anomalies(stream, 0, to).map((a) => a.seq)).size >= to - (NIN - 1);
  const sendPhase = async (from: number, to: number) => {
    for (const [name, x] of Object.entries(streams))
      await sendWindows(config, windowsOf(name, x, from, to));
    await waitFor(
      `anomaly outputs of every window up to ${to}`,
      () => (Object.keys(streams) as StreamName[]).every((s) => seen(s, to)),
      120_000,
    );
  };
  const count = async (w: WorkerProcess, kind: string) => {
    const m = await w.metricsRegistry.getSingleMetricAsString('seqae_feedback_total');
    return Number(new RegExp(`kind="${kind}"} (\\d+)`).exec(m)?.[1] ?? 0);
  };
  /** The first alert of `stream` around the first spike, as an operator sees it. */
  const firstAlert = (stream: StreamName) => {
    const alert = anomalies(stream, FIRST, FIRST + NIN).find((a) => a.alert);
    expect(alert, `${stream}: the first spike alerts`).toBeDefined();
    return alert!;
  };

  beforeAll(async () => {
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 2);
    await initBackend('wasm');
    await publishModel(config, MODEL, NIN, 8, {
      epochs: 40,
      learningRate: 0.01,
      windows: 120,
      errorStats: true,
    });
    outputs = await collectOutputs(config, NAME);
    worker = await WorkerProcess.start(
      config,
      pino({ level: process.env.E2E_LOG ?? 'warn' }, pino.destination(2)),
    );
  }, 180_000);

  afterAll(async () => {
    await worker?.stop();
    await outputs?.stop();
  });

  it('suppresses the repeat on the marked streams only, and still alerts on a larger event', async () => {
    await sendPhase(0, SPLIT);
    // Without feedback, every stream alerts on the first spike, and nowhere before it.
    for (const s of Object.keys(streams) as StreamName[]) {
      firstAlert(s);
      expect(
        anomalies(s, 0, FIRST).filter((a) => a.alert),
        `${s}: no alert before the spike`,
      ).toEqual([]);
    }

    // The operator marks `cli`'s alert through the CLI, a tool marks `topic`'s on the topic.
    const marked = firstAlert('cli');
    const cli = await runNode(
      ['bin/seqae.js', 'feedback', 'cli', String(marked.seq), '--false-alarm'],
      env,
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({
      topic: config.topics.feedback,
      sent: { v: 1, streamId: 'cli', seq: marked.seq, kind: 'false-alarm' },
    });
    const producer = createKafka(config, { clientId: `${NAME}-tool` }).producer();
    await producer.connect();
    await producer.send({
      topic: config.topics.feedback,
      messages: [
        {
          key: 'topic',
          value: JSON.stringify({
            v: 1,
            streamId: 'topic',
            seq: firstAlert('topic').seq,
            kind: 'false-alarm',
          }),
        },
      ],
    });
    await producer.disconnect();
    await waitFor(
      'the worker took both marks',
      async () => (await count(worker, 'false-alarm')) >= 2,
      30_000,
    );
    // The CLI sent only stream and seq: the worker completed the mark from its alert record.
    const redis = createRedis(config);
    const saved = await redis.hget(`${config.redis.keyPrefix}:feedback`, `cli:${marked.seq}`);
    redis.disconnect();
    expect(JSON.parse(saved!)).toMatchObject({
      streamId: 'cli',
      seq: marked.seq,
      score: marked.score,
      predictionError: marked.predictionError,
    });

    await sendPhase(SPLIT, LENGTH);
    const repeat = (s: StreamName) => anomalies(s, REPEAT, REPEAT + NIN);
    // The same spike: no alert on the marked streams, and the output says why.
    for (const s of ['cli', 'topic'] as const) {
      expect(
        repeat(s).filter((a) => a.alert),
        `${s}: the repeat is no alert`,
      ).toEqual([]);
      expect(
        repeat(s).some((a) => a.suppressed === 'feedback'),
        `${s}: suppressed by feedback`,
      ).toBe(true);
    }
    // Another stream with the same pattern still alerts; so does a clearly larger event.
    expect(repeat('other').some((a) => a.alert)).toBe(true);
    expect(repeat('other').some((a) => a.suppressed)).toBe(false);
    expect(anomalies('cli', LARGER, LARGER + NIN).some((a) => a.alert)).toBe(true);

    const suppressed = await worker.metricsRegistry.getSingleMetricAsString(
      'seqae_alerts_suppressed_total',
    );
    expect(suppressed).toMatch(/cause="feedback"} [1-9]/);
  }, 300_000);

  it('every worker takes every mark; a bad feedback message goes to the DLQ once, with its reason', async () => {
    // A second worker (infer role: not in the windows group) reads the feedback topic too.
    const second = await WorkerProcess.start(
      { ...config, worker: { ...config.worker, roles: ['infer'] } },
      pino({ level: process.env.E2E_LOG ?? 'warn' }, pino.destination(2)),
    );
    try {
      await waitFor(
        'the second worker took both marks',
        async () => (await count(second, 'false-alarm')) >= 2,
        30_000,
      );
      const producer = createKafka(config, { clientId: `${NAME}-bad` }).producer();
      await producer.connect();
      await producer.send({
        topic: config.topics.feedback,
        messages: [
          { key: 'cli', value: '{"v":1,"streamId":"cli","seq":"seven","kind":"false-alarm"}' },
          { key: 'cli', value: 'not json' },
        ],
      });
      await producer.disconnect();
      for (const w of [worker, second])
        await waitFor(
          'both bad messages read',
          async () => (await count(w, 'invalid')) >= 2,
          30_000,
        );
      const letters = () =>
        outputs.messages
          .get('dlq')!
          .map((m) => m.value as { reason: string; source: string; original: string })
          .filter((l) => l.source.startsWith(`kafka:${config.topics.feedback}/`));
      await waitFor(
        'two dead letters from the feedback topic',
        () => letters().length >= 2,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 1000)); // time for a duplicate to arrive, if any
      expect(
        letters()
          .map((l) => l.reason)
          .sort(),
      ).toEqual(['bad_json', 'schema']);
      const bad = letters().find((l) => l.reason === 'bad_json')!;
      expect(Buffer.from(bad.original, 'base64').toString()).toBe('not json');
      expect((await fetch(`${worker.http.url}/readyz`)).status).toBe(200);
    } finally {
      await second.stop();
    }
  }, 90_000);

  it('seqae feedback: one line and exit 2 on bad arguments, exit 1 when Kafka does not answer', async () => {
    const run = (args: string[], extra: Record<string, string> = {}) =>
      runNode(['bin/seqae.js', 'feedback', ...args], { ...env, ...extra });
    const noKind = await run(['cli', '3']);
    expect(noKind.code).toBe(2);
    expect(noKind.stderr.trim()).toBe('seqae feedback: say what the alert was: --false-alarm');
    const badSeq = await run(['cli', 'x', '--false-alarm']);
    expect(badSeq.code).toBe(2);
    expect(badSeq.stderr).toMatch(/seq.*whole number/);
    const down = await run(['cli', '3', '--false-alarm'], { KAFKA_BROKERS: '127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/Kafka at 127\.0\.0\.1:1 does not answer .*nothing was sent/);
    expect(down.stdout).toBe('');
  }, 60_000);
});
