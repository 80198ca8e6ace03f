import type { Window } from '../../src/contracts/window.js';
import type { WindowerOptions } from '../../src/windows/windower.js';

/** Windowing of a plain stream (stride 1, no reorder buffer, gaps ignored): add nIn, override any. */
export const plainWindowing = {
  stride: 1,
  reorder: 0,
  gaps: 'ignore',
  maxFill: 10,
} as const satisfies Partial<WindowerOptions>;

/** Windows of a clean sine (period 24 steps) for `streamId`, stride 1. */
export function sineWindows(streamId: string, count: number, nIn: number, from = 0): Window[] {
  const value = (t: number) => 10 + 5 * Math.sin((2 * Math.PI * t) / 24);
  return Array.from({ length: count }, (_, i) => {
    const seq = from + i + nIn - 1;
    return {
      v: 1 as const,
      streamId,
      seq,
      end: 1_700_000_000_000 + seq * 60_000,
      step: 60_000,
      values: Array.from({ length: nIn }, (_, k) => [value(seq - nIn + 1 + k)]),
    };
  });
}
