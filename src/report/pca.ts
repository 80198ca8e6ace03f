/**
 * Principal component analysis of row vectors (encoder vectors), for a 2-D picture of them: the
 * top components of the covariance by power iteration with deflation. Pure; no tensors.
 */

export interface Projection {
  /** Each row's coordinates on the components, in row order: `points[i][k]`. */
  points: number[][];
  /** The components (unit vectors, one per dimension of the rows), largest variance first. */
  components: number[][];
  /** The variance along each component. */
  variances: number[];
  /** Each component's share of the total variance (0 when the rows do not vary). */
  explained: number[];
}

export interface PcaOptions {
  /** Components to find. Default 2. */
  components?: number;
  /** Most power iterations per component. Default 200. */
  iterations?: number;
  /** Stop when the component's direction moves less than this. Default 1e-9. */
  tolerance?: number;
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** The covariance matrix (d × d, row-major) of the rows, which are centred on `mean` first. */
function covariance(rows: readonly (readonly number[])[], mean: Float64Array): Float64Array {
  const d = mean.length;
  const c = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (const row of rows) {
    for (let j = 0; j < d; j++) x[j] = row[j]! - mean[j]!;
    for (let j = 0; j < d; j++) {
      const xj = x[j]!;
      if (xj === 0) continue;
      for (let k = j; k < d; k++) c[j * d + k]! += xj * x[k]!;
    }
  }
  const n = Math.max(1, rows.length - 1);
  for (let j = 0; j < d; j++)
    for (let k = j; k < d; k++) c[k * d + j] = c[j * d + k] = c[j * d + k]! / n;
  return c;
}

/**
 * Projects `rows` (n vectors of one length d) onto their top principal components. Each component's
 * sign is fixed so that its largest coordinate is positive, so the same data always gives the same
 * picture. Rows of different lengths are an error; no rows give no points.
 */
export function pca(rows: readonly (readonly number[])[], options: PcaOptions = {}): Projection {
  const d = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== d))
    throw new RangeError('pca: every row must have the same length');
  const k = Math.min(options.components ?? 2, d);
  const iterations = options.iterations ?? 200;
  const tolerance = options.tolerance ?? 1e-9;
  const mean = new Float64Array(d);
  for (const row of rows) for (let j = 0; j < d; j++) mean[j]! += row[j]! / rows.length;
  const c = covariance(rows, mean);
  let total = 0;
  for (let j = 0; j < d; j++) total += c[j * d + j]!;

  const components: number[][] = [];
  const variances: number[] = [];
  for (let comp = 0; comp < k; comp++) {
    // A start that is not orthogonal to any axis (a fixed one, so results are reproducible).
    let v = Float64Array.from({ length: d }, (_, j) => 1 + ((j * 0.618034) % 1));
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      const w = new Float64Array(d);
      for (let j = 0; j < d; j++) w[j] = dot(c.subarray(j * d, j * d + d), v);
      const norm = Math.sqrt(dot(w, w));
      if (norm === 0) {
        lambda = 0;
        break;
      }
      for (let j = 0; j < d; j++) w[j]! /= norm;
      const moved = Math.sqrt(w.reduce((s, x, j) => s + (x - v[j]!) ** 2, 0));
      v = w;
      lambda = norm;
      if (moved < tolerance) break;
    }
    let largest = 0;
    for (let j = 1; j < d; j++) if (Math.abs(v[j]!) > Math.abs(v[largest]!)) largest = j;
    if (v[largest]! < 0) for (let j = 0; j < d; j++) v[j] = -v[j]!;
    components.push(Array.from(v));
    variances.push(lambda);
    // Deflate: take this component's variance out of the covariance.
    for (let j = 0; j < d; j++) for (let m = 0; m < d; m++) c[j * d + m]! -= lambda * v[j]! * v[m]!;
  }
  const centred = new Float64Array(d);
  const points = rows.map((row) => {
    for (let j = 0; j < d; j++) centred[j] = row[j]! - mean[j]!;
    return components.map((u) => dot(centred, u));
  });
  return {
    points,
    components,
    variances,
    explained: variances.map((v) => (total > 0 ? v / total : 0)),
  };
}
