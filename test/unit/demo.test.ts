import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTrainJobId } from '../../src/demo/events.js';
import { lastReason } from '../../src/demo/fleet.js';
import { DemoTracker, type DemoEvent, type Notice } from '../../src/demo/tracker.js';
import { PassThrough } from 'node:stream';
import { noticeText, plainView, renderTable, stateText, summaryText } from '../../src/demo/view.js';
import { parseSyntheticSpec, streamAnomalies } from '../../src/producer/sources/synthetic.js';

const prefix = 'demo-t1/';
const id = (i: number) => `${prefix}sensor-${i}`;

/** Applies events in order; returns every notice. */
function feed(tracker: DemoTracker, events: DemoEvent[]): Notice[] {
  return events.flatMap((e) => tracker.apply(e));
}

describe('DemoTracker: events in, per-stream rows out', () => {
  it('counts an injected anomaly caught by an alert at or after its start within 10 windows, of those its scores covered', () => {
    const t = new DemoTracker({
      prefix,
      window: 16,
      injected: [
        { streamId: id(1), index: 50, length: 1 }, // before the first score: not counted
        { streamId: id(1), index: 100, length: 1 }, // alert 10 windows after: caught
        { streamId: id(1), index: 200, length: 1 }, // alert 11 windows after: missed
        { streamId: id(1), index: 300, length: 1 }, // alert the window before: missed
        { streamId: id(1), index: 395, length: 1 }, // its 10 windows not all scored: not counted
      ],
    });
    const events: DemoEvent[] = [];
    for (let seq = 60; seq <= 400; seq++) {
      const alert = seq === 110 || seq === 211 || seq === 299;
      events.push({ type: 'score', streamId: id(1), seq, score: 0, alert, version: 1, at: seq });
    }
    feed(t, events);
    expect(t.totals(500)).toMatchObject({
      injected: 3,
      caught: 1,
      missed: [`${id(1)} at 200`, `${id(1)} at 300`],
      alerts: 3,
    });
  });

  it('takes a stream from warming up through training (epochs, loss) to scoring, once each', () => {
    const t = new DemoTracker({ prefix, window: 4 });
    const windows = (from: number, n: number, at: number): DemoEvent[] =>
      Array.from({ length: n }, (_, k) => ({
        type: 'window',
        streamId: id(0),
        seq: from + k,
        at: at + k * 100,
      }));
    const notices = feed(t, [
      ...windows(3, 10, 1000),
      { type: 'train-queued', streamId: id(0), version: 1, at: 2100 },
      { type: 'train-active', streamId: id(0), version: 1, at: 2200 },
      {
        type: 'train-progress',
        streamId: id(0),
        version: 1,
        epoch: 3,
        epochs: 20,
        loss: 0.25,
        at: 2300,
      },
    ]);
    let [row] = t.rows(2300);
    expect(row).toMatchObject({
      name: 'sensor-0',
      state: 'training',
      windows: 10,
      training: { version: 1, phase: 'running', epoch: 3, epochs: 20, loss: 0.25 },
    });
    expect(stateText(row!, 200)).toBe('training epoch 3/20 loss 0.2500');
    feed(t, [
      { type: 'train-done', streamId: id(0), version: 1, at: 2400 },
      { type: 'score', streamId: id(0), seq: 3, score: 0.1, alert: false, version: 1, at: 2500 },
    ]);
    notices.push(
      ...feed(t, [
        { type: 'score', streamId: id(0), seq: 4, score: 0.2, alert: false, version: 1, at: 2600 },
      ]),
    );
    [row] = t.rows(2600);
    expect(row).toMatchObject({ state: 'scoring', scored: 2, score: 0.2, version: 1, alerts: 0 });
    const states = notices.filter((n) => n.kind === 'state');
    // The first window, the first training job and the first score change the state; nothing else.
    expect(states.map((n) => [n.from, n.to])).toEqual([
      [undefined, 'warming up'],
      ['warming up', 'training'],
    ]);
    const all = feed(new DemoTracker({ prefix, window: 4 }), [
      ...windows(3, 2, 0),
      { type: 'train-queued', streamId: id(0), version: 1, at: 300 },
      { type: 'score', streamId: id(0), seq: 3, score: 0.1, alert: false, version: 1, at: 400 },
      { type: 'score', streamId: id(0), seq: 4, score: 0.1, alert: false, version: 1, at: 500 },
    ]);
    expect(all.filter((n) => n.kind === 'state').map((n) => n.kind === 'state' && n.to)).toEqual([
      'warming up',
      'training',
      'scoring',
    ]);
  });

  it('counts alerts, and says which fell on a window holding an injected anomaly', () => {
    const t = new DemoTracker({
      prefix,
      window: 4,
      injected: [{ streamId: id(1), index: 100, length: 1 }],
    });
    const score = (seq: number, alert: boolean): DemoEvent => ({
      type: 'score',
      streamId: id(1),
      seq,
      score: alert ? 0.9 : 0.1,
      alert,
      version: 1,
      at: seq,
    });
    // Windows ending at 100..103 hold reading 100; those ending at 99 or 104 do not.
    const notices = feed(t, [
      score(99, true),
      score(100, false),
      score(103, true),
      score(104, true),
    ]);
    const alerts = notices.filter((n) => n.kind === 'alert');
    expect(alerts.map((n) => n.kind === 'alert' && [n.seq, n.injectedAt])).toEqual([
      [99, undefined],
      [103, 100],
      [104, undefined],
    ]);
    const [row] = t.rows(200);
    expect(row).toMatchObject({ alerts: 3, alertsOnInjected: 1, injected: true, alert: true });
    expect(noticeText(alerts[1]!)).toBe(
      'sensor-1  ALERT score 0.900 at seq 103 (injected anomaly at 100)',
    );
  });

  it('ignores other runs, orders streams numerically and measures windows/s over its span', () => {
    const t = new DemoTracker({ prefix, window: 4, rateWindowMs: 2000 });
    const events: DemoEvent[] = [];
    for (const i of [10, 2])
      for (let k = 0; k < 40; k++)
        events.push({ type: 'window', streamId: id(i), seq: k, at: 10_000 + k * 100 }); // 10 a second
    events.push({ type: 'window', streamId: 'demo-other/sensor-0', seq: 0, at: 10_000 });
    expect(feed(t, events.slice(-1))).toEqual([]);
    feed(t, events.slice(0, -1));
    const rows = t.rows(13_950);
    expect(rows.map((r) => r.name)).toEqual(['sensor-2', 'sensor-10']);
    expect(rows[0]!.windowsPerSec).toBeCloseTo(10, 0);
    const totals = t.totals(13_950);
    expect(totals).toMatchObject({ streams: 2, windows: 80, byState: { 'warming up': 2 } });
    expect(totals.windowsPerSec).toBeCloseTo(20, 0);
    expect(summaryText(totals)).toContain('2 streams: 2 warming up, 0 training, 0 scoring');
    // Nothing heard for a while: the rate falls to 0.
    expect(t.rows(30_000)[0]!.windowsPerSec).toBe(0);
  });

  it("keeps a later version's training from turning a scoring stream back", () => {
    const t = new DemoTracker({ prefix, window: 4 });
    const notices = feed(t, [
      { type: 'score', streamId: id(3), seq: 9, score: 0.1, alert: false, version: 1, at: 1 },
      {
        type: 'train-progress',
        streamId: id(3),
        version: 2,
        epoch: 2,
        epochs: 10,
        loss: 0.1,
        at: 2,
      },
    ]);
    const [row] = t.rows(3);
    expect(row!.state).toBe('scoring');
    expect(stateText(row!, 200)).toBe('scoring v1 (v2 epoch 2/10)');
    expect(notices.filter((n) => n.kind === 'state')).toHaveLength(1);
  });
});

