import { gaussian, mulberry32 } from '../../util/prng.js';
import { streamIdSchema } from '../../contracts/window.js';
import type { Reading } from '../../contracts/reading.js';
import type { ReadingSource, SourceBatch, SourceProgress } from './types.js';

/**
 * A synthetic fleet of sensor streams for demos, tests and benchmarks: seeded, so the same spec gives
 * the same readings everywhere, with anomalies injected at known positions.
 *
 * Spec: `<shape>?key=value&…`, shape one of `sine`, `sawtooth`, `walk` (random walk), `noise`, or
 * `mix` (stream i takes the i-th of those four, round robin). Keys (defaults):
 *
 * | key        | default        | meaning                                                       |
 * |------------|----------------|---------------------------------------------------------------|
 * | streams    | 1              | number of streams                                             |
 * | length     | 1000           | readings per stream; 0 = endless                              |
 * | period     | 50             | readings per cycle (sine, sawtooth); walk: smoothing scale    |
 * | amplitude  | 1              | signal amplitude                                              |
 * | noise      | 0.05           | standard deviation of added Gaussian noise                    |
 * | features   | 1              | values per reading (each feature its own phase)               |
 * | anomalies  | 0              | anomalies per stream (endless: per 1000 readings)             |
 * | anomalous  | streams        | how many streams get them (the first ones; the others none)  |
 * | magnitude  | 4              | anomaly offset, in amplitudes (sign drawn at random)          |
 * | anomalyLength | 1           | readings per anomaly (1 = spike, more = level shift)          |
 * | step       | 1000           | milliseconds between readings                                 |
 * | start      | 1700000000000  | epoch ms of the first reading                                 |
 * | seed       | 1              | PRNG seed                                                     |
 * | prefix     | `syn-<shape>-` | stream ids are prefix + index (`syn-sine-0`, …)               |
 *
 * Example: `sine?streams=4&length=2000&period=50&noise=0.05&anomalies=3&seed=1`.
 * Anomalies of a finite stream fall in its last 80%, one in each of `anomalies` equal slots.
 */
export interface SyntheticSpec {
  shape: SyntheticShape | 'mix';
  streams: number;
  length: number;
  period: number;
  amplitude: number;
  noise: number;
  features: number;
  anomalies: number;
  /** Streams with anomalies: the first `anomalous` (default: all). */
  anomalous: number;
  magnitude: number;
  anomalyLength: number;
  step: number;
  start: number;
  seed: number;
  prefix: string;
}

export type SyntheticShape = 'sine' | 'sawtooth' | 'walk' | 'noise';
const SHAPES: SyntheticShape[] = ['sine', 'sawtooth', 'walk', 'noise'];

/** An injected anomaly: readings `index … index + length - 1` of the stream (0-based, = their seq). */
export interface SyntheticAnomaly {
  streamId: string;
  index: number;
  length: number;
  /** Epoch ms of its first reading. */
  ts: number;
  offset: number;
}

const NUMERIC: Record<string, [min: number, max: number, integer: boolean]> = {
  streams: [1, 100_000, true],
  length: [0, Number.MAX_SAFE_INTEGER, true],
  period: [2, 1e9, false],
  amplitude: [0, 1e12, false],
  noise: [0, 1e12, false],
  features: [1, 1000, true],
  anomalies: [0, 1e6, true],
  anomalous: [0, 100_000, true],
  magnitude: [-1e6, 1e6, false],
  anomalyLength: [1, 1e6, true],
  step: [1, 1e12, true],
  start: [-8.64e15, 8.64e15, true],
  seed: [0, 2 ** 32 - 1, true],
};

/** Parses `sine?streams=4&…` (the part after `synthetic:`); throws RangeError naming the bad key. */
export function parseSyntheticSpec(text: string): SyntheticSpec {
  const [shapeText = '', query = ''] = text.split('?', 2);
  const shape = (shapeText || 'sine') as SyntheticSpec['shape'];
  if (![...SHAPES, 'mix'].includes(shape))
    throw new RangeError(
      `synthetic shape "${shapeText}": expected ${[...SHAPES, 'mix'].join(', ')}`,
    );
  const spec: SyntheticSpec = {
    shape,
    streams: 1,
    length: 1000,
    period: 50,
    amplitude: 1,
    noise: 0.05,
    features: 1,
    anomalies: 0,
    anomalous: Number.MAX_SAFE_INTEGER,
    magnitude: 4,
    anomalyLength: 1,
    step: 1000,
    start: 1_700_000_000_000,
    seed: 1,
    prefix: `syn-${shape}-`,
  };
  for (const [key, raw] of new URLSearchParams(query)) {
    if (key === 'prefix') {
      spec.prefix = raw;
      continue;
    }
    const range = NUMERIC[key];
    if (!range) throw new RangeError(`synthetic spec: unknown key "${key}"`);
    const x = Number(raw);
    const [min, max, integer] = range;
    if (
      raw.trim() === '' ||
      !Number.isFinite(x) ||
      x < min ||
      x > max ||
      (integer && !Number.isInteger(x))
    )
      throw new RangeError(
        `synthetic spec: ${key}=${raw}: expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`,
      );
    (spec as unknown as Record<string, number>)[key] = x;
  }
  streamIdSchema.parse(`${spec.prefix}0`);
  if (spec.length > 0 && spec.anomalies * spec.anomalyLength > spec.length * 0.8)
    throw new RangeError('synthetic spec: the anomalies do not fit in the last 80% of the stream');
  return spec;
}

