/**
 * Iterates on the anomaly scoring without retraining: computes each NAB file's window errors once
 * (cached under .cache/nab-errors/<source>/), then replays the scoring over them and prints the three
 * profile scores and the categories' standard scores.
 *   npx tsx bench/nab.ts --data ../shared/datasets/nab --errors seqae [--seed 2] [--set combine=mean ...]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { LikelihoodScoring, type WindowErrors } from '../src/anomaly/index.js';
import { initBackend } from '../src/backend/index.js';
import { errorDetector, type ErrorStream, type StreamInfo } from '../src/eval/detector.js';
import { autoencoderErrors } from '../src/eval/detectors/autoencoder.js';
import { windowMeanErrors } from '../src/eval/detectors/window-mean.js';
import { readCorpus } from '../src/eval/nab/corpus.js';
import { evaluateNab } from '../src/eval/nab/evaluate.js';
import { PROFILE_NAMES } from '../src/eval/nab/scorer.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    errors: { type: 'string', default: 'seqae' },
    set: { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: '.cache/nab-bench-out' },
    seed: { type: 'string', default: '1' },
  },
});
const sources: Record<string, (info: StreamInfo) => Promise<ErrorStream>> = {
  seqae: autoencoderErrors({ seed: Number(values.seed) }),
  'window-mean': windowMeanErrors(),
};
const source = sources[values.errors!]!;
if (values.errors === 'seqae') await initBackend('auto', { scoring: false });
// Another seed caches apart: .cache/nab-errors/seqae-seed<n>/.
const cacheDir = join(
  '.cache',
  'nab-errors',
  values.errors! + (values.seed === '1' ? '' : `-seed${values.seed}`),
);

/** Each file's errors from the cache, computed (and cached) on first use. */
async function cached(info: StreamInfo, values: number[]): Promise<WindowErrors[]> {
  const path = join(cacheDir, info.name + '.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as WindowErrors[];
  } catch {
    const stream = await source(info);
    const all: WindowErrors[] = [];
    for (const v of values) all.push(await stream.next(v));
    stream.close?.();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(all));
    return all;
  }
}

const corpus = await readCorpus(values.data!);
const byName = new Map(corpus.map((f) => [f.name, f]));
const options = Object.fromEntries(
  values.set!.map((kv) => {
    const [k, v] = kv.split('=') as [string, string];
    return [k, Number.isNaN(Number(v)) ? v : Number(v)];
  }),
);
const detector = errorDetector(
  values.errors!,
  async (info) => {
    const errors = await cached(info, byName.get(info.name)!.values);
    let i = 0;
    return { next: async () => errors[i++]! };
  },
  () => new LikelihoodScoring(options),
);
const summary = await evaluateNab(corpus, detector, values.out!, (p) => {
  if (p.seconds > 1) console.error(`${p.index + 1}/${p.total} ${p.name} ${p.seconds.toFixed(1)} s`);
});
console.log(
  JSON.stringify(options),
  PROFILE_NAMES.map((p) => summary[p].score.toFixed(2)).join(' / '),
  JSON.stringify(summary.standard.categories),
);
