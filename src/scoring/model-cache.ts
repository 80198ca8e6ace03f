import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import {
  SequenceAutoencoder,
  createInferenceEngine,
  type InferenceEngine,
  type InferenceEngineOptions,
} from '../model/index.js';
import type { ModelMeta, ModelRegistry, ModelVersion } from '../model-registry/index.js';
import { ArtifactError } from '../errors/index.js';

export interface LoadedModel {
  modelId: string;
  version: number;
  model: SequenceAutoencoder;
  /** Runs this version's forward pass (tfjs or ONNX Runtime, per the cache's `engine` option). */
  engine: InferenceEngine;
  meta: ModelMeta;
}

interface Entry {
  loaded: LoadedModel;
  refs: number;
  evicted: boolean;
  checkedAt: number;
}

export interface ModelCacheOptions {
  /** Most models loaded at once (config.worker.modelCache). */
  max: number;
  /** How often a cached model's newest version is re-read, in case a notice was missed. Default 5 s. */
  recheckMs?: number;
  /**
   * The inference engine of loaded models: tfjs (default) or ONNX Runtime, with its threads. One
   * engine is made per loaded version and disposed with it.
   */
  engine?: InferenceEngineOptions;
}

/**
 * A model version built and ready to score (an ArtifactError when its artifact is corrupt). Dispose
 * its engine and model when done.
 */
export async function loadModelVersion(
  found: ModelVersion,
  engine: InferenceEngineOptions = {},
): Promise<LoadedModel> {
  const model = await SequenceAutoencoder.load(found.artifact);
  try {
    const { meta } = found;
    return {
      modelId: meta.modelId,
      version: meta.version,
      model,
      engine: await createInferenceEngine(model, engine),
      meta,
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** A version whose artifact was refused (truncated, corrupt, changed since publication). */
export interface RefusedVersion {
  modelId: string;
  version: number;
  error: ArtifactError;
}

/**
 * The newest good version of each model, loaded from the registry on first use and kept in a bounded
 * LRU. A model leaving the cache (evicted, or replaced by a newer version) has its tensors disposed as
 * soon as no scoring holds it. A version whose artifact is refused is never loaded nor tried again:
 * the version before it is kept, or loaded. Events: `loaded`, `unloaded` (for metrics), `refused`.
 */
export class ModelCache extends EventEmitter<{
  loaded: [LoadedModel];
  unloaded: [LoadedModel];
  refused: [RefusedVersion];
}> {
  private readonly entries: LRUCache<string, Entry>;
  private readonly loading = new Map<string, Promise<Entry | undefined>>();
  /** `modelId@version` of refused artifacts. */
  private readonly refused = new Set<string>();
  private readonly recheckMs: number;
  private readonly engineOptions: InferenceEngineOptions;

  constructor(
    private readonly registry: ModelRegistry,
    options: ModelCacheOptions,
  ) {
    super();
    this.recheckMs = options.recheckMs ?? 5000;
    this.engineOptions = options.engine ?? {};
    this.entries = new LRUCache<string, Entry>({
      max: Math.max(1, options.max),
      dispose: (entry) => this.retire(entry),
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `fn` with the newest loaded version of `modelId`, or returns undefined (without calling it)
   * when the model has no version yet. The model is not disposed while `fn` runs.
   */
  async use<T>(modelId: string, fn: (m: LoadedModel) => Promise<T>): Promise<T | undefined> {
    const entry = await this.entry(modelId);
    if (!entry) return undefined;
    entry.refs++;
    try {
      return await fn(entry.loaded);
    } finally {
      entry.refs--;
      if (entry.evicted && entry.refs === 0) this.dispose(entry);
    }
  }

  /** A notice said `modelId` has `version`: the next use loads it. */
  invalidate(modelId: string, version: number): void {
    const entry = this.entries.peek(modelId);
    if (entry && entry.loaded.version < version) entry.checkedAt = 0;
  }

  private async entry(modelId: string): Promise<Entry | undefined> {
    const cached = this.entries.get(modelId);
    if (cached && Date.now() - cached.checkedAt < this.recheckMs) return cached;
    let pending = this.loading.get(modelId);
    if (!pending) {
      pending = this.refresh(modelId, cached).finally(() => this.loading.delete(modelId));
      this.loading.set(modelId, pending);
    }
    return pending;
  }

  private async refresh(modelId: string, cached: Entry | undefined): Promise<Entry | undefined> {
    const versions = (await this.registry.versions(modelId))
      .filter((v) => !this.refused.has(`${modelId}@${v}`))
      .reverse();
    for (const version of versions) {
      if (cached && cached.loaded.version >= version) break;
      const loaded = await this.load(modelId, version);
      if (!loaded) continue; // trimmed meanwhile, or refused: the one before it
      const entry: Entry = { loaded, refs: 0, evicted: false, checkedAt: Date.now() };
      this.entries.set(modelId, entry); // replaces (and retires) the older version
      this.emit('loaded', entry.loaded);
      return entry;
    }
    if (cached) cached.checkedAt = Date.now();
    return cached;
  }

  /** One version, checked before anything is built; undefined when it is gone or refused. */
  private async load(modelId: string, version: number): Promise<LoadedModel | undefined> {
    try {
      const found = await this.registry.get(modelId, version);
      return found && (await loadModelVersion(found, this.engineOptions));
    } catch (err) {
      if (!(err instanceof ArtifactError)) throw err;
      this.refused.add(`${modelId}@${version}`);
      this.emit('refused', { modelId, version, error: err });
      return undefined;
    }
  }

  private retire(entry: Entry): void {
    entry.evicted = true;
    if (entry.refs === 0) this.dispose(entry);
  }

  private dispose(entry: Entry): void {
    if (!entry.evicted) return;
    entry.evicted = false; // dispose once
    entry.loaded.engine.dispose();
    entry.loaded.model.dispose();
    this.emit('unloaded', entry.loaded);
  }

  /** Disposes every loaded model (call once nothing scores any more). */
  clear(): void {
    this.entries.clear();
  }
}
