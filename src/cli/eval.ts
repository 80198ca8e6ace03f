import { SingleBar } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import type { BackendInfo } from '../backend/index.js';
import type { SeqaeConfig } from '../config/index.js';
import type { CommandName } from '../config/settings.js';
import type { Detector, FileDetector } from '../eval/detector.js';
import { DETECTOR_NAMES, DETECTORS } from '../eval/detectors/index.js';
import { kafkaDetector } from '../eval/detectors/kafka.js';
import { readCorpus } from '../eval/nab/corpus.js';
import { evaluateNab, type FileActivity, type FileProgress } from '../eval/nab/evaluate.js';
import { PROFILE_NAMES } from '../eval/nab/scorer.js';
import { addSettingFlags, configFrom, flagOverrides } from './options.js';

/** The settings of `seqae eval`: a worker's (model, training, scoring) and the producer's windowing. */
const EVAL_SETTINGS: readonly CommandName[] = ['worker', 'train'];

const number = (min: number, max: number) => (text: string) => {
  const x = Number(text);
  if (!Number.isFinite(x) || x < min || x > max)
    throw new InvalidArgumentError(`a number from ${min} to ${max}`);
  return x;
};

interface EvalOptions {
  data: string;
  out: string;
  detector: string;
  via: 'in-process' | 'kafka';
  trainFraction: number;
  idleTimeoutMs: number;
  progress: boolean;
  [setting: string]: unknown;
}

/** Per-file progress on a terminal: files done, and what the current file is at. */
function progressBar() {
  const bar = new SingleBar({
    format: ' {bar} {value}/{total} files | {file} {phase}',
    hideCursor: true,
    stream: process.stderr,
  });
  let started = false;
  return {
    step(a: FileActivity) {
      if (!started) bar.start(a.total, a.index, { file: '', phase: '' });
      started = true;
      const { phase, done, total } = a.step;
      const count = done !== undefined ? ` ${done}${total ? `/${total}` : ''}` : '';
      bar.update(a.index, { file: a.name, phase: `${phase}${count}` });
    },
    file(p: FileProgress) {
      if (!started) bar.start(p.total, 0, { file: '', phase: '' });
      started = true;
      bar.update(p.index + 1, { file: p.name, phase: `done in ${p.seconds.toFixed(1)} s` });
    },
    stop: () => started && bar.stop(),
  };
}

/**
 * `seqae eval nab`: runs a detector over the Numenta Anomaly Benchmark's files, each file one stream,
 * in-process or (`--via kafka`) through the real producers, Kafka and workers; writes the benchmark's
 * results layout and summary.json and prints the three scores. It takes a worker's settings, which
 * are the `seqae` detector's parameters.
 */
export function registerEval(program: Command): void {
  const evalCommand = program
    .command('eval')
    .description('measure anomaly detection on benchmarks');
  const nab = evalCommand
    .command('nab')
    .description(
      'score a detector on the Numenta Anomaly Benchmark (data/ and labels/ under --data); writes OUT/<detector>/<category>/<detector>_<file>.csv and OUT/summary.json',
    )
    .requiredOption('--data <dir>', 'the benchmark: data/<category>/<file>.csv, labels/')
    .requiredOption('--out <dir>', 'where the results layout and summary.json go')
    .option(
      '--detector <name>',
      `the detector: ${DETECTOR_NAMES.join(', ')}`,
      (name: string) => {
        if (!DETECTORS[name]) throw new InvalidArgumentError(`one of ${DETECTOR_NAMES.join(', ')}`);
        return name;
      },
      'seqae',
    )
    .option(
      '--via <mode>',
      'in-process (the workers’ library code in this process) or kafka (seqae produce and seqae worker processes, Kafka, the anomalies topic; detector seqae only)',
      (mode: string) => {
        if (mode !== 'in-process' && mode !== 'kafka')
          throw new InvalidArgumentError('in-process or kafka');
        return mode;
      },
      'in-process',
    )
    .option(
      '--train-fraction <x>',
      "part of each file's probationary period its first training may use: it learns from the first min(SEQAE_WARMUP_WINDOWS, floor(probation × x)) windows",
      number(0.01, 1),
      0.5,
    )
    .option(
      '--idle-timeout-ms <ms>',
      '--via kafka: longest wait for the next score of a file before it fails',
      number(1000, 86_400_000),
      300_000,
    )
    .option(
      '--no-progress',
      'no progress: neither the bar on a terminal nor the line per file on stderr elsewhere',
    );
  addSettingFlags(nab, EVAL_SETTINGS).action(async (options: EvalOptions) => {
    const { config } = configFrom(options, EVAL_SETTINGS);
    const files = await readCorpus(options.data);
    if (files.length === 0) throw new Error(`no labelled data files under ${options.data}`);
    const detector = await chooseDetector(nab, options, config);
    const bar = options.progress && process.stderr.isTTY ? progressBar() : undefined;
    const close = async () => {
      bar?.stop();
      if ('close' in detector) await detector.close?.();
    };
    // Ctrl-C: the processes a kafka run started stop with it.
    const interrupted = (signal: string) => {
      void close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      const summary = await evaluateNab(
        files,
        detector,
        options.out,
        (p) => {
          if (bar) bar.file(p);
          else if (options.progress)
            process.stderr.write(
              `[${p.index + 1}/${p.total}] ${p.name}: ${p.rows} rows, ${p.seconds.toFixed(1)} s\n`,
            );
        },
        (a) => bar?.step(a),
      );
      bar?.stop();
      for (const p of PROFILE_NAMES) console.log(`${p}: ${summary[p].score.toFixed(2)}`);
      console.log(`${summary.files} files in ${summary.seconds} s; results in ${options.out}`);
    } finally {
      await close();
    }
  });
}

/** The detector a run uses: in this process, or (`--via kafka`) through seqae's own processes. */
async function chooseDetector(
  nab: Command,
  options: EvalOptions,
  config: SeqaeConfig,
): Promise<Detector | FileDetector> {
  if (options.via === 'kafka') {
    if (options.detector !== 'seqae')
      nab.error('--via kafka runs the seqae detector only', { exitCode: 2 });
    const kafka = await kafkaDetector(config, {
      env: { ...process.env, ...flagOverrides(options, EVAL_SETTINGS) },
      // This same CLI, as it was started (bin/seqae.js, or the sources through tsx).
      seqae: { command: process.execPath, args: [...process.execArgv, process.argv[1]!] },
      trainFraction: options.trainFraction,
      idleTimeoutMs: options.idleTimeoutMs,
    });
    if (options.progress)
      process.stderr.write(
        `seqae eval: run ${kafka.run} (topics seqae-eval-${kafka.run}.*, Redis keys seqae-eval-${kafka.run}:*, removed at the end)\n`,
      );
    return kafka;
  } else {
    const detector = await DETECTORS[options.detector]!(config, {
      trainFraction: options.trainFraction,
    });
    if ('backend' in detector && options.progress) {
      const b = detector.backend as BackendInfo;
      process.stderr.write(`seqae eval: training on ${b.name}, scoring on ${b.scoring}\n`);
    }
    return detector;
  }
}
