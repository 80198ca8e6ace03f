import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BUILD_INFO } from './catalog.js';

export interface MetricsRegistryOptions {
  /** Process role, a bounded label of `seqae_build_info`: worker, producer, demo, … */
  role: string;
  /**
   * The backend that scores windows: onnxruntime, tensorflow (tfjs-node), wasm, cpu; none for
   * processes without a model. Default `none`.
   */
  backend?: string;
  /** seqae's version; default: the `version` of the package.json this module ships in. */
  version?: string;
  /** Node and process metrics (`process_*`, `nodejs_*`). Default true; tests turn them off. */
  defaultMetrics?: boolean;
  /** The `seqae_build_info` gauge. Default true. */
  buildInfo?: boolean;
}

/**
 * A fresh prom-client registry for one process (never the global one, so that tests and several
 * components in one process stay apart), with Node's default metrics and `seqae_build_info`.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // Gauges named like counters, which `promtool check metrics` rejects; each is only the sum of its
    // per-type sibling (`nodejs_active_handles{type}`, …), so nothing is lost.
    for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  if (options.buildInfo ?? true) {
    const labels = {
      version: options.version ?? packageVersion(),
      backend: options.backend ?? 'none',
      role: options.role,
    };
    new Gauge({ ...BUILD_INFO, registers: [registry] }).set(labels, 1);
    buildInfoLabels.set(registry, labels);
  }
  return registry;
}

/**
 * Changes the `backend` label of `seqae_build_info` once the compute backend is known (it is chosen
 * after the registry exists; see BackendPreference in src/backend/).
 */
export function setActiveBackend(registry: Registry, backend: string): void {
  const info = registry.getSingleMetric(BUILD_INFO.name) as Gauge | undefined;
  const labels = buildInfoLabels.get(registry);
  if (!info || !labels) throw new Error(`${BUILD_INFO.name} is not registered in this registry`);
  labels.backend = backend;
  info.reset(); // exactly one label set at a time
  info.set(labels, 1);
}

const buildInfoLabels = new WeakMap<Registry, { version: string; backend: string; role: string }>();

const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

let cachedVersion: string | undefined;

/** The version in seqae's package.json, found by walking up from this module (src/ or dist/src/). */
export function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'seqae' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return (cachedVersion = 'unknown');
}
