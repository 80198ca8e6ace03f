import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { outputMessages, outputPayloads, type WindowOutputs } from '../../src/contracts/outputs.js';
import type { Window } from '../../src/contracts/window.js';
import { ValidationError } from '../../src/errors/index.js';
import { ScoreBatcher } from '../../src/scoring/score-batcher.js';
import type { ScoreResult } from '../../src/scoring/window-scorer.js';

const win = (streamId: string, seq: number, width = 1): Window => ({
  v: 1,
  streamId,
  seq,
  end: 1000 * seq,
  step: 1000,
  values: [Array.from({ length: width }, () => seq)],
});

const outputsOf = (w: Window, modelId: string): WindowOutputs => ({
  window: w,
  modelId,
  modelVersion: 1,
  reconstruction: w.values,
  prediction: w.values,
  embedding: [w.seq / 3, -1e-7],
  score: 0.5,
  alert: false,
  reconstructionError: 0.25,
  predictionError: null,
  scorer: 'likelihood',
  reason: null,
});

/** A scorer that records its calls: models starting with `none` have no version; width 2 is refused. */
function recordingScorer() {
  const calls: { modelId: string; windows: readonly Window[] }[] = [];
  return {
    calls,
    async score(modelId: string, windows: readonly Window[]): Promise<ScoreResult | undefined> {
      calls.push({ modelId, windows });
      if (modelId.startsWith('none')) return undefined;
      const result: ScoreResult = { outputs: [], rejected: [] };
      // Reversed, as the real scorer reorders (by stream and seq): callers must get theirs back.
      for (const w of [...windows].reverse()) {
        if (w.values[0]!.length === 2)
          result.rejected.push({
            window: w,
            error: new ValidationError('width', 'shape_mismatch'),
          });
        else result.outputs.push(outputsOf(w, modelId));
      }
      return result;
    },
  };
}

