import { describe, expect, it } from 'vitest';
import { groupIncidents, IncidentGrouper, type ScoredWindow } from '../../src/alerts/incidents.js';

const STEP = 1000;
/** Windows seq 0…n-1 of a stream, one a second; `alerts` maps seq to score (reason range, feature 1). */
function stream(streamId: string, n: number, alerts: Record<number, number>): ScoredWindow[] {
  return Array.from({ length: n }, (_, seq) => ({
    streamId,
    seq,
    end: 1_700_000_000_000 + seq * STEP,
    score: alerts[seq] ?? 0.1,
    alert: alerts[seq] !== undefined,
    reason: alerts[seq] !== undefined ? ('range' as const) : null,
    featureErrors: { top: 1 },
  }));
}

describe('incidents', () => {
  it('many alerting windows of one stream are one incident with first, last and peak', () => {
    const alerts: Record<number, number> = {};
    for (let s = 40; s < 70; s += 2) alerts[s] = 0.6;
    alerts[55] = 0.99;
    const [one, ...rest] = groupIncidents(stream('a', 100, alerts), { gap: 10 });
    expect(rest).toEqual([]);
    expect(one).toMatchObject({
      id: 1,
      first: { streamId: 'a', seq: 40 },
      last: { streamId: 'a', seq: 68 },
      peak: { streamId: 'a', seq: 55, score: 0.99, reason: 'range', feature: 1 },
      streams: ['a'],
      windows: 16,
    });
  });

  it('the peak is the alert with the highest alert score, not the highest damped score', () => {
    // A repeat within an alert episode reports a damped score (about 0.3) while its alert score
    // can be the incident's highest: the peak must follow the alert's own severity.
    const windows = stream('a', 100, { 50: 0.9, 52: 0.3, 54: 0.3 }).map((w) =>
      w.alert ? { ...w, alertScore: w.seq === 52 ? 0.999 : 0.6 } : w,
    );
    const [one] = groupIncidents(windows, { gap: 10 });
    expect(one!.peak).toMatchObject({ seq: 52, score: 0.999 });
    // Without alert scores (an older worker), the score decides, as before.
    const [old] = groupIncidents(stream('a', 100, { 50: 0.9, 52: 0.3 }), { gap: 10 });
    expect(old!.peak).toMatchObject({ seq: 50, score: 0.9 });
  });

  it('two streams alerting at the same time are one incident naming both', () => {
    const windows = [...stream('a', 100, { 50: 0.7, 51: 0.8 }), ...stream('b', 100, { 52: 0.9 })];
    const incidents = groupIncidents(windows, { gap: 10 });
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.streams).toEqual(['a', 'b']);
    expect(incidents[0]!.windows).toBe(3);
    expect(incidents[0]!.peak).toMatchObject({ streamId: 'b', seq: 52, score: 0.9 });
    expect(incidents[0]!.last).toMatchObject({ streamId: 'b', seq: 52 });
  });

  it('alerts further apart than the gap are separate incidents, in the order they opened', () => {
    const windows = [
      ...stream('a', 200, { 20: 0.7, 25: 0.8, 120: 0.9 }),
      ...stream('b', 200, { 70: 0.6 }),
    ];
    const incidents = groupIncidents(windows, { gap: 10 });
    expect(incidents.map((i) => [i.id, i.first.streamId, i.first.seq, i.windows])).toEqual([
      [1, 'a', 20, 2],
      [2, 'b', 70, 1],
      [3, 'a', 120, 1],
    ]);
    // A gap of 0 windows: every alert an incident of its own.
    expect(groupIncidents(windows, { gap: 0 })).toHaveLength(4);
  });

  it('reports an incident once, when it opens, to an incremental caller', () => {
    const g = new IncidentGrouper({ gap: 5 });
    const opened = stream('a', 30, { 10: 0.6, 12: 0.7, 25: 0.8 }).flatMap((w) => g.add(w) ?? []);
    expect(opened.map((i) => [i.id, i.first.seq])).toEqual([
      [1, 10],
      [2, 25],
    ]);
    // The object it returned keeps growing as alerts join it.
    expect(opened[0]!.windows).toBe(2);
  });
});