describe('demo view', () => {
  it('renders the table with alerts highlighted, and truncates to the rows that fit', () => {
    const t = new DemoTracker({
      prefix,
      window: 4,
      injected: [{ streamId: id(0), index: 5, length: 1 }],
    });
    feed(t, [
      { type: 'window', streamId: id(0), seq: 3, at: 0 },
      { type: 'window', streamId: id(1), seq: 3, at: 0 },
      { type: 'window', streamId: id(2), seq: 3, at: 0 },
      { type: 'score', streamId: id(0), seq: 5, score: 0.97, alert: true, version: 1, at: 1 },
    ]);
    const frame = {
      elapsedMs: 83_000,
      rows: t.rows(1000),
      totals: t.totals(1000),
      warmupWindows: 200,
      runId: 't1',
      metrics: [{ name: 'worker', url: 'http://127.0.0.1:1/metrics' }],
      runDir: '.demo/t1',
    };
    const text = renderTable(frame, undefined, 2);
    expect(text).toContain('run t1 · 1m23s');
    expect(text).toMatch(/STREAM\s+STATE\s+WIN\/S\s+SCORE\s+ALERTS/);
    expect(text).toContain('\x1b[1;31m 0.970\x1b[0m'); // the alert's score in bold red
    expect(text).toContain('sensor-1    warming up 1/200');
    expect(text).not.toContain('sensor-2 ');
    expect(text).toContain('… 1 more streams');
    expect(text).toContain('worker http://127.0.0.1:1/metrics');
  });
});

