import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { SeqaeConfig } from '../config/index.js';
import { SeqaeError } from '../errors/index.js';
import { collectReport, type CollectOptions } from './collect.js';
import { readLabels } from './labels.js';
import { renderReport } from './render.js';

export type { ReportData, StreamReport, LossCurve } from './data.js';
export { collectReport } from './collect.js';
export { renderReport } from './render.js';
export { pca } from './pca.js';

export interface ReportOptions extends Omit<CollectOptions, 'labels' | 'labelsSource'> {
  config: SeqaeConfig;
  /** The HTML file to write (its folder is created). */
  out: string;
  /** A labels file in NAB's combined_windows.json format. */
  labels?: string;
}

/** No stream of the run matched the report's selection. */
export class NoStreamsError extends SeqaeError {
  constructor(message: string) {
    super(message, { code: 'no_streams' });
  }
}

/** chart.js's UMD build and version, from the installed package (its exports hide dist/). */
async function chartJs(): Promise<{ source: string; version: string }> {
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js'); // …/chart.js/dist/chart.cjs
  const pkg = JSON.parse(await readFile(join(dirname(main), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return {
    source: await readFile(join(dirname(main), 'chart.umd.min.js'), 'utf8'),
    version: pkg.version,
  };
}

/**
 * Reads a run's windows and outputs from Kafka and its models' histories from the registry, and
 * writes them as one self-contained HTML page to `out`. Returns the absolute path written and the
 * number of streams. No stream matching the selection is a NoStreamsError (nothing is written).
 */
export async function writeReport(
  options: ReportOptions,
): Promise<{ path: string; streams: number }> {
  const { config, out, labels: labelsPath, ...collect } = options;
  const labels = labelsPath ? await readLabels(labelsPath) : undefined;
  const data = await collectReport(config, { ...collect, labels, labelsSource: labelsPath });
  if (data.streams.length === 0) {
    const which = [
      collect.streams?.length ? `streams ${collect.streams.join(',')}` : '',
      collect.streamPrefix !== undefined ? `prefix ${JSON.stringify(collect.streamPrefix)}` : '',
    ].filter(Boolean);
    throw new NoStreamsError(
      `no stream${which.length ? ` matching ${which.join(' or ')}` : ''} has windows on ${config.topics.windows} or outputs on the output topics (topic prefix ${data.source.topicPrefix}, brokers ${data.source.brokers})`,
    );
  }
  const { source, version } = await chartJs();
  const path = resolve(out);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderReport(data, { chartJs: source, chartJsVersion: version }));
  return { path, streams: data.streams.length };
}
