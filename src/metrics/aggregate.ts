import type { ChildProcess } from 'node:child_process';
import type { Worker } from 'node:worker_threads';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import { COLLECTOR_ERRORS, counterIn } from './catalog.js';

/**
 * Metrics of worker threads and child processes (training pools) in the parent's `/metrics`, the
 * worker_threads/child_process counterpart of prom-client's cluster `AggregatorRegistry`.
 *
 * Protocol, on the channel the parent and child already share (Worker/parentPort or fork IPC):
 *   parent → child  { type: 'seqae:metrics:request', id }
 *   child → parent  { type: 'seqae:metrics:response', id, metrics } | { …, id, error }
 *   child → parent  { type: 'seqae:metrics:push', metrics }   (unasked, e.g. after each epoch)
 * `metrics` is the concatenation of the child's `registry.getMetricsAsJSON()`. Other messages on the
 * channel are left alone; use {@link isMetricsMessage} to skip these in your own handlers.
 *
 * A child busy in a synchronous training step cannot answer: the parent then reports the child's
 * last snapshot (answered late or pushed), so its counters never go backwards. When a child exits,
 * its counters and histograms are kept (folded into one "retired" snapshot) for the same reason.
 */

export const METRICS_REQUEST = 'seqae:metrics:request';
export const METRICS_RESPONSE = 'seqae:metrics:response';
export const METRICS_PUSH = 'seqae:metrics:push';

export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export type MetricsMessage =
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_RESPONSE; id: number; metrics?: MetricsSnapshot; error?: string }
  | { type: typeof METRICS_PUSH; metrics: MetricsSnapshot };

/** True for this module's messages, so that a pool's own message handler can ignore them. */
export function isMetricsMessage(message: unknown): message is MetricsMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('seqae:metrics:');
}

type Listener = (message: unknown) => void;

/**
 * Either end of a message channel: a `Worker` or `parentPort` (postMessage), a `ChildProcess` or a
 * forked child's `process` (send).
 */
export interface MessageEndpoint {
  on(event: 'message', listener: Listener): unknown;
  off(event: 'message', listener: Listener): unknown;
  postMessage?(message: unknown): void;
  send?(message: unknown): boolean;
}

function post(endpoint: MessageEndpoint, message: MetricsMessage): void {
  try {
    if (endpoint.postMessage) endpoint.postMessage(message);
    else if (endpoint.send) endpoint.send(message);
    else throw new Error('endpoint has neither postMessage nor send (not forked with IPC?)');
  } catch {
    // the other end is gone; the parent notices through 'exit', the child has no one to tell
  }
}

async function snapshot(registries: readonly Registry[]): Promise<MetricsSnapshot> {
  return (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).flat();
}

