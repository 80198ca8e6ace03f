import { describe, expect, it } from 'vitest';
import { streamFilter } from '../../src/report/collect.js';
import {
  reportIncidents,
  streamReport,
  type ReportData,
  type WindowEntry,
} from '../../src/report/data.js';
import { labelsFor, parseLabels } from '../../src/report/labels.js';
import { pca } from '../../src/report/pca.js';
import { escapeHtml, renderReport, scriptJson } from '../../src/report/render.js';
import { mulberry32 } from '../../src/util/prng.js';

/** Points spread along known orthogonal directions with known spreads, plus a little noise. */
function knownCloud(n: number) {
  const random = mulberry32(7);
  const normal = () =>
    Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
  const s = Math.SQRT1_2;
  const u1 = [s, s, 0, 0]; // spread 5
  const u2 = [0, 0, 0.6, 0.8]; // spread 2
  const u3 = [s, -s, 0, 0]; // spread 0.1
  const centre = [10, -3, 4, 1];
  const rows = Array.from({ length: n }, () => {
    const [a, b, c] = [5 * normal(), 2 * normal(), 0.1 * normal()];
    return centre.map((m, j) => m + a * u1[j]! + b * u2[j]! + c * u3[j]!);
  });
  return { rows, u1, u2 };
}

describe('pca', () => {
  it('finds the directions of largest variance, in order, with their share of the variance', () => {
    const { rows, u1, u2 } = knownCloud(4000);
    const p = pca(rows);
    const cos = (a: number[], b: number[]) => Math.abs(a.reduce((s, x, i) => s + x * b[i]!, 0));
    expect(cos(p.components[0]!, u1)).toBeGreaterThan(0.999);
    expect(cos(p.components[1]!, u2)).toBeGreaterThan(0.999);
    expect(p.variances[0]).toBeGreaterThan(23);
    expect(p.variances[0]).toBeLessThan(27);
    expect(p.variances[1]).toBeGreaterThan(3.6);
    expect(p.variances[1]).toBeLessThan(4.4);
    expect(p.explained[0]! + p.explained[1]!).toBeGreaterThan(0.999);
    // Points are centred coordinates on the components: their mean is 0, their variance the eigenvalue.
    const xs = p.points.map((q) => q[0]!);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length)).toBeLessThan(1e-9);
    const variance = xs.reduce((a, x) => a + x * x, 0) / (xs.length - 1);
    expect(variance).toBeCloseTo(p.variances[0]!, 6);
  });

  it('projects a row exactly: (x − mean) · component', () => {
    const rows = [
      [0, 0],
      [2, 0],
      [4, 0],
      [2, 1],
      [2, -1],
    ];
    const p = pca(rows);
    expect(p.components[0]![0]).toBeCloseTo(1, 9);
    expect(p.components[1]![1]).toBeCloseTo(1, 9);
    const expected = [
      [-2, 0],
      [0, 0],
      [2, 0],
      [0, 1],
      [0, -1],
    ];
    p.points.forEach((q, i) => q.forEach((v, k) => expect(v).toBeCloseTo(expected[i]![k]!, 6)));
  });

  it('gives zero variance for rows that do not vary, and refuses ragged rows', () => {
    const p = pca([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(p.variances).toEqual([0, 0]);
    expect(p.explained).toEqual([0, 0]);
    expect(() => pca([[1, 2], [3]])).toThrow(/same length/);
  });
});

