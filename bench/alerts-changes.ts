/**
 * Whether the alerts see lasting changes, not only spikes: series of each synthetic shape (sine,
 * sawtooth, random walk, noise; period 50, amplitude 1, noise 0.05) that change for good at reading
 * 2000 of 3000, in each way an operator wants to hear of (a level shift, a stuck sensor, five times
 * the noise, a shorter period, half the amplitude) and not at all (the control). One model per series
 * trained as the demo's worker trains it (bench/series-errors.ts; errors cached under
 * .cache/alerts-changes/), then each scoring variant replayed over the errors. Per variant and kind:
 * changes caught (an alert within 200 windows of the change) and the median delay in readings;
 * and false alerts (every alert before the change, the controls' included).
 *   npx tsx bench/alerts-changes.ts [--seed 1,2,3] [--try alertLevelTail=1e-7 ...] [--trace sine/stuck/1]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LikelihoodScoring, type LikelihoodOptions } from '../src/anomaly/index.js';
import { initBackend } from '../src/backend/index.js';
import { gaussian, mulberry32 } from '../src/util/prng.js';
import { seriesErrors, type SeriesErrors } from './series-errors.js';
import { tryOptions } from './try-options.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1,2,3' },
    try: { type: 'string', multiple: true, default: [] },
    /** One case's windows around its change, `shape/kind/seed` (the first variant). */
    trace: { type: 'string' },
  },
});
const LENGTH = 3000;
const CHANGE = 2000;
const CATCH_WITHIN = 200;
const PERIOD = 50;
const NOISE = 0.05;

type Shape = 'sine' | 'sawtooth' | 'walk' | 'noise';
type Kind = 'none' | 'shift' | 'stuck' | 'noisier' | 'period' | 'smaller';
const KINDS: Record<Kind, Shape[]> = {
  none: ['sine', 'sawtooth', 'walk', 'noise'],
  shift: ['sine', 'sawtooth', 'walk', 'noise'],
  stuck: ['sine', 'sawtooth', 'walk', 'noise'],
  noisier: ['sine', 'sawtooth', 'walk', 'noise'],
  // A period or an amplitude means nothing to a stream of noise; a walk's excursions vary anyway.
  period: ['sine', 'sawtooth'],
  smaller: ['sine', 'sawtooth'],
};

/** A series of `shape` that changes at reading CHANGE in the way `kind` says. */
function series(shape: Shape, kind: Kind, seed: number): number[] {
  const random = mulberry32(seed * 7919 + shape.length * 31 + kind.length);
  const out: number[] = [];
  // Cycles so far: a new period bends the series where it is, without a jump.
  let cycles = random();
  let walk = 0;
  for (let i = 0; i < LENGTH; i++) {
    const changed = i >= CHANGE && kind !== 'none';
    if (changed && kind === 'stuck') {
      out.push(out[CHANGE - 1]!);
      continue;
    }
    cycles += 1 / (changed && kind === 'period' ? PERIOD * 0.6 : PERIOD);
    let base = 0;
    if (shape === 'sine') base = Math.sin(2 * Math.PI * cycles);
    else if (shape === 'sawtooth') base = 2 * (cycles - Math.floor(cycles)) - 1;
    else if (shape === 'walk') {
      // Mean-reverting, as the synthetic source's walk.
      walk = walk * (1 - 1 / PERIOD) + gaussian(random) / Math.sqrt(PERIOD);
      base = walk;
    }
    const amplitude = changed && kind === 'smaller' ? 0.5 : 1;
    const noise = changed && kind === 'noisier' ? 5 * NOISE : NOISE;
    const shift = changed && kind === 'shift' ? 1 : 0;
    out.push(amplitude * base + noise * gaussian(random) + shift);
  }
  return out;
}

interface Case {
  shape: Shape;
  kind: Kind;
  seed: number;
  values: number[];
  errors: SeriesErrors;
}

async function cases(): Promise<Case[]> {
  const dir = join('.cache', 'alerts-changes');
  await mkdir(dir, { recursive: true });
  let backend = false;
  const out: Case[] = [];
  for (const seed of values.seed!.split(',').map(Number))
    for (const [kind, shapes] of Object.entries(KINDS) as [Kind, Shape[]][])
      for (const shape of shapes) {
        const v = series(shape, kind, seed);
        const file = join(dir, `${shape}-${kind}-seed${seed}.json`);
        let errors: SeriesErrors;
        try {
          errors = JSON.parse(await readFile(file, 'utf8')) as SeriesErrors;
        } catch {
          if (!backend) await initBackend('auto', { scoring: false });
          backend = true;
          errors = await seriesErrors(v, 1);
          await writeFile(file, JSON.stringify(errors));
          console.error(`${shape} ${kind} seed ${seed}: errors cached`);
        }
        out.push({ shape, kind, seed, values: v, errors });
      }
  return out;
}

const VARIANTS: Record<string, Partial<LikelihoodOptions>> = { likelihood: {} };
for (const t of values.try!) VARIANTS[t] = tryOptions(t);

const all = await cases();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, options] of Object.entries(VARIANTS)) {
  let falseAlerts = 0;
  const byKind = new Map<
    Kind,
    { caught: number; total: number; delays: number[]; missed: string[] }
  >();
  for (const c of all) {
    const scoring = new LikelihoodScoring(options);
    const { first, errors } = c.errors;
    let delay: number | undefined;
    for (let k = 0; k < errors.length; k++) {
      const seq = first + k;
      const score = scoring.score(errors[k]!, undefined, { streamId: 'x', value: c.values[seq]! });
      if (values.trace === `${c.shape}/${c.kind}/${c.seed}` && Math.abs(seq - CHANGE) <= 60)
        console.log(
          `${seq} value ${c.values[seq]!.toFixed(3)} errors ${errors[k]!.reconstructionError?.toExponential(2)} ${errors[k]!.predictionError?.toExponential(2)} score ${score.toFixed(3)} alert ${scoring.alertScoreOf('x')!.toFixed(3)} ${scoring.reasonOf('x') ?? ''}`,
        );
      if (scoring.alertScoreOf('x')! < 0.5) continue;
      if (seq < CHANGE || c.kind === 'none') falseAlerts++;
      else if (delay === undefined && seq - CHANGE <= CATCH_WITHIN) delay = seq - CHANGE;
    }
    if (c.kind === 'none') continue;
    const k = byKind.get(c.kind) ?? { caught: 0, total: 0, delays: [], missed: [] };
    k.total++;
    if (delay !== undefined) {
      k.caught++;
      k.delays.push(delay);
    } else k.missed.push(`${c.shape}/${c.seed}`);
    byKind.set(c.kind, k);
  }
  const kinds = [...byKind]
    .map(
      ([kind, k]) =>
        `${kind} ${k.caught}/${k.total}${k.delays.length ? ` (${median(k.delays)})` : ''}`,
    )
    .join(', ');
  const caught = [...byKind.values()].reduce((a, k) => a + k.caught, 0);
  const total = [...byKind.values()].reduce((a, k) => a + k.total, 0);
  console.log(
    `${name.padEnd(24)} caught ${caught} of ${total}, ${falseAlerts} false alerts | ${kinds}`,
  );
  const missed = [...byKind].flatMap(([kind, k]) => k.missed.map((m) => `${kind}:${m}`));
  if (missed.length) console.log(`  missed: ${missed.join(' ')}`);
}