// ── child side ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Answers the parent's metrics requests on `endpoint` (`parentPort`, or `process` in a forked child)
 * with `registries`. Returns a function that stops answering (and releases the endpoint listener,
 * which otherwise keeps a thread's port referenced).
 */
export function serveMetrics(
  endpoint: MessageEndpoint,
  registries: Registry | readonly Registry[],
): () => void {
  const list = Array.isArray(registries) ? registries : [registries as Registry];
  const listener: Listener = (message) => {
    if (!isMetricsMessage(message) || message.type !== METRICS_REQUEST) return;
    const { id } = message;
    snapshot(list).then(
      (metrics) => post(endpoint, { type: METRICS_RESPONSE, id, metrics }),
      (error: unknown) => post(endpoint, { type: METRICS_RESPONSE, id, error: String(error) }),
    );
  };
  endpoint.on('message', listener);
  return () => endpoint.off('message', listener);
}

/** Sends a snapshot unasked (after an epoch, before a long synchronous step, before exiting). */
export async function pushMetrics(
  endpoint: MessageEndpoint,
  registries: Registry | readonly Registry[],
): Promise<void> {
  const list = Array.isArray(registries) ? registries : [registries as Registry];
  post(endpoint, { type: METRICS_PUSH, metrics: await snapshot(list) });
}

// ── parent side ────────────────────────────────────────────────────────────────────────────────────

/** A child the aggregator can ask: a `Worker`, or a `ChildProcess` forked with an IPC channel. */
export type MetricsChild = Worker | ChildProcess;

/** The event-emitter surface both kinds of child share, typed loosely once here. */
interface ChildEmitter extends MessageEndpoint {
  once(event: 'exit', listener: () => void): unknown;
  off(event: 'exit' | 'message', listener: (...args: never[]) => void): unknown;
}

export interface MetricsAggregatorOptions {
  /** How long a scrape waits for a child's answer before using its last snapshot, in ms. Default 1000. */
  timeoutMs?: number;
}

interface ChildState {
  last?: MetricsSnapshot;
  pending: Map<number, (metrics: MetricsSnapshot | undefined) => void>;
  onMessage: Listener;
  onExit: () => void;
}

/**
 * The parent's view: its own registry merged with every added child's metrics. Serve it as the
 * `/metrics` source (`startHttpServer({ registry: aggregator })`).
 */
export class MetricsAggregator {
  readonly #registry: Registry;
  readonly #timeoutMs: number;
  readonly #children = new Map<MetricsChild, ChildState>();
  #retired: MetricsSnapshot = [];
  #nextId = 0;

  constructor(registry: Registry, options: MetricsAggregatorOptions = {}) {
    this.#registry = registry;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    counterIn(registry, COLLECTOR_ERRORS); // declare up front so it is scraped from the start
  }

  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Number of children currently merged. */
  get size(): number {
    return this.#children.size;
  }

  /** Starts merging `child`'s metrics; it leaves by itself when it exits. */
  add(child: MetricsChild): void {
    if (this.#children.has(child)) return;
    const state: ChildState = {
      pending: new Map(),
      onMessage: (message) => {
        if (!isMetricsMessage(message)) return;
        if (message.type === METRICS_PUSH) state.last = message.metrics;
        if (message.type !== METRICS_RESPONSE) return;
        if (message.metrics) state.last = message.metrics;
        state.pending.get(message.id)?.(message.metrics);
        state.pending.delete(message.id);
      },
      onExit: () => this.remove(child),
    };
    this.#children.set(child, state);
    const emitter = child as unknown as ChildEmitter;
    emitter.on('message', state.onMessage);
    emitter.once('exit', state.onExit);
  }

  /**
   * Stops asking `child`. Its counters and histograms stay in the output (a pool that replaces a
   * thread must not make `rate()` see a counter reset); its gauges go.
   */
  remove(child: MetricsChild): void {
    const state = this.#children.get(child);
    if (!state) return;
    this.#children.delete(child);
    const emitter = child as unknown as ChildEmitter;
    emitter.off('message', state.onMessage);
    emitter.off('exit', state.onExit);
    for (const resolve of state.pending.values()) resolve(undefined);
    // prom-client types `type` as an enum, but its JSON carries the strings 'counter', 'histogram', …
    const kept = (state.last ?? []).filter((m) =>
      ['counter', 'histogram'].includes(m.type as unknown as string),
    );
    if (kept.length === 0) return;
    this.#retired = mergeMetrics([this.#retired, kept]).map((m) => ({ ...m, aggregator: 'sum' }));
  }

  /** The merged metrics as prom-client JSON. */
  async getMetricsAsJSON(): Promise<MetricsSnapshot> {
    return mergeMetrics(await this.#sources());
  }

  /** The merged metrics in the registry's text format. */
  async metrics(): Promise<string> {
    const merged = AggregatorRegistry.aggregate(prepareSources(await this.#sources()));
    merged.setContentType(this.#registry.contentType);
    return merged.metrics();
  }

  async #sources(): Promise<MetricsSnapshot[]> {
    const children = await Promise.all([...this.#children].map(([c, s]) => this.#ask(c, s)));
    // The parent's own registry last asked, so that child timeouts show in this very scrape.
    const own = await this.#registry.getMetricsAsJSON();
    return [own, this.#retired, ...children.filter((s): s is MetricsSnapshot => !!s)];
  }

  #ask(child: MetricsChild, state: ChildState): Promise<MetricsSnapshot | undefined> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        state.pending.delete(id);
        counterIn(this.#registry, COLLECTOR_ERRORS).inc({ collector: 'pool' });
        resolve(state.last);
      }, this.#timeoutMs);
      timer.unref();
      state.pending.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics ?? state.last);
      });
      post(child as unknown as MessageEndpoint, { type: METRICS_REQUEST, id });
    });
  }
}

/**
 * Metric families present in only one source pass through unchanged (aggregator `first`, so that
 * e.g. the parent's `process_start_time_seconds`, marked `omit` for clusters, is kept); families in
 * several sources merge with their declared aggregator (sum for counters and histograms).
 */
function prepareSources(sources: readonly MetricsSnapshot[]): MetricsSnapshot[] {
  const seen = new Map<string, number>();
  for (const source of sources)
    for (const m of source) seen.set(m.name, (seen.get(m.name) ?? 0) + 1);
  return sources.map((source) =>
    source.map((m) => ({
      ...m,
      aggregator: seen.get(m.name) === 1 ? 'first' : (m.aggregator ?? 'sum'),
    })),
  );
}

/** Merges snapshots (the first one's help, type and aggregator win per family). Pure. */
export function mergeMetrics(sources: readonly MetricsSnapshot[]): MetricsSnapshot {
  const registry = AggregatorRegistry.aggregate(prepareSources(sources));
  // An aggregated registry holds plain objects whose get() is synchronous; read them directly.
  return registry
    .getMetricsAsArray()
    .map((m) => (m as unknown as { get(): MetricObjectWithValues<MetricValue<string>> }).get());
}