describe('streamReport', () => {
  const entry = (seq: number, extra: Partial<WindowEntry> = {}): WindowEntry => ({
    seq,
    end: 1000 * seq,
    step: 1000,
    last: [seq, -seq],
    reconstruction: [seq + 0.5, 0],
    prediction: [seq + 1.25, 0],
    embedding: [seq, seq % 3, 1],
    score: seq / 100,
    alert: seq === 8,
    modelId: 'm',
    version: 1,
    ...extra,
  });

  it('keeps the newest windows in seq order and plots each forecast at the reading it forecasts', () => {
    const entries = [9, 3, 5, 4, 6, 7, 8].map((s) => entry(s));
    const r = streamReport('s', entries, { maxWindows: 5 });
    expect(r.seq).toEqual([5, 6, 7, 8, 9]);
    expect(r.t).toEqual([5000, 6000, 7000, 8000, 9000]);
    expect(r.features).toBe(2);
    expect(r.signal).toEqual([
      [5, 6, 7, 8, 9],
      [-5, -6, -7, -8, -9],
    ]);
    expect(r.reconstruction[0]).toEqual([5.5, 6.5, 7.5, 8.5, 9.5]);
    // Window 4 (not shown) forecasts reading 5, the first shown; each forecast sits one step later.
    expect(r.prediction.t).toEqual([5000, 6000, 7000, 8000, 9000, 10000]);
    expect(r.prediction.values[0]).toEqual([5.25, 6.25, 7.25, 8.25, 9.25, 10.25]);
    expect(r.alerts).toEqual([3]);
    expect(r.embedding!.index).toEqual([0, 1, 2, 3, 4]);
    expect(r.embedding!.units).toBe(3);
    expect(r.windowsSeen).toBe(7);
    expect(r.switches).toEqual([]);
  });

  it('marks where a newer model version took over', () => {
    const versions = [1, 1, undefined, 2, 2, 3];
    const r = streamReport(
      's',
      versions.map((version, i) => entry(i, { version })),
      { maxWindows: 10 },
    );
    expect(r.version).toEqual([1, 1, null, 2, 2, 3]);
    expect(r.switches).toEqual([
      [3000, 2],
      [5000, 3],
    ]);
  });

  it('leaves gaps (null) where a topic had nothing for a window', () => {
    const r = streamReport('s', [entry(1), entry(2, { last: undefined, score: undefined })], {
      maxWindows: 10,
    });
    expect(r.signal[0]).toEqual([1, null]);
    expect(r.score).toEqual([0.01, null]);
  });
});

describe('streamFilter', () => {
  it('takes every stream by default, else the named ones and the prefix’s', () => {
    expect(streamFilter({})('anything')).toBe(true);
    const f = streamFilter({ streams: ['a', 'b'], streamPrefix: 'run-1-' });
    expect(['a', 'b', 'run-1-0', 'run-10', 'c', 'run-2-0'].filter(f)).toEqual([
      'a',
      'b',
      'run-1-0',
    ]);
    expect(['x', 'y'].filter(streamFilter({ streams: ['y'] }))).toEqual(['y']);
  });
});

describe('labels', () => {
  const labels = parseLabels(
    JSON.stringify({
      'realTraffic/speed_7578.csv': [['2015-09-11 16:44:00.000000', '2015-09-11 16:54:00.000000']],
      'pump-7': [[1000, 2000]],
    }),
  );

  it("match a stream by its id, or by the file name's stem against the id's last segment", () => {
    expect(labelsFor(labels, 'pump-7')).toEqual([[1000, 2000]]);
    const span = [Date.UTC(2015, 8, 11, 16, 44), Date.UTC(2015, 8, 11, 16, 54)];
    expect(labelsFor(labels, 'speed_7578')).toEqual([span]);
    expect(labelsFor(labels, 'site/a/speed_7578')).toEqual([span]);
    expect(labelsFor(labels, 'speed_757')).toEqual([]);
  });

  it('refuse a file of another shape with a message naming the key', () => {
    expect(() => parseLabels('[1]')).toThrow(/expected an object/);
    expect(() => parseLabels('{"a": [["x", "2015-01-01 00:00:00"]]}')).toThrow(/"a" has/);
    expect(() => parseLabels('{"a": 3}')).toThrow(/"a" is not a list/);
    expect(() => parseLabels('{')).toThrow(/not JSON/);
  });
});

