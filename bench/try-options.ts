import type { LikelihoodOptions } from '../src/anomaly/index.js';

/**
 * A bench's `--try` variant, `key=value,key=value` (option names of LikelihoodOptions), as options:
 * numbers where the value is one, text otherwise (`combine=mean`).
 */
export function tryOptions(spec: string): Partial<LikelihoodOptions> {
  const o: Record<string, number | string> = {};
  for (const kv of spec.split(',')) {
    const [k, v] = kv.split('=') as [string, string];
    o[k] = Number.isNaN(Number(v)) ? v : Number(v);
  }
  return o as Partial<LikelihoodOptions>;
}
