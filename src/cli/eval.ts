import { InvalidArgumentError, type Command } from 'commander';
import { DETECTOR_NAMES, DETECTORS } from '../eval/detectors/index.js';
import { readCorpus } from '../eval/nab/corpus.js';
import { evaluateNab } from '../eval/nab/evaluate.js';
import { PROFILE_NAMES } from '../eval/nab/scorer.js';

/**
 * `seqae eval nab`: runs a detector in-process over the Numenta Anomaly Benchmark's files, each file
 * one stream, writes the benchmark's results layout and summary.json, prints the three scores.
 */
export function registerEval(program: Command): void {
  const evalCommand = program
    .command('eval')
    .description('measure anomaly detection on benchmarks');
  evalCommand
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
    .action(async (options: { data: string; out: string; detector: string }) => {
      const files = await readCorpus(options.data);
      if (files.length === 0) throw new Error(`no labelled data files under ${options.data}`);
      const detector = await DETECTORS[options.detector]!();
      const tty = process.stderr.isTTY;
      const summary = await evaluateNab(files, detector, options.out, (p) => {
        if (tty)
          process.stderr.write(
            `[${p.index + 1}/${p.total}] ${p.name}: ${p.rows} rows, ${p.seconds.toFixed(1)} s\n`,
          );
      });
      for (const p of PROFILE_NAMES) console.log(`${p}: ${summary[p].score.toFixed(2)}`);
      console.log(`${summary.files} files in ${summary.seconds} s; results in ${options.out}`);
    });
}
