/**
 * `npm run bench`: seqae against doing it by hand, in one run against the local services
 * (REDIS_URL, KAFKA_BROKERS; default 127.0.0.1). One JSON line per figure and per ratio on stdout
 * (see report.ts), then a summary table; notes on stderr. Every name it creates carries a per-run
 * prefix and is deleted at the end, and every process it starts is stopped, also on failure and
 * Ctrl-C.
 *
 * Usage: npm run bench -- [--quick] [--sections ceilings,e2e,encodings,bullmq,workers,streams,fleet]
 *        [--fleet-streams 50] [--infer-concurrency 256]
 * --quick: a smoke run of 2–3 minutes (small counts, 6 fleet streams); the figures are then rough.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { scoringEngine } from '../src/backend/index.js';
import { trainBenchModel } from './bench-model.js';
import { bullmqNoop, kafkaPassThrough, modelOnly } from './ceilings.js';
import { fleetStart } from './fleet-start.js';
import { Report } from './report.js';
import { kafkaPassThrough1to4, kafkaPassThrough1to4Alone } from './transport-ceiling.js';
import { RunScope } from './run-scope.js';
import { encodings, endToEnd, inferJobs, manyStreams, workersOneVsTwo } from './seqae.js';

const SECTIONS = ['ceilings', 'e2e', 'encodings', 'bullmq', 'workers', 'streams', 'fleet'] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sections: { type: 'string', default: SECTIONS.join(',') },
    'fleet-streams': { type: 'string' },
    'infer-concurrency': { type: 'string' },
  },
});
const quick = args.quick;
const sections = new Set(args.sections.split(',').map((s) => s.trim()) as Section[]);
for (const s of sections)
  if (!SECTIONS.includes(s)) throw new Error(`--sections: unknown ${s} (${SECTIONS.join(',')})`);

const sizes = quick
  ? {
      passThrough: 5000,
      noop: 3000,
      modelSeconds: 2,
      windows: 5000,
      jobs: 2000,
      latencySeconds: 5,
      streams: 2000,
    }
  : {
      passThrough: 50_000,
      noop: 20_000,
      modelSeconds: 5,
      windows: 20_000,
      jobs: 10_000,
      latencySeconds: 20,
      streams: 6000,
    };
const fleetStreams = Number(args['fleet-streams'] ?? (quick ? 6 : 50));
/** The workers' micro-batch (SEQAE_BATCH_MAX's default) and their default model's units. */
const BATCH = 256;
const UNITS = 100;
/**
 * Infer jobs run at once per worker (SEQAE_CONCURRENCY, its most) in the BullMQ figure: the jobs
 * running together are scored in one model call and published in one send, so the rate is about
 * this many jobs per round trip (moveToActive, score, Kafka acknowledgement, moveToFinished).
 */
const INFER_CONCURRENCY = Number(args['infer-concurrency'] ?? 256);

const report = new Report();
const scope = new RunScope();
let closing: Promise<void> | undefined;
const close = () => (closing ??= scope.close().catch((e) => report.note(`cleanup: ${e}`)));
// `on`, not `once`: under npm and tsx a Ctrl-C arrives more than once, and with no listener left
// tsx's own handler would end the process before the cleanup is done.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => {
    if (closing) return;
    report.note(`${signal}: stopping`);
    void close().then(() => process.exit(130));
  });