describe('demo plain view', () => {
  it('says each incident once when it opens, an injected anomaly that joins one, and a summary when due', () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString('utf8')));
    const view = plainView(out, 10_000);
    const t = new DemoTracker({
      prefix,
      window: 4,
      incidentGap: 10,
      injected: [50, 58, 105].map((index) => ({ streamId: id(0), index, length: 1 })),
    });
    const score = (seq: number): DemoEvent => ({
      type: 'score',
      streamId: id(0),
      seq,
      score: seq / 100,
      alert: true,
      version: 1,
      at: 1000,
      end: 1_700_000_000_000 + seq * 1000,
      reason: 'range',
      feature: 2,
    });
    // 10-12: one incident; 50 on an injected anomaly opens another, which 58 (injected too) joins.
    for (const seq of [10, 11, 12, 50, 58]) view.notices(1000, t.apply(score(seq)));
    const frame = (elapsedMs: number) => ({
      elapsedMs,
      rows: t.rows(elapsedMs),
      totals: t.totals(elapsedMs),
      warmupWindows: 200,
      runId: 't1',
      metrics: [],
      runDir: '.demo/t1',
    });
    view.frame(frame(2000));
    // 100 opens a third; 105, an injected anomaly, joins it: said, as that incident had none.
    for (const seq of [100, 105]) view.notices(3000, t.apply(score(seq)));
    view.close();
    view.frame(frame(10_500));
    expect(text.trim().split('\n')).toEqual([
      '[   1.0s] sensor-0  scoring (model v1 score 0.100)',
      '[   1.0s] sensor-0  INCIDENT #1: reason range, feature 2, score 0.100 at seq 10',
      '[   1.0s] sensor-0  INCIDENT #2: reason range, feature 2, score 0.500 at seq 50 (injected anomaly at 50)',
      '[   3.0s] sensor-0  INCIDENT #3: reason range, feature 2, score 1.000 at seq 100',
      '[   3.0s] sensor-0  INCIDENT #3 joined: reason range, feature 2, score 1.050 at seq 105 (injected anomaly at 105)',
      '[  10.5s] 1 streams: 0 warming up, 0 training, 1 scoring · 0 windows/s · 7 scored · 7 alerts (3 on injected anomalies)',
    ]);
    // The table's last column: why the stream's last alert fired.
    expect(renderTable(frame(11_000))).toMatch(/^sensor-0 \*.* {2}range, feature 2$/m);
  });

  it("names an incident's alert score beside its score when the worker sends one", () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (b: Buffer) => (text += b.toString('utf8')));
    const view = plainView(out, 10_000);
    const t = new DemoTracker({ prefix, window: 4, incidentGap: 10 });
    view.notices(
      1000,
      t.apply({
        type: 'score',
        streamId: id(0),
        seq: 30,
        score: 0.059,
        alert: true,
        alertScore: 0.9991,
        version: 1,
        at: 1000,
        end: 1_700_000_030_000,
        reason: 'prediction',
        feature: 0,
      }),
    );
    view.close();
    expect(text).toContain(
      'sensor-0  INCIDENT #1: reason prediction, feature 0, alert score 0.999 (score 0.059) at seq 30',
    );
  });

  it('makes one incident of streams alerting at the same time', () => {
    const t = new DemoTracker({ prefix, window: 4, incidentGap: 10 });
    const notices = [0, 1, 2].flatMap((k) =>
      [20, 21].flatMap((seq) =>
        t.apply({
          type: 'score',
          streamId: id(k),
          seq,
          score: 0.9,
          alert: seq === 21,
          version: 1,
          at: 1000,
          end: 1_700_000_000_000 + seq * 1000,
        }),
      ),
    );
    expect(notices.filter((n) => n.kind === 'incident')).toHaveLength(1);
  });
});

describe('demo inputs', () => {
  it("a child's exit reason: its last warning or error, or its CLI's one-line error", () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqae-demo-unit-'));
    const file = join(dir, 'worker.log');
    writeFileSync(
      file,
      [
        JSON.stringify({ level: 30, msg: 'worker ready' }),
        JSON.stringify({ level: 60, msg: 'cannot go on', err: { message: 'Redis went away' } }),
        JSON.stringify({ level: 30, msg: 'stopping' }),
      ].join('\n') + '\n',
    );
    expect(lastReason(file)).toBe('cannot go on: Redis went away');
    writeFileSync(file, 'seqae worker: listen EADDRINUSE 127.0.0.1:9 (the port is taken)\n');
    expect(lastReason(file)).toBe(
      'seqae worker: listen EADDRINUSE 127.0.0.1:9 (the port is taken)',
    );
    expect(lastReason(join(dir, 'none.log'))).toBe('no log');
  });

  it('names the stream and version of a training job', () => {
    expect(parseTrainJobId('train@demo-x/sensor-3@v12')).toEqual({
      modelId: 'demo-x/sensor-3',
      version: 12,
    });
    expect(parseTrainJobId('demo-x/sensor-3@7')).toBeUndefined();
  });

  it('synthetic anomalous=n: anomalies for the first n streams only', () => {
    const spec = parseSyntheticSpec('mix?streams=4&length=0&anomalies=2&anomalous=1&prefix=d/s-');
    expect(streamAnomalies(spec, 0, 3)).toHaveLength(2);
    expect(streamAnomalies(spec, 0, 3).every((a) => a.index >= 3000 && a.index < 4000)).toBe(true);
    expect(streamAnomalies(spec, 1, 0)).toEqual([]);
    expect(parseSyntheticSpec('sine?anomalies=1').anomalous).toBeGreaterThan(1000);
  });
});
