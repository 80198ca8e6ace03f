/**
 * The demo's alerts offline, in seconds: the demo's synthetic fleet (20 sensors, the first 5 with two
 * injected spikes every 1000 readings), one model per sensor trained once as the demo's worker does
 * (window 16, 32 units, 20 epochs on the first 200 windows; then every window from the first, as the
 * worker scores the windows it held while training), each window's errors cached under
 * .cache/alerts-errors/ (computed on first use), then each scoring variant replayed over them as the
 * worker scores (errors and last value per window, in order). Per variant: alerts, those on windows
 * holding an injected anomaly, precision, injected anomalies caught (an alert at or after its start,
 * within 10 windows), and alerts per sensor and per reason.
 * With several seeds (--seed 1,2,3), each is a fleet of its own (its series, anomalies and models),
 * and a variant's line adds its lowest precision over them (the demo's criterion holds per run).
 * --model-seed trains the models from other initial weights (the demo's differ run to run).
 * --warm N trains them as the demo's worker does: the first cold, each next one fine-tuned N epochs
 * from the one before it (any shape), in an order drawn from the model seed.
 *   npx tsx bench/alerts-synthetic.ts [--length 4000] [--seed 1,2] [--model-seed 1] [--warm 5] [--only name,name] [--sensors]
 *     [--try alertLevelTail=1e-7 ...]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  LikelihoodScoring,
  type AnomalyScoring,
  type LikelihoodOptions,
  type WindowErrors,
} from '../src/anomaly/index.js';
import { initBackend } from '../src/backend/index.js';
import {
  generateSynthetic,
  parseSyntheticSpec,
  streamAnomalies,
  type SyntheticAnomaly,
} from '../src/producer/sources/synthetic.js';
import { mulberry32 } from '../src/util/prng.js';
import { seriesErrors, WINDOW } from './series-errors.js';
import { tryOptions } from './try-options.js';

const { values } = parseArgs({
  options: {
    length: { type: 'string', default: '4000' },
    only: { type: 'string' },
    sensors: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    'model-seed': { type: 'string', default: '1' },
    /**
     * Models as the demo's worker trains them: the first cold, each next one warm-started from the
     * one trained before it (whatever its shape) for this many epochs, in an order drawn from the
     * model seed (the demo's streams finish training in an order that differs run to run).
     */
    warm: { type: 'string' },
    /** Extra variants, `key=value,key=value` each (options of LikelihoodOptions). */
    try: { type: 'string', multiple: true, default: [] },
  },
});
const LENGTH = Number(values.length);
const MODEL_SEED = Number(values['model-seed']);
const WARM_EPOCHS = values.warm === undefined ? undefined : Number(values.warm);
/** An injected anomaly is caught by an alert at or after its start and within this many windows. */
const CATCH_WITHIN = 10;

// The demo's fleet (src/demo/index.ts): endless, so anomalies come per block of 1000 readings.
const fleetSpec = (seed: string) =>
  parseSyntheticSpec(
    `mix?streams=20&length=0&anomalies=2&anomalous=5&noise=0.05&step=1000&seed=${seed}&prefix=sensor-`,
  );

interface Sensor {
  id: string;
  readings: number[];
  anomalies: SyntheticAnomaly[];
  /** Errors of the windows ending at readings `first …`. */
  first: number;
  errors: WindowErrors[];
}

async function sensors(seed: string): Promise<Sensor[]> {
  const spec = fleetSpec(seed);
  const readings: number[][] = Array.from({ length: spec.streams }, () => []);
  let n = 0;
  for (const r of generateSynthetic(spec)) {
    readings[n % spec.streams]!.push(r.values[0]!);
    if (++n >= LENGTH * spec.streams) break;
  }
  const dir = join(
    '.cache',
    'alerts-errors',
    `seed${seed}-len${LENGTH}-all${MODEL_SEED === 1 ? '' : `-model${MODEL_SEED}`}${WARM_EPOCHS === undefined ? '' : `-warm${WARM_EPOCHS}`}`,
  );
  // The training order (with --warm): a shuffle drawn from the model seed.
  const order = Array.from({ length: spec.streams }, (_, i) => i);
  const shuffle = mulberry32(MODEL_SEED * 7919 + Number(seed));
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  let donor: Uint8Array | undefined;
  await mkdir(dir, { recursive: true });
  let backend = false;
  const out: Sensor[] = new Array<Sensor>(spec.streams);
  for (const i of WARM_EPOCHS === undefined ? order.sort((a, b) => a - b) : order) {
    const anomalies: SyntheticAnomaly[] = [];
    for (let b = 0; b * 1000 < LENGTH; b++) anomalies.push(...streamAnomalies(spec, i, b));
    const file = join(dir, `${i}.json`);
    // With --warm, each model is kept beside its errors: the next one starts from it.
    const modelFile = join(dir, `${i}.model`);
    let cached: { first: number; errors: WindowErrors[] };
    try {
      cached = JSON.parse(await readFile(file, 'utf8')) as typeof cached;
      if (WARM_EPOCHS !== undefined) donor = new Uint8Array(await readFile(modelFile));
    } catch {
      if (!backend) await initBackend('auto', { scoring: false });
      backend = true;
      const warm = WARM_EPOCHS !== undefined && donor ? { donor, epochs: WARM_EPOCHS } : undefined;
      cached = await seriesErrors(readings[i]!, MODEL_SEED, warm, (a) => (donor = a));
      if (WARM_EPOCHS !== undefined) await writeFile(modelFile, donor!);
      await writeFile(file, JSON.stringify(cached));
      console.error(`sensor-${i}: errors cached${warm ? ' (warm)' : ''}`);
    }
    out[i] = { id: `sensor-${i}`, readings: readings[i]!, anomalies, ...cached };
  }
  return out;
}