describe('renderReport', () => {
  const hostile = '</script><script>alert(1)</script>';
  const stream = (id: string) =>
    streamReport(
      id,
      [1, 2, 3].map((s) => ({ seq: s, end: s * 1000, last: [s], score: 0.1 })),
      {
        maxWindows: 10,
        labels: [[1500, 2500]],
        versions: [
          {
            modelId: id,
            version: 1,
            createdAt: 0,
            summary: { epochs: 2, stoppedEarly: false, history: { loss: [1, 0.5] } },
          },
        ],
      },
    );
  const data: ReportData = {
    title: 'run <b>&</b> "x"',
    generatedAt: Date.UTC(2026, 0, 1),
    source: { topicPrefix: 'seqae.', brokers: '127.0.0.1:9092', keyPrefix: 'seqae' },
    maxWindows: 10,
    skipped: 0,
    streams: [stream('plain-1'), stream(hostile), stream('u\u2028v')],
  };
  const html = renderReport(data, { chartJs: '/* chart.js */ window.Chart = {};' });

  it('carries the data as JSON that a script element cannot be broken out of', () => {
    expect(html.match(/<script/g)).toHaveLength(3);
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    const json = /<script type="application\/json" id="seqae-data">([^]*?)<\/script>/.exec(
      html,
    )![1]!;
    expect(json).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(data)));
    expect(scriptJson('</script>')).toBe('"\\u003c/script\\u003e"');
  });

  it('escapes text in the page and has a section with every chart for each stream', () => {
    expect(html).toContain(`<title>${escapeHtml(data.title)}</title>`);
    expect(html).not.toContain('<b>&</b>');
    data.streams.forEach((s, i) => {
      expect(html).toContain(`<section class="stream" id="s${i}"`);
      expect(html).toContain(escapeHtml(s.streamId));
      for (const kind of ['signal-0', 'score', 'loss', 'pca'])
        expect(html).toContain(`id="c${i}-${kind}" data-chart="${kind}"`);
    });
    expect(html.match(/<canvas /g)).toHaveLength(12);
    // A table of contents with more than one stream, and chart.js's licence notice.
    expect(html).toContain('<nav class="toc">');
    expect(html).toMatch(/MIT License/);
  });

  it('shows the alerts as incidents: one row per incident with its peak, reason and top feature', () => {
    // Two streams alerting together at seqs 10-12 (one incident), one of them again at 40 (another).
    const alerting = (id: string, seqs: number[], top: number) =>
      streamReport(
        id,
        Array.from({ length: 50 }, (_, seq) => ({
          seq,
          end: 1_700_000_000_000 + seq * 1000,
          last: [seq],
          score: seqs.includes(seq) ? 0.5 + seq / 100 : 0.1,
          alert: seqs.includes(seq),
          reason: seqs.includes(seq) ? 'range' : null,
          top,
        })),
        { maxWindows: 100 },
      );
    const streams = [alerting('a', [10, 11, 12, 40], 2), alerting('b', [11], 0)];
    const incidents = reportIncidents(streams, 10);
    expect(incidents.map((n) => [n.streams, n.windows, n.peak.seq])).toEqual([
      [['a', 'b'], 4, 12],
      [['a'], 1, 40],
    ]);
    const page = renderReport({ ...data, streams, incidents }, { chartJs: '' });
    const rows = [...page.matchAll(/<tr data-incident="(\d+)">([^]*?)<\/tr>/g)];
    expect(rows.map((r) => r[1])).toEqual(['1', '2']);
    expect(rows[0]![2]).toContain('<td class="reason">range</td><td class="feature">2</td>');
    expect(rows[1]![2]).toContain('0.900');
  });

  it('draws one signal panel per feature, up to three', () => {
    const wide = streamReport(
      'w',
      [1, 2].map((s) => ({ seq: s, end: s, last: [1, 2, 3, 4, 5] })),
      { maxWindows: 5 },
    );
    const page = renderReport({ ...data, streams: [wide] }, { chartJs: '' });
    expect(page.match(/data-chart="signal-\d"/g)).toEqual([
      'data-chart="signal-0"',
      'data-chart="signal-1"',
      'data-chart="signal-2"',
    ]);
    expect(page).toContain('feature 3 of 5');
    expect(page).not.toContain('<nav class="toc">');
  });
});
