import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../src/model-registry/index.js';
import type { Reading } from '../../src/contracts/reading.js';
import type { Window } from '../../src/contracts/window.js';
import {
  generateSynthetic,
  parseSyntheticSpec,
  syntheticAnomalies,
} from '../../src/producer/sources/synthetic.js';
import { collectReport } from '../../src/report/collect.js';
import { reportIncidents, streamReport, type ReportData } from '../../src/report/data.js';
import { renderReport } from '../../src/report/render.js';
import { createRedis } from '../../src/transport/redis.js';
import { collectOutputs, sendWindows, type Collected } from '../support/kafka.js';
import {
  freePort,
  runSeqae,
  spawnProducer,
  spawnWorker,
  stopChild,
  type Child,
} from '../support/processes.js';
import { cleanupRedis, createTopics, testConfig, testEnv } from '../support/services.js';
import { Fatal, waitFor } from '../support/wait.js';
import { sineWindows } from '../support/windows.js';

/**
 * `seqae report` on what a real run left: a synthetic fleet through `seqae produce` and `seqae
 * worker` (child processes, small model, one retraining), then the report as a process, opened in
 * headless Chromium: every chart drawn, no console errors, the labelled spans shaded.
 */
const NAME = 'e2e-report';
const NIN = 16;
const SPEC =
  'sine?streams=2&length=600&period=40&noise=0.05&anomalies=2&magnitude=5&anomalyLength=4&step=60000&start=1700000000000&prefix=rep-a-';
const WINDOWS_PER_STREAM = 600 - NIN + 1;
/** Windows per stream sent after the first models score (past SEQAE_RETRAIN_EVERY). */
const MORE = 160;

/** The fleet's readings 600… (no anomalies) as windows that follow on from the producer's. */
function continuation(): Window[] {
  const spec = parseSyntheticSpec(SPEC.replace('length=600', `length=${600 + MORE}`));
  const rows = new Map<string, Reading[]>();
  for (const r of generateSynthetic({ ...spec, anomalies: 0 }))
    (rows.get(r.streamId) ?? rows.set(r.streamId, []).get(r.streamId)!).push(r);
  return [...rows.values()].flatMap((readings) =>
    readings.slice(600).map((last, k) => {
      const seq = 600 + k;
      return {
        v: 1 as const,
        streamId: last.streamId,
        seq,
        end: last.ts,
        step: spec.step,
        values: readings.slice(seq - NIN + 1, seq + 1).map((r) => r.values),
      };
    }),
  );
}
const env = testEnv(NAME, {
  SEQAE_BACKEND: 'wasm',
  SEQAE_WARMUP_WINDOWS: '150',
  SEQAE_RETRAIN_EVERY: '120',
  SEQAE_UNITS: '12',
  SEQAE_EPOCHS: '12',
  SEQAE_LEARNING_RATE: '0.01',
  SEQAE_TRAIN_POOL: '1',
  SEQAE_HTTP_PORT: '0',
  SEQAE_BATCH_WAIT_MS: '50',
  SEQAE_LOG_LEVEL: 'warn',
});
const config = testConfig(NAME, env);
const dir = mkdtempSync(join(tmpdir(), 'seqae-report-'));
const shots = resolve('test-results');
/** What test/support/chart-probe.browser.js finds about each chart canvas of the page. */
interface ChartSeen {
  id: string;
  kind: string;
  stream: string;
  /** A Chart.js instance owns the canvas. */
  chart: boolean;
  /** Pixels drawn (alpha > 0), of all. */
  painted: number;
  pixels: number;
  datasets: { label: string; n: number }[];
  /** Names of the model versions that took over during the chart's time (`v2`…). */
  marks: string[];
  /** The versions of the stream's data's `switches`. */
  switches: number[];
  /** Labelled spans the shading plugin drew. */
  spansDrawn?: number;
  /** Per labelled span in view: the share of its pixels that the shading changes. */
  shaded: number[];
  /** Points of the chart's {x, y} datasets outside its axes. */
  outOfView: number;
  /** Pixels outside the labelled spans that the shading changes. */
  changedOutside: number;
}
const PROBE = new URL('../support/chart-probe.browser.js', import.meta.url);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** chart.js's UMD build, as writeReport inlines it. */
const chartJsPath = () =>
  join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
