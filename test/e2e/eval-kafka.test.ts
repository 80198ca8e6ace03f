/**
 * `seqae eval nab --via kafka` against the in-process evaluation, on two NAB files (one with CRLF
 * line ends, one with a backward timestamp): the same per-row scores, every row scored, and nothing
 * of the Kafka run left behind (processes, topics, Redis keys).
 *
 * Tolerance: both modes run the same code on the same windows in the same order (the producer's
 * windowing, trainOnWindows from seed 1 on tfjs wasm, WindowScorer on ONNX Runtime in slices of
 * SEQAE_BATCH_MAX, the likelihood scoring), so the scores agree to the last bit in practice; the test
 * allows float noise between a training child and this process (1e-3 on 99% of rows, the NAB raw
 * scores to 1e-6), not a different scoring.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvRows } from '../../src/eval/nab/corpus.js';
import { loadConfig } from '../../src/config/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { createRedis } from '../../src/transport/redis.js';
import { runSeqae } from '../support/processes.js';
import { testServices } from '../support/services.js';

const root = join(import.meta.dirname, '..', '..');
const corpus = join(root, 'test', 'fixtures', 'nab', 'corpus');
const files = ['realKnownCause/rogue_agent_key_hold.csv', 'realTraffic/speed_t4013.csv'];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const { redisUrl, kafkaBrokers } = testServices();
const env = {
  REDIS_URL: redisUrl,
  KAFKA_BROKERS: kafkaBrokers,
  SEQAE_UNITS: '8',
  SEQAE_EPOCHS: '4',
  SEQAE_LOG_LEVEL: 'warn',
};

async function evaluate(via: 'in-process' | 'kafka') {
  const out = await mkdtemp(join(tmpdir(), `seqae-eval-${via}-`));
  dirs.push(out);
  const args = ['eval', 'nab', '--data', corpus, '--out', out, '--via', via];
  const r = await runSeqae(args, env, { timeoutMs: 300_000 });
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  const scores = new Map<string, number[]>();
  for (const name of files) {
    const [category, file] = name.split('/');
    const text = await readFile(join(out, 'seqae', category!, `seqae_${file}`), 'utf8');
    scores.set(
      name,
      csvRows(text).rows.map((row) => Number(row[2])),
    );
  }
  return { summary, scores, stderr: r.stderr };
}

/** Pids of this user's processes whose environment mentions `text` (/proc/<pid>/environ). */
async function processesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    if (environ.includes(text)) found.push(Number(entry));
  }
  return found;
}

describe('seqae eval nab --via kafka', () => {
  it('gives the in-process scores for every row, through seqae produce, Kafka and seqae worker', async () => {
    const local = await evaluate('in-process');
    const kafka = await evaluate('kafka');
    const run = /run (\w+)/.exec(kafka.stderr)?.[1];
    expect(run, kafka.stderr).toBeDefined();

    for (const name of files) {
      const rows =
        (await readFile(join(corpus, 'data', name), 'utf8')).split(/\r?\n/).filter((l) => l.trim())
          .length - 1;
      const a = local.scores.get(name)!;
      const b = kafka.scores.get(name)!;
      // Every row has a score, the producer's dropped rows and those before the first window too.
      expect(a).toHaveLength(rows);
      expect(b).toHaveLength(rows);
      expect(b.every((s) => Number.isFinite(s) && s >= 0 && s <= 1)).toBe(true);
      // The model and the scoring did something: some rows past probation alert.
      expect(b.slice(Math.floor(rows * 0.15)).some((s) => s >= 0.5)).toBe(true);
      const close = a.filter((s, i) => Math.abs(s - b[i]!) <= 1e-3).length;
      expect(close / rows, name).toBeGreaterThanOrEqual(0.99);
    }
    for (const p of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) {
      expect(Math.abs(kafka.summary[p].raw - local.summary[p].raw), p).toBeLessThanOrEqual(1e-6);
    }

    // Nothing of the run is left: its processes, its topics, its Redis keys.
    expect(await processesWith(`seqae-eval-${run}`)).toEqual([]);
    const config = loadConfig({ REDIS_URL: redisUrl, KAFKA_BROKERS: kafkaBrokers });
    const admin = createKafka(config).admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      expect(topics.filter((t) => t.startsWith(`seqae-eval-${run}.`))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
    const redis = createRedis(config);
    try {
      const left: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(
          cursor,
          'MATCH',
          `*seqae-eval-${run}*`,
          'COUNT',
          1000,
        );
        left.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      expect(left).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a detector other than seqae with one line and exit code 2', async () => {
    const r = await runSeqae(
      [
        'eval',
        'nab',
        '--data',
        corpus,
        '--out',
        tmpdir(),
        '--via',
        'kafka',
        '--detector',
        'window-mean',
      ],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'seqae eval nab: --via kafka runs the seqae detector only (see --help)',
    );
  });

  it('fails naming the file whose scores do not come, and leaves nothing running', async () => {
    // 1 s is less than a worker takes to start: no score can arrive in time.
    const r = await runSeqae(
      [
        'eval',
        'nab',
        '--data',
        corpus,
        '--out',
        tmpdir(),
        '--via',
        'kafka',
        '--idle-timeout-ms',
        '1000',
      ],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /seqae: realKnownCause\/rogue_agent_key_hold\.csv: 0 of 1874 window scores on seqae-eval-\w+\.anomalies, none for 1000 ms/,
    );
    const run = /run (\w+)/.exec(r.stderr)![1]!;
    expect(await processesWith(`seqae-eval-${run}`)).toEqual([]);
  });
});
