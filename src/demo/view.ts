import { createLogUpdate } from 'log-update';
import type { Notice, StreamRow, Totals } from './tracker.js';

/**
 * The demo's two views of the same rows: on a terminal a table redrawn in place; otherwise (a pipe,
 * a file, CI) plain lines, one per change of state and per alert, and a summary every so often.
 */
export interface ViewFrame {
  elapsedMs: number;
  rows: StreamRow[];
  totals: Totals;
  /** Windows a stream trains after: its warm-up progress is `windows / warmupWindows`. */
  warmupWindows: number;
  runId: string;
  metrics: { name: string; url: string }[];
  runDir: string;
  /** A line about what happens now (starting services, stopping…); none when running. */
  status?: string;
}

export interface DemoView {
  /** A frame as it is now (the terminal view redraws; the plain one prints a summary when due). */
  frame(frame: ViewFrame): void;
  notices(elapsedMs: number, notices: readonly Notice[]): void;
  /** A line of its own (starting, stopping, the report). */
  line(text: string): void;
  close(): void;
}

const ESC = '\x1b[';
export const ansi = {
  alert: (s: string) => `${ESC}1;31m${s}${ESC}0m`,
  dim: (s: string) => `${ESC}2m${s}${ESC}0m`,
  bold: (s: string) => `${ESC}1m${s}${ESC}0m`,
  green: (s: string) => `${ESC}32m${s}${ESC}0m`,
  yellow: (s: string) => `${ESC}33m${s}${ESC}0m`,
};
const plainStyle: typeof ansi = {
  alert: (s) => s,
  dim: (s) => s,
  bold: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
};

/** `83.4 s` as `1m23s`. */
export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** What a stream is doing, in a few words: warm-up progress, the training's epoch and loss, its model. */
export function stateText(row: StreamRow, warmupWindows: number): string {
  const t = row.training;
  switch (row.state) {
    case 'warming up':
      return `warming up ${Math.min(row.windows, warmupWindows)}/${warmupWindows}`;
    case 'training':
      if (!t) return 'training';
      if (t.phase === 'queued') return `training v${t.version} queued`;
      if (t.phase === 'failed') return `training v${t.version} failed`;
      if (t.phase === 'done') return `training v${t.version} done, loading`;
      return t.epoch === undefined
        ? `training v${t.version} starting`
        : `training epoch ${t.epoch}/${t.epochs} loss ${loss(t.loss)}`;
    case 'scoring': {
      const re =
        t && t.version > (row.version ?? 0) && t.phase === 'running' && t.epoch !== undefined
          ? ` (v${t.version} epoch ${t.epoch}/${t.epochs})`
          : '';
      return `scoring v${row.version}${re}`;
    }
  }
}

const loss = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? '-' : x < 0.001 ? x.toExponential(1) : x.toFixed(4);

export function summaryText(totals: Totals): string {
  const { byState: b } = totals;
  const injected =
    totals.alertsOnInjected > 0 ? ` (${totals.alertsOnInjected} on injected anomalies)` : '';
  return (
    `${totals.streams} streams: ${b['warming up']} warming up, ${b.training} training, ${b.scoring} scoring · ` +
    `${totals.windowsPerSec.toFixed(0)} windows/s · ${totals.scored} scored · ${totals.alerts} alerts${injected}`
  );
}