const L = (o: Partial<LikelihoodOptions>) => () => new LikelihoodScoring(o);
const VARIANTS: Record<string, () => AnomalyScoring> = {
  likelihood: L({}),
  // The alert as it was: the score past the threshold.
  'alert = score (before)': () => {
    const l = new LikelihoodScoring({ peakWindow: 0 });
    return { name: l.name, score: l.score.bind(l), reasonOf: () => null };
  },
  'no peak check': L({ peakWindow: 0 }),
  'alertRangeTail 1e-2': L({ alertRangeTail: 1e-2 }),
  'alertRangeTail 1e-3': L({ alertRangeTail: 1e-3 }),
  'peakTail 1e-6': L({ peakTail: 1e-6 }),
  'peakTail 1e-4': L({ peakTail: 1e-4 }),
  'alertWarmup 200 (off)': L({ alertWarmup: 200 }),
  // The score's hysteresis changes the score only: the alerts must be those of the defaults.
  'scoreHold 0.1 (score only)': L({ scoreHold: 0.1 }),
};

// Peak alerts without the reconstruction error's corroboration: how much of a jump, below which score.
VARIANTS['no peak corroboration'] = L({ peakCorroboration: 0 });
for (const factor of [5, 10, 20])
  for (const from of [1e-5, 1e-4, 1e-3])
    VARIANTS[`corroboration ${factor} from ${from}`] = L({
      peakCorroboration: factor,
      corroboratedTail: from,
    });
for (const t of values.try!) VARIANTS[t] = L(tryOptions(t));
const fleets: Sensor[][] = [];
for (const seed of values.seed.split(',')) fleets.push(await sensors(seed));
const only = values.only?.split(',');
for (const [name, make] of Object.entries(VARIANTS)) {
  if (only && !only.includes(name) && !values.try!.includes(name)) continue;
  let alerts = 0;
  let lowest = 1;
  let onInjected = 0;
  let injected = 0;
  let caught = 0;
  const reasons: Record<string, number> = {};
  const perSensor: string[] = [];
  for (const fleet of fleets) {
    const scoring = make();
    const before = { alerts, onInjected };
    for (const s of fleet) {
      const alertSeqs: number[] = [];
      let sAlerts = 0;
      for (let k = 0; k < s.errors.length; k++) {
        const seq = s.first + k;
        const score = scoring.score(s.errors[k]!, undefined, {
          streamId: s.id,
          value: s.readings[seq]!,
        });
        // The alert decision: the scoring's alert score where it has one, else its score.
        if ((scoring.alertScoreOf?.(s.id) ?? score) < 0.5) continue;
        sAlerts++;
        alertSeqs.push(seq);
        const reason = scoring.reasonOf?.(s.id) ?? 'none';
        reasons[reason] = (reasons[reason] ?? 0) + 1;
        if (s.anomalies.some((a) => a.index <= seq && a.index + a.length - 1 >= seq - WINDOW + 1))
          onInjected++;
      }
      alerts += sAlerts;
      let sCaught = 0;
      let sInjected = 0;
      // Every anomaly from the first window scored on, as the demo counts them.
      for (const a of s.anomalies) {
        if (a.index < s.first || a.index + CATCH_WITHIN >= s.readings.length) continue;
        sInjected++;
        if (alertSeqs.some((q) => q >= a.index && q <= a.index + CATCH_WITHIN)) sCaught++;
      }
      injected += sInjected;
      caught += sCaught;
      perSensor.push(`${s.id}:${sAlerts}${sInjected > 0 ? `(${sCaught}/${sInjected})` : ''}`);
    }
    const runAlerts = alerts - before.alerts;
    if (runAlerts > 0) lowest = Math.min(lowest, (onInjected - before.onInjected) / runAlerts);
  }
  const precision = alerts > 0 ? onInjected / alerts : 0;
  console.log(
    `${name.padEnd(28)} ${String(alerts).padStart(4)} alerts, ${String(onInjected).padStart(4)} on injected (${(100 * precision).toFixed(0)}%), caught ${caught} of ${injected}${fleets.length > 1 ? `, lowest ${(100 * lowest).toFixed(0)}%` : ''} | ${JSON.stringify(reasons)}`,
  );
  if (values.sensors) console.log(`  ${perSensor.join(' ')}`);
}
