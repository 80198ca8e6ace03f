import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runSeqae, type Finished } from '../support/processes.js';
import { cleanupRedis, testConfig, testEnv } from '../support/services.js';

/**
 * The user's commands run as a user runs them (child processes of the CLI) against the real Redis
 * and Kafka: train from a NAB file to the registry and to a file, list, show, score, delete.
 */
const NAB = 'test/fixtures/nab/realTraffic/speed_7578.csv';
/** 1127 readings, 9 a window (SEQAE_WINDOW's default), stride 1. */
const WINDOWS = 1127 - 9 + 1;
const env = testEnv('cli', { SEQAE_BACKEND: 'wasm', SEQAE_LOG_LEVEL: 'warn' });
const small = ['--epochs', '2', '--units', '8'];
const dir = mkdtempSync(join(tmpdir(), 'seqae-cli-'));

const lines = (r: Finished) =>
  r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const expectOk = (r: Finished) => expect(r.code, r.stderr).toBe(0);
/** A user's mistake: exit 2 and one line on stderr that names the command. */
function expectUsageError(r: Finished, pattern: RegExp) {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

/** The error fields of an infer output line. */
interface WindowScores {
  reconstructionError: number;
  predictionError: number | null;
  featureErrors: { reconstruction: number[]; prediction: number[] | null; top: number };
}

describe('seqae train, models, infer (real Redis)', () => {
  beforeAll(() => cleanupRedis(testConfig('cli')));
  afterAll(async () => {
    await cleanupRedis(testConfig('cli'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('trains from a CSV to the registry with a line per epoch, and lists the model', async () => {
    const r = await runSeqae(['train', '--csv', NAB, '--model-id', 'nab-speed', ...small], env);
    expectOk(r);
    expect(r.stderr).toMatch(/^epoch 1\/2 loss [\d.]+/m);
    expect(r.stderr).toMatch(/^epoch 2\/2 loss [\d.]+/m);
    expect(lines(r)).toEqual([
      expect.objectContaining({ modelId: 'nab-speed', version: 1, windows: WINDOWS, epochs: 2 }),
    ]);

    const list = await runSeqae(['models', 'list'], env); // a pipe: JSON
    expectOk(list);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ modelId: 'nab-speed', latest: 1, versions: [1], window: '9x1' }),
    ]);
    const show = await runSeqae(['models', 'show', 'nab-speed', '--version', '1'], env);
    expectOk(show);
    expect(JSON.parse(show.stdout)).toMatchObject({
      modelId: 'nab-speed',
      version: 1,
      streams: ['speed_7578'],
      errorStats: { reconstruction: expect.any(Object) },
    });
  });

  it('scores every window of the file: one NDJSON line per window with every output', async () => {
    const r = await runSeqae(['infer', '--model', 'nab-speed', '--input', `csv:${NAB}`], env);
    expectOk(r);
    const out = lines(r);
    expect(out).toHaveLength(WINDOWS);
    expect(out.map((o) => o.seq)).toEqual(Array.from({ length: WINDOWS }, (_, i) => i + 8));
    for (const o of [out[0]!, out.at(-1)!]) {
      expect(o).toMatchObject({ streamId: 'speed_7578', modelId: 'nab-speed', modelVersion: 1 });
      expect(Number.isFinite(o.score)).toBe(true);
      expect(o.reconstruction).toHaveLength(9);
      expect(o.prediction).toBeInstanceOf(Array);
      expect(o.embedding).toHaveLength(8);
    }
    // the one-step prediction error needs the window before: none for the first, one after
    expect(out[0]!.predictionError).toBeNull();
    expect(Number.isFinite(out[1]!.predictionError)).toBe(true);
    // Per-feature errors: one feature, so each its window's error, and feature 0 on top.
    const [first, second] = out.map((o) => o as unknown as WindowScores);
    expect(second!.featureErrors.top).toBe(0);
    expect(second!.featureErrors.reconstruction).toHaveLength(1);
    expect(second!.featureErrors.reconstruction[0]).toBeCloseTo(second!.reconstructionError, 6);
    expect(second!.featureErrors.prediction).toEqual([second!.predictionError]);
    expect(first!.featureErrors.prediction).toBeNull();
  });

  it('trains to a file and scores NDJSON readings from stdin with it', async () => {
    const file = join(dir, 'speed.seqae');
    const t = await runSeqae(
      ['train', '--csv', NAB, '--model-id', 'file-model', '--out', file, ...small],
      env,
    );
    expectOk(t);
    expect(lines(t)[0]).toMatchObject({ modelId: 'file-model', out: file });
    const readings = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ streamId: 'piped', ts: 1_700_000_000_000 + i * 60_000, value: 60 + i }),
    ).join('\n');
    const r = await runSeqae(['infer', '--model-file', file, '--input', '-'], env, {
      input: `${readings}\n`,
    });
    expectOk(r);
    const out = lines(r);
    expect(out).toHaveLength(20 - 9 + 1);
    expect(out[0]).toMatchObject({ streamId: 'piped', seq: 8, modelId: 'file-model' });
    // the file model is not in the registry
    const list = await runSeqae(['models', 'list'], env);
    expect(JSON.parse(list.stdout).map((m: { modelId: string }) => m.modelId)).toEqual([
      'nab-speed',
    ]);
  });

  it('refuses what the user got wrong with one line and exit 2', async () => {
    expectUsageError(
      await runSeqae(['infer', '--input', `csv:${NAB}`], env),
      /^seqae infer: give one of --model/,
    );
    expectUsageError(
      await runSeqae(['infer', '--model', 'no-such', '--input', `csv:${NAB}`], env),
      /^seqae infer: model no-such is not in the registry/,
    );
    expectUsageError(
      await runSeqae(
        ['infer', '--model', 'nab-speed', '--input', `csv:${NAB}`, '--window', '5'],
        env,
      ),
      /do not fit model nab-speed v1 \(9 readings × 1 values\): set --window 9/,
    );
    expectUsageError(
      await runSeqae(['train', '--csv', join(dir, 'missing.csv'), '--model-id', 'x'], env),
      /^seqae train: .*missing\.csv/,
    );
    expectUsageError(
      await runSeqae(['models', 'show', 'nab-speed', '--version', '7'], env),
      /^seqae models show: model nab-speed v7 is not in the registry/,
    );
  });

  it('deletes a model: it is gone from the list and can no longer score', async () => {
    const d = await runSeqae(['models', 'delete', 'nab-speed'], env);
    expectOk(d);
    expect(JSON.parse(d.stdout)).toEqual({ modelId: 'nab-speed', deleted: [1] });
    const list = await runSeqae(['models', 'list'], env);
    expect(JSON.parse(list.stdout)).toEqual([]);
    expectUsageError(
      await runSeqae(['models', 'delete', 'nab-speed'], env),
      /model nab-speed is not in the registry/,
    );
    expectUsageError(
      await runSeqae(['infer', '--model', 'nab-speed', '--input', `csv:${NAB}`], env),
      /model nab-speed is not in the registry/,
    );
  });
});

describe('seqae services status', () => {
  it('says what answers, and exits 1 when Kafka does not', async () => {
    const up = await runSeqae(['services', 'status'], env);
    expectOk(up);
    expect(up.stdout).toMatch(/^redis .* up/m);
    expect(up.stdout).toMatch(/^kafka .* up/m);
    const port = await freePort();
    const down = await runSeqae(['services', 'status'], {
      ...env,
      KAFKA_BROKERS: `127.0.0.1:${port}`,
    });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(new RegExp(`^kafka  127\\.0\\.0\\.1:${port}  DOWN`, 'm'));
  });
});