/** The header fields of a report, for pages rendered from made-up streams. */
const HEADER: Omit<ReportData, 'streams'> = {
  title: 'many streams',
  generatedAt: Date.UTC(2026, 0, 1),
  source: { topicPrefix: 'x.', brokers: 'none', keyPrefix: 'x' },
  maxWindows: 100,
  skipped: 0,
};
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

describe('seqae report (real Kafka, Redis and Chromium)', () => {
  let worker: Child | undefined;
  let producer: Child | undefined;
  let outputs: Collected | undefined;
  let browser: Browser | undefined;
  /** Epoch ms just before the continuation windows were sent. */
  let continued = 0;

  beforeAll(async () => {
    await cleanupRedis(config);
    await createTopics(config, Object.values(config.topics), 2);
    outputs = await collectOutputs(config, `${NAME}-${Date.now()}`);
    worker = spawnWorker({ ...env, SEQAE_LOG_LEVEL: 'warn' }, 'worker');
    producer = spawnProducer(
      ['--source', `synthetic:${SPEC}`, '--window', String(NIN), '--no-progress', '--no-http'],
      env,
      'producer',
    );
    const alive = () => {
      if (worker!.proc.exitCode !== null)
        throw new Fatal(`worker exited:\n${worker!.log.join('\n')}`);
    };
    const outputsOf = (n: number) =>
      waitFor(
        `${n} windows' outputs on every output topic`,
        () => {
          alive();
          return ['anomalies', 'embeddings', 'predictions', 'reconstructions'].every(
            (topic) => outputs!.ids(topic).size >= n,
          );
        },
        240_000,
        500,
      );
    const code = await producer.exited;
    expect(code, producer.log.join('\n')).toBe(0);
    // A stream of windows only (no model yet): outside the prefix, so never in the report.
    await sendWindows(config, sineWindows('zz-other', 20, NIN));
    await outputsOf(2 * WINDOWS_PER_STREAM);
    // More of the same streams once their first models score: a retraining, so a second version.
    continued = Date.now();
    await sendWindows(config, continuation());
    await outputsOf(2 * (WINDOWS_PER_STREAM + MORE));
    const redis = createRedis(config);
    try {
      const registry = new ModelRegistry(redis, { prefix: config.redis.keyPrefix, keep: 5 });
      await waitFor(
        'a second model version of each stream',
        async () => {
          alive();
          return (
            (await registry.versions('rep-a-0')).length >= 2 &&
            (await registry.versions('rep-a-1')).length >= 2
          );
        },
        240_000,
        500,
      );
    } finally {
      redis.disconnect();
    }
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await stopChild(producer);
    await stopChild(worker);
    await outputs?.stop();
    await cleanupRedis(config);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one page whose every chart renders in Chromium, with the labelled windows shaded', async () => {
    // Labels where the fleet's anomalies are, keyed as NAB keys them (a file name per stream).
    const anomalies = syntheticAnomalies(parseSyntheticSpec(SPEC));
    const labels: Record<string, [string, string][]> = {};
    for (const a of anomalies)
      (labels[`synthetic/${a.streamId}.csv`] ??= []).push([
        new Date(a.ts - 5 * 60_000).toISOString(),
        new Date(a.ts + (a.length + 5) * 60_000).toISOString(),
      ]);
    const labelsFile = join(dir, 'combined_windows.json');
    writeFileSync(labelsFile, JSON.stringify(labels));
    const out = join(dir, 'out', 'report.html');

    const r = await runSeqae(
      ['report', '--out', out, '--stream-prefix', 'rep-a-', '--labels', labelsFile],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${out}\n`);

    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (req) => {
      if (!req.url().startsWith('file:')) problems.push(`network: ${req.url()}`);
    });
    await page.goto(pathToFileURL(out).href);
    await page.waitForFunction('window.seqaeReport !== undefined');

    const seen = (await page.evaluate(readFileSync(PROBE, 'utf8'))) as ChartSeen[];
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'report.png'), fullPage: true });
    copyFileSync(out, join(shots, 'report.html'));

    expect(problems).toEqual([]);
    // The incidents table: a row per incident of the page's data (alerts grouped), each with a
    // stream, a peak score, a reason cell and the top feature (0: these streams have one).
    const data = (await page.evaluate('window.seqaeReport.data')) as ReportData;
    const alerts = data.streams.reduce((n, s) => n + s.alerts.length, 0);
    const rows = await page.$$eval('#incidents tr[data-incident]', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(await page.isVisible('#incidents table')).toBe(true);
    expect(rows).toHaveLength(data.incidents!.length);
    expect(rows.length).toBeLessThanOrEqual(alerts);
    if (alerts > 0) expect(rows.length).toBeGreaterThan(0);
    for (const cells of rows) {
      expect(cells[1]).toMatch(/^rep-a-\d seq \d+/);
      expect(cells[5]).toMatch(/^\d\.\d{3}/);
      expect(cells[7]).toBe('0');
    }
    // Two streams (the prefix's; not zz-other), four charts each, every one drawn by Chart.js.
    expect([...new Set(seen.map((s) => s.stream))]).toEqual(['rep-a-0', 'rep-a-1']);
    expect(seen.map((s) => s.kind)).toEqual([
      'signal-0',
      'score',
      'loss',
      'pca',
      'signal-0',
      'score',
      'loss',
      'pca',
    ]);
    for (const s of seen) {
      expect(s.chart, s.id).toBe(true);
      expect(s.painted, s.id).toBeGreaterThan(s.pixels * 0.01);
    }
    const count = (s: (typeof seen)[number], label: string) =>
      s.datasets.find((d) => d.label === label)?.n;
    for (const s of seen.filter((x) => x.kind === 'signal-0')) {
      expect(count(s, 'signal'), s.id).toBe(WINDOWS_PER_STREAM + MORE);
      expect(count(s, 'reconstruction'), s.id).toBe(WINDOWS_PER_STREAM + MORE);
      expect(count(s, 'one-step forecast'), s.id).toBe(WINDOWS_PER_STREAM + MORE);
    }
    for (const s of seen.filter((x) => x.kind === 'score'))
      expect(count(s, 'anomaly score'), s.id).toBe(WINDOWS_PER_STREAM + MORE);
    for (const s of seen.filter((x) => x.kind === 'pca')) {
      expect(s.datasets[0]!.n, s.id).toBe(WINDOWS_PER_STREAM + MORE);
      // Every projected window inside the axes (unsorted points: the scales must see them all).
      expect(s.outOfView, s.id).toBe(0);
    }
    // A training and a held-out curve per version, each with a point per epoch.
    for (const s of seen.filter((x) => x.kind === 'loss')) {
      expect(s.datasets.length, s.id).toBeGreaterThanOrEqual(4);
      expect(
        s.datasets.every((d) => d.n > 0),
        s.id,
      ).toBe(true);
    }
    // Each labelled span is shaded on the signal and score charts.
    for (const s of seen.filter((x) => x.kind === 'signal-0' || x.kind === 'score')) {
      expect(s.spansDrawn, s.id).toBe(2);
      expect(s.shaded.length, s.id).toBe(2);
      for (const share of s.shaded) expect(share, s.id).toBeGreaterThan(0.8);
      expect(s.changedOutside, s.id).toBe(0);
      // Where the scoring model's version changed (if the run's windows saw it happen).
      expect(s.marks, s.id).toEqual(s.switches.map((v) => `v${v}`));
    }
  });

  it('draws the sections of a page of many streams as they come into view', async () => {
    // A page of 14 streams rendered from made-up data (no run needed), through writeReport's renderer.
    const streams = Array.from({ length: 14 }, (_, k) =>
      streamReport(
        `many-${k}`,
        Array.from({ length: 50 }, (_, i) => ({
          seq: i,
          end: 1_700_000_000_000 + i * 60_000,
          last: [Math.sin(i / 4 + k)],
          reconstruction: [Math.sin(i / 4 + k) * 0.9],
          prediction: [Math.sin((i + 1) / 4 + k)],
          embedding: [Math.sin(i / 5), Math.cos(i / 7), i / 50],
          score: (i % 10) / 10,
          alert: i % 10 === 9,
          version: 1,
          modelId: `many-${k}`,
        })),
        { maxWindows: 100 },
      ),
    );
    const file = join(dir, 'many.html');
    // Every stream alerts at windows 9, 19, … 49: with a gap of 5 windows, five incidents of 14 streams.
    const incidents = reportIncidents(streams, 5);
    writeFileSync(
      file,
      renderReport(
        { ...HEADER, streams, incidents },
        { chartJs: readFileSync(chartJsPath(), 'utf8') },
      ),
    );
    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction('window.seqaeReport !== undefined');
    const drawn = () => page.evaluate('window.seqaeReport.charts.length') as Promise<number>;
    const first = await drawn();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(14 * 4);
    await page.evaluate('document.querySelector("#s13").scrollIntoView()');
    await page.waitForFunction('window.seqaeReport.charts.length > ' + first);
    await page.evaluate('window.seqaeReport.drawAll()');
    expect(await drawn()).toBe(14 * 4);
    const seen = (await page.evaluate(readFileSync(PROBE, 'utf8'))) as ChartSeen[];
    expect(seen.filter((s) => s.chart && s.painted > s.pixels * 0.01)).toHaveLength(14 * 4);
    const streamCells = await page.$$eval('#incidents tr[data-incident] td:nth-child(5)', (tds) =>
      tds.map((td) => td.textContent),
    );
    expect(streamCells).toHaveLength(5);
    for (const cell of streamCells)
      expect(cell).toMatch(/^14 \(many-\d+, many-\d+, many-\d+, …\)$/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('--since: reads only what was written from then on', async () => {
    const all = await collectReport(config, { streamPrefix: 'rep-a-' });
    const recent = await collectReport(config, { streamPrefix: 'rep-a-', since: continued });
    expect(all.streams.map((s) => s.streamId)).toEqual(['rep-a-0', 'rep-a-1']);
    expect(recent.streams.map((s) => s.streamId)).toEqual(['rep-a-0', 'rep-a-1']);
    for (const [i, s] of recent.streams.entries()) {
      // The windows sent after `continued` (seq 600 on), and the outputs of any earlier window
      // that was scored after it; never the stream's first windows.
      expect(Math.min(...s.seq)).toBeGreaterThan(NIN);
      expect(s.seq).toContain(600 + MORE - 1);
      expect(Math.min(...all.streams[i]!.seq)).toBe(NIN - 1);
    }
    const later = await collectReport(config, {
      streamPrefix: 'rep-a-',
      since: Date.now() + 60_000,
    });
    expect(later.streams).toEqual([]);
  });

  it('names the problem in one line and exits 1 when no stream matches', async () => {
    const r = await runSeqae(
      ['report', '--out', join(dir, 'none.html'), '--streams', 'no-such-stream'],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no stream matching streams no-such-stream/);
  });

  it('says in one line which service does not answer, and exits 1', async () => {
    const out = join(dir, 'down.html');
    const kafka = await runSeqae(['report', '--out', out], {
      ...env,
      KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
    });
    expect(kafka.code).toBe(1);
    expect(kafka.stderr.trim().split('\n')).toHaveLength(1);
    expect(kafka.stderr).toMatch(/ECONNREFUSED/);
    // Kafka answers (the run's streams have outputs) but the registry's Redis does not.
    const port = await freePort();
    const redis = await runSeqae(['report', '--out', out], {
      ...env,
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(redis.code).toBe(1);
    expect(redis.stderr.trim().split('\n')).toHaveLength(1);
    expect(redis.stderr).toMatch(new RegExp(`Redis at redis://127.0.0.1:${port}.*ECONNREFUSED`));
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a labels file it cannot read with one line and exit 2', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"x": [["yesterday", "today"]]}');
    const r = await runSeqae(['report', '--out', join(dir, 'x.html'), '--labels', bad], env);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/"x" has/);
  });
});