/** The terminal table, `maxRows` stream rows at most (the rest summed up in one line). */
export function renderTable(f: ViewFrame, style: typeof ansi = ansi, maxRows = Infinity): string {
  const out: string[] = [];
  out.push(
    `${style.bold('seqae demo')} · run ${f.runId} · ${elapsed(f.elapsedMs)} · ${style.dim('Ctrl-C stops everything the demo started')}`,
  );
  const t = f.totals;
  const onInjected = t.alertsOnInjected > 0 ? ` (${t.alertsOnInjected} on injected anomalies)` : '';
  out.push(
    `streams  ${t.streams}: ${t.byState['warming up']} warming up, ${t.byState.training} training, ${t.byState.scoring} scoring`,
  );
  out.push(
    `windows  ${t.windowsPerSec.toFixed(0)}/s, ${t.scored} scored · alerts ${t.alerts}${onInjected}`,
  );
  out.push(`metrics  ${f.metrics.map((m) => `${m.name} ${m.url}`).join('   ')}`);
  out.push(`logs     ${f.runDir}`);
  if (f.status) out.push(style.yellow(f.status));
  out.push('');
  const nameWidth = Math.max(6, ...f.rows.map((r) => r.name.length + 2));
  const stateWidth = 38;
  out.push(
    style.bold(
      `${'STREAM'.padEnd(nameWidth)}  ${'STATE'.padEnd(stateWidth)}  ${'WIN/S'.padStart(6)}  ${'SCORE'.padStart(6)}  ${'ALERTS'.padStart(6)}  LAST ALERT`,
    ),
  );
  const shown = f.rows.slice(0, Math.max(0, maxRows));
  for (const r of shown) {
    const name = `${r.name}${r.injected ? ' *' : ''}`.padEnd(nameWidth);
    let state = stateText(r, f.warmupWindows).slice(0, stateWidth).padEnd(stateWidth);
    if (r.state === 'scoring') state = style.green(state);
    const score = r.score === undefined ? '-' : r.score.toFixed(3);
    const scoreCell = r.alert ? style.alert(score.padStart(6)) : score.padStart(6);
    const alerts = String(r.alerts).padStart(6);
    const last = r.lastAlert
      ? `${r.lastAlert.reason ?? '-'}${r.lastAlert.feature !== null ? `, feature ${r.lastAlert.feature}` : ''}`
      : '';
    out.push(
      `${name}  ${state}  ${r.windowsPerSec.toFixed(1).padStart(6)}  ${scoreCell}  ${r.alerts > 0 ? style.alert(alerts) : alerts}  ${last}`.trimEnd(),
    );
  }
  if (shown.length < f.rows.length)
    out.push(style.dim(`… ${f.rows.length - shown.length} more streams`));
  if (f.rows.some((r) => r.injected)) out.push(style.dim('* anomalies injected'));
  if (f.rows.length === 0) out.push(style.dim('waiting for the first windows…'));
  return out.join('\n');
}

/** The plain line of a notice. */
export function noticeText(n: Notice): string {
  switch (n.kind) {
    case 'state':
      return `${n.name}  ${n.from ? `${n.from} -> ` : ''}${n.to}${n.detail ? ` (${n.detail})` : ''}`;
    case 'alert':
      return `${n.name}  ALERT score ${n.score.toFixed(3)} at seq ${n.seq}${n.injectedAt !== undefined ? ` (injected anomaly at ${n.injectedAt})` : ''}`;
    case 'train-failed':
      return `${n.name}  training failed: ${n.reason}`;
    case 'incident': {
      // The alert's own severity when the worker sends it: an alert's score may be low (docs/alerts.md).
      const severity =
        n.alertScore !== undefined
          ? `alert score ${n.alertScore.toFixed(3)} (score ${n.score.toFixed(3)})`
          : `score ${n.score.toFixed(3)}`;
      const why = `reason ${n.reason ?? '-'}, feature ${n.feature ?? '-'}`;
      const injected = n.injectedAt !== undefined ? ` (injected anomaly at ${n.injectedAt})` : '';
      return n.joined
        ? `${n.name}  INCIDENT #${n.id} joined: ${why}, ${severity} at seq ${n.seq}${injected}`
        : `${n.name}  INCIDENT #${n.id}: ${why}, ${severity} at seq ${n.seq}${injected}`;
    }
  }
}

const stamp = (ms: number) => `[${(ms / 1000).toFixed(1).padStart(6)}s]`;

/**
 * Plain lines on `out`: notices as they come, a summary every `summaryEveryMs`. Alerts are said as
 * incidents: a line when one opens (however many windows and streams join it), and one when an
 * injected anomaly's alert joins an incident that had none.
 */
export function plainView(out: NodeJS.WritableStream, summaryEveryMs = 10_000): DemoView {
  let nextSummary = summaryEveryMs;
  const write = (s: string) => out.write(`${s}\n`);
  return {
    frame(f) {
      if (f.elapsedMs < nextSummary) return;
      nextSummary = f.elapsedMs + summaryEveryMs;
      write(`${stamp(f.elapsedMs)} ${summaryText(f.totals)}`);
    },
    notices(ms, notices) {
      for (const n of notices) if (n.kind !== 'alert') write(`${stamp(ms)} ${noticeText(n)}`);
    },
    line: write,
    close() {},
  };
}

/** The table on a terminal, redrawn in place; lines of its own are printed above it. */
export function terminalView(out: NodeJS.WriteStream, color = true): DemoView {
  const update = createLogUpdate(out, { showCursor: false });
  const style = color ? ansi : plainStyle;
  let last: ViewFrame | undefined;
  const draw = () => {
    if (!last) return;
    const header = 9 + (last.status ? 1 : 0);
    update(renderTable(last, style, Math.max(3, (out.rows || 40) - header - 1)));
  };
  return {
    frame(f) {
      last = f;
      draw();
    },
    notices() {}, // the table shows them
    line(text) {
      update.clear();
      out.write(`${text}\n`);
      draw();
    },
    close() {
      update.done();
    },
  };
}