/** A per-stream seed: streams are independent, so adding streams leaves the others unchanged. */
function streamSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

const BLOCK = 1000;

/**
 * Anomalies of stream `index`, in order of position: a finite stream's all; an endless stream's in
 * readings `block * 1000 …` of `block`.
 */
export function streamAnomalies(spec: SyntheticSpec, index: number, block = 0): SyntheticAnomaly[] {
  if (spec.anomalies === 0 || index >= spec.anomalous) return [];
  const random = mulberry32(streamSeed(spec.seed, index) ^ 0x5bd1e995 ^ block);
  const finite = spec.length > 0;
  const from = finite ? Math.floor(spec.length * 0.2) : block * BLOCK;
  const span = finite ? spec.length - from : BLOCK;
  const slot = Math.floor(span / spec.anomalies);
  const out: SyntheticAnomaly[] = [];
  for (let k = 0; k < spec.anomalies; k++) {
    const room = Math.max(1, slot - spec.anomalyLength + 1);
    const at = from + k * slot + Math.floor(random() * room);
    const sign = random() < 0.5 ? -1 : 1;
    out.push({
      streamId: `${spec.prefix}${index}`,
      index: at,
      length: spec.anomalyLength,
      ts: spec.start + at * spec.step,
      offset: sign * spec.magnitude * spec.amplitude,
    });
  }
  return out;
}

/** Every injected anomaly of a finite fleet (for endless fleets: those in the first 1000 readings). */
export function syntheticAnomalies(spec: SyntheticSpec): SyntheticAnomaly[] {
  return Array.from({ length: spec.streams }, (_, i) => streamAnomalies(spec, i)).flat();
}

/** One stream's generator: the reading at each index, in order. */
class StreamGenerator {
  private readonly random: () => number;
  private readonly phase: number[];
  private readonly walk: number[];
  private readonly shape: SyntheticShape;
  private anomalies: SyntheticAnomaly[];
  private block = 0;
  readonly id: string;

  constructor(
    private readonly spec: SyntheticSpec,
    private readonly index: number,
  ) {
    this.random = mulberry32(streamSeed(spec.seed, index));
    this.shape = spec.shape === 'mix' ? SHAPES[index % SHAPES.length]! : spec.shape;
    this.phase = Array.from({ length: spec.features }, () => this.random() * spec.period);
    this.walk = new Array<number>(spec.features).fill(0);
    this.anomalies = streamAnomalies(spec, index);
    this.id = `${spec.prefix}${index}`;
  }

  at(i: number): Reading {
    const { spec } = this;
    if (spec.length === 0 && i >= (this.block + 1) * BLOCK) {
      this.block = Math.floor(i / BLOCK);
      this.anomalies = streamAnomalies(spec, this.index, this.block);
    }
    let offset = 0;
    for (const a of this.anomalies) if (i >= a.index && i < a.index + a.length) offset = a.offset;
    const values = new Array<number>(spec.features);
    for (let f = 0; f < spec.features; f++) {
      const x = (i + this.phase[f]!) / spec.period;
      let base: number;
      switch (this.shape) {
        case 'sine':
          base = Math.sin(2 * Math.PI * x);
          break;
        case 'sawtooth':
          base = 2 * (x - Math.floor(x)) - 1;
          break;
        case 'walk':
          // mean-reverting so an endless walk stays near the amplitude
          this.walk[f] =
            this.walk[f]! * (1 - 1 / spec.period) + gaussian(this.random) / Math.sqrt(spec.period);
          base = this.walk[f]!;
          break;
        case 'noise':
          base = 0;
          break;
      }
      values[f] = spec.amplitude * base + spec.noise * gaussian(this.random) + offset;
    }
    return { streamId: this.id, ts: spec.start + i * spec.step, values };
  }
}

/** The fleet's readings in time order (all streams at t, then all at t + step, …). */
export function* generateSynthetic(spec: SyntheticSpec): Generator<Reading> {
  const gens = Array.from({ length: spec.streams }, (_, i) => new StreamGenerator(spec, i));
  for (let i = 0; spec.length === 0 || i < spec.length; i++) for (const g of gens) yield g.at(i);
}

export class SyntheticSource implements ReadingSource {
  readonly kind = 'synthetic' as const;
  readonly description: string;
  readonly progress?: SourceProgress;
  readonly spec: SyntheticSpec;
  private produced = 0;

  constructor(
    spec: string | SyntheticSpec,
    private readonly batchSize = 1024,
  ) {
    this.spec = typeof spec === 'string' ? parseSyntheticSpec(spec) : spec;
    this.description =
      typeof spec === 'string' ? `synthetic:${spec}` : `synthetic:${this.spec.shape}`;
    if (this.spec.length > 0)
      this.progress = {
        unit: 'readings',
        total: this.spec.length * this.spec.streams,
        done: () => this.produced,
      };
  }

  /** The anomalies injected, with their positions. */
  anomalies(): SyntheticAnomaly[] {
    return syntheticAnomalies(this.spec);
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    let items: SourceBatch['items'] = [];
    for (const reading of generateSynthetic(this.spec)) {
      items.push({ reading });
      if (items.length >= this.batchSize) {
        this.produced += items.length;
        yield { items };
        items = [];
        if (signal.aborted) return;
      }
    }
    this.produced += items.length;
    if (items.length > 0) yield { items };
  }

  async close(): Promise<void> {}
}