describe('ScoreBatcher', () => {
  it('scores the callers of one tick in one call per model and one send, each getting its own windows', async () => {
    const scorer = recordingScorer();
    const sends: WindowOutputs[][] = [];
    const batcher = new ScoreBatcher(
      scorer,
      { publish: async (o) => void sends.push([...o]) },
      { chunk: 256, publish: true },
    );
    const a = [win('a', 1), win('a', 2)];
    const b = [win('b', 1), win('b', 2, 2)];
    const c = [win('c', 7)];
    const none = [win('x', 1)];
    const [ra, rb, rc, rn] = await Promise.all([
      batcher.score('m1', a),
      batcher.score('m1', b),
      batcher.score('m2', c),
      batcher.score('none', none),
    ]);
    expect(scorer.calls.map((x) => [x.modelId, x.windows.length])).toEqual([
      ['m1', 4],
      ['m2', 1],
      ['none', 1],
    ]);
    expect(sends).toHaveLength(1);
    expect(
      sends[0]!.map((o) => `${o.modelId}/${o.window.streamId}:${o.window.seq}`).sort(),
    ).toEqual(['m1/a:1', 'm1/a:2', 'm1/b:1', 'm2/c:7']);
    expect(ra!.outputs.map((o) => o.window)).toEqual(expect.arrayContaining(a));
    expect(ra!.outputs).toHaveLength(2);
    expect(ra!.rejected).toEqual([]);
    expect(rb!.outputs.map((o) => o.window)).toEqual([b[0]]);
    expect(rb!.rejected.map((r) => r.window)).toEqual([b[1]]);
    expect(rc!.outputs.map((o) => o.window)).toEqual(c);
    expect(rn).toBeUndefined();
  });

  it('takes callers that come while a round is in flight into the next round', async () => {
    const scorer = recordingScorer();
    let release!: () => void;
    const sends: number[] = [];
    const batcher = new ScoreBatcher(
      scorer,
      {
        publish: async (o) => {
          sends.push(o.length);
          if (sends.length === 1) await new Promise<void>((r) => (release = r));
        },
      },
      { chunk: 256, publish: true },
    );
    const first = batcher.score('m', [win('a', 1)]);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const later = [1, 2, 3].map((i) => batcher.score('m', [win(`s${i}`, i)]));
    release();
    await Promise.all([first, ...later]);
    expect(sends).toEqual([1, 3]);
  });

  it('scores the next round while a send is in flight, sending and resolving in round order', async () => {
    const scorer = recordingScorer();
    const releases: (() => void)[] = [];
    const sends: string[][] = [];
    const batcher = new ScoreBatcher(
      scorer,
      {
        publish: async (o) => {
          sends.push(o.map((x) => x.window.streamId).sort());
          await new Promise<void>((r) => releases.push(r));
        },
      },
      { chunk: 256, publish: true },
    );
    const settled: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => settled.push(name));
    const first = track('a', batcher.score('m', [win('a', 1)]));
    while (sends.length < 1) await new Promise((r) => setImmediate(r));
    const second = track('b', batcher.score('m', [win('b', 1)]));
    const third = track('c', batcher.score('m', [win('c', 1)]));
    // scored ahead of the first send's acknowledgement, but not sent before it
    while (scorer.calls.length < 2) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(scorer.calls.map((c) => c.windows.map((w) => w.streamId))).toEqual([['a'], ['b', 'c']]);
    expect(sends).toHaveLength(1);
    expect(settled).toEqual([]);
    releases[0]!();
    await first;
    while (sends.length < 2) await new Promise((r) => setImmediate(r));
    expect(settled).toEqual(['a']);
    expect(sends).toEqual([['a'], ['b', 'c']]);
    releases[1]!();
    await Promise.all([second, third]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('rejects every caller of a round whose send fails, and goes on with the next round', async () => {
    const scorer = recordingScorer();
    let fail = true;
    const batcher = new ScoreBatcher(
      scorer,
      {
        publish: async () => {
          if (fail) throw new Error('kafka down');
        },
      },
      { chunk: 256, publish: true },
    );
    const results = await Promise.allSettled([
      batcher.score('m1', [win('a', 1)]),
      batcher.score('m2', [win('b', 1)]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const ok = await batcher.score('m1', [win('a', 2)]);
    expect(ok!.outputs).toHaveLength(1);
  });

  it('does not send when publishing is off', async () => {
    let sent = 0;
    const batcher = new ScoreBatcher(
      recordingScorer(),
      { publish: async () => void sent++ },
      { chunk: 256, publish: false },
    );
    expect((await batcher.score('m', [win('a', 1)]))!.outputs).toHaveLength(1);
    expect(sent).toBe(0);
  });
});

describe('outputMessages', () => {
  it('writes each topic the bytes of its JSON payload (json), with and without decoders', () => {
    const { topics } = loadConfig({}, { SEQAE_TOPIC_PREFIX: 't.' });
    const full = outputsOf(win('s:x', 3), 'model "q"');
    const embeddingOnly: WindowOutputs = {
      ...outputsOf(win('e', 4), 'm'),
      reconstruction: undefined,
      prediction: undefined,
      score: Number.NaN,
      predictionError: 0.125,
    };
    const batches = outputMessages(topics, [full, embeddingOnly], 'json');
    expect(batches.map((b) => [b.name, b.topic, b.messages.length])).toEqual([
      ['embeddings', topics.embeddings, 2],
      ['anomalies', topics.anomalies, 2],
      ['reconstructions', topics.reconstructions, 1],
      ['predictions', topics.predictions, 1],
    ]);
    for (const b of batches) {
      b.messages.forEach((m, i) => {
        const o = b.messages.length === 2 ? [full, embeddingOnly][i]! : full;
        expect(m.value).toBe(JSON.stringify(outputPayloads(o)[b.name]));
        expect(m.key).toBe(o.window.streamId);
        expect(m.headers).toEqual({
          'seqae-id': `${o.window.streamId}:${o.window.seq}`,
          'seqae-model-id': o.modelId,
          'seqae-model-version': '1',
        });
      });
    }
  });

  it('writes the shared fields as JSON.stringify would, whatever the ids hold', () => {
    const { topics } = loadConfig({}, {});
    for (const id of ['q"\u0007\\', 'x\ud800y', '😀', 'plain']) {
      const o = {
        ...outputsOf({ ...win(id, 2 ** 52), end: -(2 ** 40) }, `m${id}`),
        modelVersion: 12,
      };
      for (const b of outputMessages(topics, [o], 'json'))
        expect(b.messages[0]!.value).toBe(JSON.stringify(outputPayloads(o)[b.name]));
      const anomalies = outputMessages(topics, [o]).find((b) => b.name === 'anomalies')!;
      expect(anomalies.messages[0]!.value).toBe(JSON.stringify(outputPayloads(o).anomalies));
    }
  });
});
