import type { Command } from 'commander';
import { reportOptions } from '../config/settings.js';
import { ValidationError } from '../errors/index.js';
import { writeReport } from '../report/index.js';
import { addSettingFlags, configFrom } from './options.js';

interface ReportRun {
  out: string;
  streams?: string[];
  streamPrefix?: string;
  labels?: string;
  maxWindows: number;
  since?: number;
  title?: string;
}

/** `seqae report`: what a run left on Kafka and in the registry, as one HTML page of charts. */
export function registerReport(program: Command): void {
  const command = program
    .command('report')
    .description(
      'one self-contained HTML page of charts from what a run left on Kafka and in the registry: per stream the signal with its reconstruction and one-step forecast, the anomaly score and alerts, training-loss curves and the encoder vectors in 2-D; prints the path written',
    );
  addSettingFlags(command, 'report', reportOptions).action(async (opts: ReportRun) => {
    const { config } = configFrom(opts as unknown as Record<string, unknown>, 'report');
    try {
      const { path } = await writeReport({
        config,
        out: opts.out,
        streams: opts.streams,
        streamPrefix: opts.streamPrefix,
        labels: opts.labels,
        maxWindows: opts.maxWindows,
        since: opts.since,
        title: opts.title,
      });
      process.stdout.write(`${path}\n`);
    } catch (err) {
      // A labels file that cannot be read is the user's to fix (exit 2); the rest goes to runCli.
      if (err instanceof ValidationError)
        command.error(`seqae report: ${err.message}`, { exitCode: 2 });
      throw err;
    }
  });
}