report.note(
  `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, node ${process.version}, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, run ${scope.tag}${quick ? ', --quick' : ''}`,
);
const started = Date.now();
let failed = false;
try {
  const model = await trainBenchModel(UNITS);
  const { initBackend } = await import('../src/backend/index.js');
  const backend = await initBackend('auto');
  report.note(
    `training on ${backend.name}, scoring on ${scoringEngine(backend)}; model composite, ${UNITS} units, nIn 9, batch ${BATCH}`,
  );
  // Each measurement's topics go once it has ended (RunScope.sweep).
  const measure = async (run: () => Promise<unknown>) => {
    await run();
    if (!(await scope.sweep()))
      report.note('a measurement left something running: its topics stay');
  };
  if (sections.has('ceilings')) {
    await measure(() => kafkaPassThrough(scope, report, sizes.passThrough));
    await measure(() => kafkaPassThrough1to4Alone(scope, report, sizes.windows, UNITS));
    await measure(() => kafkaPassThrough1to4(scope, report, sizes, UNITS));
    await measure(() => bullmqNoop(scope, report, sizes.noop, quick ? [64] : undefined));
    await modelOnly(report, model, { batch: BATCH, threads: 0, seconds: sizes.modelSeconds });
    await modelOnly(report, model, { batch: BATCH, threads: 1, seconds: sizes.modelSeconds });
  }
  if (sections.has('e2e')) await measure(() => endToEnd(scope, report, model, sizes));
  if (sections.has('encodings')) await measure(() => encodings(scope, report, model, sizes));
  if (sections.has('bullmq'))
    await measure(() =>
      inferJobs(scope, report, model, sizes, { concurrency: INFER_CONCURRENCY, bulk: BATCH }),
    );
  if (sections.has('workers')) await measure(() => workersOneVsTwo(scope, report, model, sizes));
  if (sections.has('streams'))
    await measure(() =>
      manyStreams(scope, report, model, { ...sizes, windows: sizes.streams }, [1, 10, 200]),
    );
  if (sections.has('fleet')) await measure(() => fleetStart(scope, report, fleetStreams));
  model.model.dispose();

  const v = (name: string) => report.value(name);
  report.ratio('e2e_vs_transport', v('seqae.kafka'), v('kafka.passthrough.1to4'), {
    atLeast: 0.8,
  });
  report.ratio('e2e_vs_model', v('seqae.kafka'), v('model.onnx'), 'info');
  report.ratio('two_workers_vs_one', v('seqae.kafka.workers2'), v('seqae.kafka.workers1'), {
    atLeast: 1.7,
  });
  report.ratio(
    'f32b64_vs_json_worker_cpu',
    v('seqae.kafka.f32b64.worker_cpu'),
    v('seqae.kafka.json.worker_cpu'),
    {
      atMost: 1,
    },
  );
  report.ratio(
    'workers_cpu_per_window_2_vs_1',
    v('seqae.kafka.workers2.worker_cpu'),
    v('seqae.kafka.workers1.worker_cpu'),
    { atMost: 1.1 },
  );
  const noop = v('bullmq.noop');
  const modelRate = v('model.onnx');
  const ceiling =
    noop !== undefined && modelRate !== undefined ? Math.min(noop, modelRate) : undefined;
  report.ratio('bullmq_vs_ceiling', v('seqae.bullmq'), ceiling, { atLeast: 0.5 });
  report.ratio('bullmq_bulk_vs_ceiling', v('seqae.bullmq.bulk'), ceiling, { atLeast: 0.8 });
  const f = `fleet.${fleetStreams}streams`;
  report.ratio('fleet_warm_vs_cold', v(`${f}.warm`), v(`${f}.cold`), { atMost: 0.3 });
  report.ratio('fleet_warm_vs_cold_loss', v('fleet.warm.loss'), v('fleet.cold.loss'), {
    atMost: 1.1,
  });
  report.ratio(
    'fleet_warm_vs_cold_validation_loss',
    v('fleet.warm.validation_loss'),
    v('fleet.cold.validation_loss'),
    { atMost: 1.1 },
  );
} catch (err) {
  failed = true;
  report.note(`failed: ${(err as Error).stack ?? String(err)}`);
  for (const line of scope.childLogs()) report.note(line);
} finally {
  await close();
}
console.log(`\n${report.table()}\n`);
report.note(
  `${Math.round((Date.now() - started) / 1000)} s, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
process.exit(failed ? 1 : 0);
