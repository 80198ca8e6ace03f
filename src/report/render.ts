import type { Incident } from '../alerts/incidents.js';
import { MAX_FEATURES, type ReportData, type StreamReport } from './data.js';

/**
 * The report as one self-contained HTML page: the data as JSON, chart.js (inlined, given as its UMD
 * source) and a small script that draws every chart from the data. Pure: no I/O.
 */
export interface RenderOptions {
  /** chart.js's UMD build, inlined as is (its licence banner included). */
  chartJs: string;
  /** chart.js's version, for the licence notice. */
  chartJsVersion?: string;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in HTML content and attribute values. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/**
 * JSON safe inside a `<script>` element: no `<`, `>` or `&` (so no `</script>` or `<!--`), and no
 * U+2028/U+2029; JSON.parse reads the escapes back as the same characters.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A script's source made safe to inline: `</script` cannot end its element early. */
const inlineScript = (source: string) => source.replace(/<\/(script)/gi, '<\\/$1');

const utc = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

function range(t: number[]): string {
  return t.length === 0 ? '–' : `${utc(t[0]!)} – ${utc(t.at(-1)!)}`;
}

/** The stream's highest score, or '–' when none of its windows was scored. */
const maxScore = (s: StreamReport): string => {
  const scores = s.score.filter((x): x is number => x !== null);
  return scores.length ? Math.max(...scores).toFixed(3) : '–';
};

/** One stream's section: a header with its figures and a canvas per chart. */
function section(s: StreamReport, i: number): string {
  const versions = s.losses.map((l) => `${l.modelId} v${l.version}`);
  const features = Math.min(s.features, MAX_FEATURES);
  const figures = [
    ['windows', `${s.t.length}${s.windowsSeen > s.t.length ? ` of ${s.windowsSeen}` : ''}`],
    ['time (UTC)', range(s.t)],
    ['alerts', String(s.alerts.length)],
    ['highest score', maxScore(s)],
    ['labelled windows', String(s.labels.length)],
    ['model', versions.length ? versions.join(', ') : s.modelIds.join(', ') || '–'],
  ];
  const chart = (kind: string, title: string, cls = '') =>
    `<figure class="chart ${cls}"><figcaption>${escapeHtml(title)}</figcaption><div class="canvas"><canvas id="c${i}-${kind}" data-chart="${kind}" role="img" aria-label="${escapeHtml(`${title}: ${s.streamId}`)}"></canvas></div></figure>`;
  const signal = Array.from({ length: features }, (_, f) =>
    chart(
      `signal-${f}`,
      `signal, reconstruction and one-step forecast${s.features > 1 ? ` (feature ${f + 1} of ${s.features})` : ''}`,
      'wide',
    ),
  );
  return `<section class="stream" id="s${i}" data-stream-index="${i}">
<h2><a href="#s${i}">${escapeHtml(s.streamId)}</a></h2>
<dl class="figures">${figures.map(([k, v]) => `<div><dt>${k}</dt><dd>${escapeHtml(v!)}</dd></div>`).join('')}</dl>
<div class="grid">
${signal.join('\n')}
${chart('score', 'anomaly score (alerts in red)', 'wide short')}
${chart('loss', 'training loss per epoch (log scale; dashed: held out)')}
${chart('pca', 'encoder vectors, first two principal components')}
</div>
</section>`;
}

/** The table of contents: one row per stream with its headline figures. */
function contents(streams: StreamReport[]): string {
  const rows = streams
    .map(
      (s, i) =>
        `<tr><td><a href="#s${i}">${escapeHtml(s.streamId)}</a></td><td>${s.t.length}</td><td class="${s.alerts.length ? 'hot' : ''}">${s.alerts.length}</td><td>${maxScore(s)}</td><td>${s.labels.length}</td><td>${escapeHtml(s.losses.map((l) => `v${l.version}`).join(' ') || '–')}</td></tr>`,
    )
    .join('\n');
  return `<nav class="toc"><table><thead><tr><th>stream</th><th>windows</th><th>alerts</th><th>highest score</th><th>labelled</th><th>versions</th></tr></thead><tbody>
${rows}
</tbody></table></nav>`;
}

/** Incident rows shown; a run that alerts more than this has a problem the first rows show. */
const MAX_INCIDENTS = 500;

/**
 * The incidents table: alerts grouped (one anomaly over many windows or many streams is one row),
 * each with its first and last window, its peak, why it fired and the feature behind it.
 */
function incidentsTable(incidents: readonly Incident[], streams: readonly StreamReport[]): string {
  const index = new Map(streams.map((s, i) => [s.streamId, i]));
  const at = (w: { streamId: string; seq: number; end: number }) =>
    `<a href="#s${index.get(w.streamId) ?? 0}">${escapeHtml(w.streamId)}</a> seq ${w.seq}<br><small>${utc(w.end)}</small>`;
  const rows = incidents
    .slice(0, MAX_INCIDENTS)
    .map((n) => {
      const others = n.streams.length > 1 ? ` +${n.streams.length - 1}` : '';
      return `<tr data-incident="${n.id}"><td>${n.id}</td><td>${at(n.first)}</td><td>${at(n.last)}</td><td>${n.windows}</td><td title="${escapeHtml(n.streams.join(', '))}">${n.streams.length}${escapeHtml(others && ` (${n.streams.slice(0, 3).join(', ')}${n.streams.length > 3 ? ', …' : ''})`)}</td><td class="hot">${n.peak.score.toFixed(3)}<br><small>${escapeHtml(n.peak.streamId)} seq ${n.peak.seq}</small></td><td class="reason">${escapeHtml(n.peak.reason ?? '–')}</td><td class="feature">${n.peak.feature ?? '–'}</td></tr>`;
    })
    .join('\n');
  const more =
    incidents.length > MAX_INCIDENTS
      ? `<p class="more">the first ${MAX_INCIDENTS} of ${incidents.length} incidents</p>`
      : '';
  return `<section class="incidents toc" id="incidents"><h2>incidents</h2><table><thead><tr><th>#</th><th>first window</th><th>last window</th><th>alerts</th><th>streams</th><th>peak alert score</th><th>reason</th><th>top feature</th></tr></thead><tbody>
${rows || '<tr><td colspan="8">no alerts</td></tr>'}
</tbody></table>${more}</section>`;
}

const STYLE = `
:root { --ink: #1d2433; --muted: #5d6b82; --line: #e3e8ef; --bg: #f6f8fb; --card: #fff; --hot: #d62839; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
header { background: linear-gradient(120deg, #16324f, #2a5c8a); color: #fff; padding: 24px 32px 20px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .sub { opacity: .8; font-size: 13px; }
header .cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
header .card { background: rgba(255,255,255,.12); border-radius: 8px; padding: 8px 14px; min-width: 110px; }
header .card b { display: block; font-size: 20px; font-weight: 600; }
header .card span { font-size: 12px; opacity: .85; }
main { padding: 20px 32px 40px; max-width: 1500px; margin: 0 auto; }
.toc table { border-collapse: collapse; background: var(--card); border-radius: 8px; overflow: hidden; box-shadow: 0 1px 2px rgba(0,0,0,.06); margin-bottom: 24px; }
.toc th, .toc td { padding: 6px 14px; text-align: right; border-bottom: 1px solid var(--line); }
.toc th:first-child, .toc td:first-child { text-align: left; }
.toc th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.toc td.hot { color: var(--hot); font-weight: 600; }
.incidents td { vertical-align: top; }
.incidents small { color: var(--muted); }
a { color: #2a5c8a; text-decoration: none; } a:hover { text-decoration: underline; }
.stream { background: var(--card); border-radius: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.08); padding: 16px 20px 20px; margin-bottom: 24px; }
.stream h2 { margin: 0 0 8px; font-size: 18px; font-weight: 600; word-break: break-all; }
.figures { display: flex; flex-wrap: wrap; gap: 6px 24px; margin: 0 0 12px; }
.figures div { display: flex; gap: 6px; } .figures dt { color: var(--muted); } .figures dd { margin: 0; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px 6px; min-width: 0; }
.chart.wide { grid-column: 1 / -1; }
.chart figcaption { font-size: 12px; color: var(--muted); margin-bottom: 4px; display: flex; justify-content: space-between; align-items: center; }
.canvas { position: relative; height: 260px; }
.short .canvas { height: 170px; }
.colour { font-size: 12px; white-space: nowrap; } .colour button { font: inherit; border: 1px solid var(--line); background: #fff; border-radius: 4px; padding: 1px 8px; cursor: pointer; }
.colour button.on { background: #2a5c8a; color: #fff; border-color: #2a5c8a; }
footer { color: var(--muted); font-size: 12px; padding: 0 32px 32px; max-width: 1500px; margin: 0 auto; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } main, header { padding-left: 14px; padding-right: 14px; } }
`;

/** The page's own script: draws each stream's charts from the JSON data. */
const APP = String.raw`
(() => {
  const data = JSON.parse(document.getElementById('seqae-data').textContent);
  const SHADE = 'rgba(255, 159, 28, 0.22)';
  const C = { signal: '#1f3b5c', recon: '#f08a24', pred: '#2a9d8f', score: '#6a4c93', alert: '#d62839' };
  const PALETTE = ['#2a5c8a', '#e07a1f', '#2a9d8f', '#8e44ad', '#c0392b', '#7f8c8d', '#16a085', '#d4a017'];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 11;
  Chart.defaults.color = '#5d6b82';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  // Labelled anomaly windows, shaded behind the datasets of a chart with a time axis.
  Chart.register({
    id: 'spans',
    defaults: { spans: [], marks: [], color: SHADE },
    beforeDatasetsDraw(chart, _args, opts) {
      const { ctx, chartArea: a, scales: { x } } = chart;
      let drawn = 0;
      ctx.save();
      ctx.fillStyle = opts.color;
      for (const [s, e] of opts.spans) {
        const x0 = Math.max(a.left, x.getPixelForValue(s));
        const x1 = Math.min(a.right, x.getPixelForValue(e));
        if (x1 <= x0 - 1) continue;
        ctx.fillRect(x0, a.top, Math.max(2, x1 - x0), a.bottom - a.top);
        drawn++;
      }
      // Where a new model version took over: a dashed line and its name.
      ctx.strokeStyle = '#8a94a6';
      ctx.fillStyle = '#5d6b82';
      ctx.setLineDash([3, 3]);
      ctx.font = '10px ' + Chart.defaults.font.family;
      for (const [t, label] of opts.marks) {
        const px = x.getPixelForValue(t);
        if (px < a.left || px > a.right) continue;
        ctx.beginPath();
        ctx.moveTo(px, a.top);
        ctx.lineTo(px, a.bottom);
        ctx.stroke();
        ctx.fillText(label, px + 3, a.top + 10);
      }
      ctx.restore();
      chart.$spansDrawn = drawn;
    },
  });
  const versionMarks = (s) => s.switches.map(([t, v]) => [t, 'v' + v]);

  const pad = (n) => String(n).padStart(2, '0');
  function timeLabel(ms, span) {
    const d = new Date(ms);
    const day = d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
    const hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    if (span > 3 * 86400e3) return day + (hm === '00:00' ? '' : ' ' + hm);
    if (span > 600e3) return (span > 86400e3 ? day.slice(5) + ' ' : '') + hm;
    return hm + ':' + pad(d.getUTCSeconds());
  }
  // Ticks on round times (UTC): the smallest of these steps that gives at most 9 ticks.
  const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000, 7776000, 31536000].map((s) => s * 1000);
  const timeAxis = (t) => {
    const span = t.length ? t[t.length - 1] - t[0] : 0;
    const step = STEPS.find((s) => span / s <= 8) || Math.ceil(span / 8);
    return {
      type: 'linear',
      min: t[0],
      max: t[t.length - 1],
      title: { display: true, text: 'time (UTC)' },
      afterBuildTicks: (scale) => {
        const ticks = [];
        for (let v = Math.ceil(scale.min / step) * step; v <= scale.max; v += step) ticks.push({ value: v });
        if (ticks.length) scale.ticks = ticks;
      },
      ticks: { maxRotation: 0, autoSkip: false, callback: (v) => timeLabel(v, span) },
      grid: { color: '#eef1f5' },
    };
  };
  const tooltipTime = { callbacks: { title: (items) => items.length ? new Date(items[0].parsed.x).toISOString().replace('T', ' ').slice(0, 19) : '' } };
  const xy = (t, ys) => {
    const out = [];
    for (let i = 0; i < t.length; i++) if (ys[i] !== null && ys[i] !== undefined) out.push({ x: t[i], y: ys[i] });
    return out;
  };
  const line = (label, points, color, extra) => Object.assign({ type: 'line', label, data: points, borderColor: color, backgroundColor: color, borderWidth: 1.4, pointRadius: 0, pointHoverRadius: 3, tension: 0, spanGaps: false }, extra || {});
  const alertPoints = (label, s, ys) => ({ type: 'scatter', label, data: s.alerts.filter((i) => ys[i] !== null).map((i) => ({ x: s.t[i], y: ys[i] })), borderColor: C.alert, backgroundColor: C.alert, pointRadius: 3.5, pointHoverRadius: 5, order: -1 });
  const spansIn = (s) => s.labels.filter(([a, b]) => s.t.length && b >= s.t[0] && a <= s.t[s.t.length - 1]);
  const labelKey = (s) => spansIn(s).length ? [{ type: 'line', label: 'labelled anomaly window', data: [], backgroundColor: SHADE, borderColor: 'rgba(255,159,28,0.6)', borderWidth: 0 }] : [];
  const legend = { position: 'top', align: 'end', labels: { boxWidth: 14, boxHeight: 8, usePointStyle: false } };

  // The value axis follows the signal: a reconstruction or forecast far off it (a model thrown by an
  // anomaly) is cut at one signal range beyond it rather than squashing the signal flat.
  function valueRange(sig, others) {
    const known = sig.filter((v) => v !== null);
    if (!known.length) return {};
    let lo = Math.min(...known), hi = Math.max(...known);
    const span = hi - lo || Math.abs(hi) || 1;
    const [floor, ceil] = [lo - span, hi + span];
    for (const v of others) if (v !== null && v !== undefined) { lo = Math.min(lo, Math.max(v, floor)); hi = Math.max(hi, Math.min(v, ceil)); }
    // Round outwards to a tick step of 1, 2 or 5 × 10^k, so the axis ends on round numbers.
    const raw = (hi - lo || 1) / 6;
    const unit = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * unit).find((x) => x >= raw);
    return { min: Math.floor(lo / step) * step, max: Math.ceil(hi / step) * step };
  }

  function signalChart(canvas, s, f) {
    const sig = s.signal[f], rec = s.reconstruction[f];
    const { min, max } = valueRange(sig, rec.concat(s.prediction.values[f]));
    return new Chart(canvas, {
      data: { datasets: [
        line('signal', xy(s.t, sig), C.signal, { borderWidth: 1.6 }),
        line('reconstruction', xy(s.t, rec), C.recon),
        line('one-step forecast', xy(s.prediction.t, s.prediction.values[f]), C.pred, { borderDash: [5, 3] }),
        alertPoints('alert', s, sig),
        ...labelKey(s),
      ] },
      options: {
        parsing: false, normalized: true, interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: { x: timeAxis(s.t), y: { min, max, ticks: { maxTicksLimit: 8 }, title: { display: true, text: s.features > 1 ? 'value (feature ' + (f + 1) + ')' : 'value' }, grid: { color: '#eef1f5' } } },
        plugins: { legend, tooltip: tooltipTime, spans: { spans: s.labels, marks: versionMarks(s) } },
      },
    });
  }

  function scoreChart(canvas, s) {
    return new Chart(canvas, {
      data: { datasets: [
        line('anomaly score', xy(s.t, s.score), C.score, { fill: 'origin', backgroundColor: 'rgba(106, 76, 147, 0.12)' }),
        alertPoints('alert', s, s.score),
        ...labelKey(s),
      ] },
      options: {
        parsing: false, normalized: true, interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: { x: timeAxis(s.t), y: { min: 0, max: 1, title: { display: true, text: 'score' }, grid: { color: '#eef1f5' } } },
        plugins: {
          legend, tooltip: tooltipTime, spans: { spans: s.labels, marks: versionMarks(s) },
          title: { display: s.score.every((v) => v === null), text: 'no window scored yet', color: '#5d6b82' },
        },
      },
    });
  }

  function lossChart(canvas, s) {
    const sets = [];
    s.losses.forEach((l, k) => {
      const color = PALETTE[k % PALETTE.length];
      const name = (s.modelIds.length > 1 ? l.modelId + ' ' : '') + 'v' + l.version;
      sets.push(line(name + ' training', l.loss.map((y, e) => ({ x: e + 1, y })), color, { pointRadius: l.loss.length < 40 ? 2 : 0 }));
      if (l.validation) sets.push(line(name + ' held out', l.validation.map((y, e) => ({ x: e + 1, y })), color, { borderDash: [5, 3] }));
    });
    const empty = sets.every((d) => d.data.length === 0);
    return new Chart(canvas, {
      data: { datasets: sets },
      options: {
        parsing: false,
        scales: {
          x: { type: 'linear', title: { display: true, text: 'epoch' }, ticks: { precision: 0 }, grid: { color: '#eef1f5' } },
          y: { type: empty ? 'linear' : 'logarithmic', title: { display: true, text: 'loss (MSE, normalised)' }, grid: { color: '#eef1f5' } },
        },
        plugins: { legend, title: { display: empty, text: s.losses.length ? 'no per-epoch history in these versions' : 'no model versions in the registry', color: '#5d6b82' } },
      },
    });
  }

  // Colour scales for the projection: time (viridis-like) and score (pale to red).
  const mix = (stops, u) => {
    u = Math.min(1, Math.max(0, u));
    const p = u * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(p)), w = p - i;
    const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * w));
    return 'rgb(' + c.join(',') + ')';
  };
  const TIME = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const HEAT = [[222, 230, 240], [250, 200, 120], [240, 110, 60], [214, 40, 57]];
  const gradient = (stops) => 'linear-gradient(90deg,' + stops.map((c) => 'rgb(' + c.join(',') + ')').join(',') + ')';

  function pcaChart(canvas, s) {
    const e = s.embedding;
    const points = e ? e.x.map((x, k) => ({ x, y: e.y[k] })) : [];
    const n = points.length;
    const colours = {
      time: e ? e.index.map((_, k) => mix(TIME, n > 1 ? k / (n - 1) : 0)) : [],
      score: e ? e.index.map((i) => mix(HEAT, s.score[i] ?? 0)) : [],
    };
    const pct = (k) => e ? ' (' + (100 * e.explained[k]).toFixed(1) + '% of variance)' : '';
    const chart = new Chart(canvas, {
      type: 'scatter',
      data: { datasets: [{ label: 'window', data: points, pointRadius: n > 800 ? 2 : 3, pointHoverRadius: 5, pointBackgroundColor: colours.time, pointBorderWidth: 0 }] },
      options: {
        // Parsed, not parsing: false: Chart.js then takes data as sorted by x and sizes the x axis
        // from the first and last points, which cuts off most of a scatter.
        scales: { x: { title: { display: true, text: 'PC1' + pct(0) }, grid: { color: '#eef1f5' } }, y: { title: { display: true, text: 'PC2' + pct(1) }, grid: { color: '#eef1f5' } } },
        plugins: {
          legend: { display: false },
          title: { display: !e, text: 'no encoder vectors', color: '#5d6b82' },
          tooltip: { callbacks: { label: (item) => { const i = e.index[item.dataIndex]; return 'seq ' + s.seq[i] + ', score ' + (s.score[i] ?? '–'); } } },
        },
      },
    });
    // "colour by" switch and its colour bar, in the chart's caption.
    const caption = canvas.closest('figure').querySelector('figcaption');
    const box = document.createElement('span');
    box.className = 'colour';
    box.append('colour by ');
    const bar = document.createElement('span');
    bar.style.cssText = 'display:inline-block;width:80px;height:8px;border-radius:4px;margin-left:8px;vertical-align:middle';
    const ends = document.createElement('span');
    ends.style.marginLeft = '4px';
    const set = (mode) => {
      chart.data.datasets[0].pointBackgroundColor = colours[mode];
      chart.update();
      bar.style.background = gradient(mode === 'time' ? TIME : HEAT);
      ends.textContent = mode === 'time' ? 'old → new' : '0 → 1';
      for (const b of box.querySelectorAll('button')) b.classList.toggle('on', b.dataset.mode === mode);
    };
    for (const mode of ['time', 'score']) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = mode;
      b.dataset.mode = mode;
      b.addEventListener('click', () => set(mode));
      box.append(b, ' ');
    }
    box.append(bar, ends);
    caption.append(box);
    set('time');
    return chart;
  }

  const charts = [];
  function draw(section) {
    if (section.dataset.drawn) return;
    section.dataset.drawn = '1';
    const s = data.streams[Number(section.dataset.streamIndex)];
    for (const canvas of section.querySelectorAll('canvas[data-chart]')) {
      const kind = canvas.dataset.chart;
      if (kind.startsWith('signal-')) charts.push(signalChart(canvas, s, Number(kind.slice(7))));
      else if (kind === 'score') charts.push(scoreChart(canvas, s));
      else if (kind === 'loss') charts.push(lossChart(canvas, s));
      else if (kind === 'pca') charts.push(pcaChart(canvas, s));
    }
  }
  const sections = [...document.querySelectorAll('section.stream')];
  const drawAll = () => sections.forEach(draw);
  // Many streams: draw a section's charts as it comes near the viewport.
  if (sections.length > 12 && 'IntersectionObserver' in window) {
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) { io.unobserve(e.target); draw(e.target); }
    }, { rootMargin: '1200px 0px' });
    sections.forEach((s) => io.observe(s));
    window.addEventListener('beforeprint', drawAll);
  } else drawAll();
  window.seqaeReport = { data, charts, drawAll };
})();
`;

/** The HTML page of `data`. */
export function renderReport(data: ReportData, options: RenderOptions): string {
  const streams = data.streams;
  const windows = streams.reduce((n, s) => n + s.t.length, 0);
  const alerts = streams.reduce((n, s) => n + s.alerts.length, 0);
  const versions = new Set(
    streams.flatMap((s) => s.losses.map((l) => `${l.modelId}@${l.version}`)),
  );
  const labelled = streams.reduce((n, s) => n + s.labels.length, 0);
  const times = streams.flatMap((s) => (s.t.length ? [s.t[0]!, s.t.at(-1)!] : []));
  const card = (value: string | number, what: string) =>
    `<div class="card"><b>${escapeHtml(String(value))}</b><span>${escapeHtml(what)}</span></div>`;
  const src = data.source;
  const sourceLine = [
    `topics ${src.topicPrefix}* on ${src.brokers}`,
    `registry ${src.keyPrefix}`,
    ...(src.labels ? [`labels ${src.labels}`] : []),
    `generated ${utc(data.generatedAt)}`,
  ].join(' · ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="seqae report">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(data.title)}</h1>
<div class="sub">${escapeHtml(sourceLine)}</div>
<div class="cards">
${card(streams.length, streams.length === 1 ? 'stream' : 'streams')}
${card(windows, `windows (newest ${data.maxWindows} per stream)`)}
${card(alerts, alerts === 1 ? 'alert' : 'alerts')}
${data.incidents ? card(data.incidents.length, data.incidents.length === 1 ? 'incident' : 'incidents') : ''}
${card(versions.size, 'model versions')}
${labelled ? card(labelled, 'labelled windows') : ''}
${card(times.length ? range([Math.min(...times), Math.max(...times)]) : '–', 'time span (UTC)')}
${data.skipped ? card(data.skipped, 'unreadable messages skipped') : ''}
</div>
</header>
<main>
${data.incidents ? incidentsTable(data.incidents, streams) : ''}
${streams.length > 1 ? contents(streams) : ''}
${streams.map(section).join('\n')}
</main>
<footer>Made by <code>seqae report</code>. Charts drawn with <a href="https://www.chartjs.org">Chart.js</a>${options.chartJsVersion ? ` ${escapeHtml(options.chartJsVersion)}` : ''}, © Chart.js Contributors, released under the MIT License (inlined below with its notice).</footer>
<script type="application/json" id="seqae-data">${scriptJson(data)}</script>
<script>${inlineScript(options.chartJs)}</script>
<script>${inlineScript(APP)}</script>
</body>
</html>
`;
}
