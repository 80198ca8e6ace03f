import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { ErrorStats } from '../anomaly/index.js';
import type { TrainingStart } from '../contracts/jobs.js';
import { ArtifactError } from '../errors/index.js';
import type { TrainingSummary, Variant } from '../model/index.js';
import { PUBLISH, REMOVE } from './scripts.js';

/** What the registry keeps beside each version's artifact. */
export interface ModelMeta {
  modelId: string;
  version: number;
  variant: Variant;
  /** The model's configuration (ModelConfig), as trained. */
  config: Record<string, unknown>;
  summary?: TrainingSummary;
  /** Streams whose windows trained it. */
  streams: string[];
  /** Error statistics on the training windows, used to turn errors into anomaly scores. */
  errorStats?: ErrorStats;
  /** Where its training started: from scratch, or warm from a model version. */
  start?: TrainingStart;
  createdAt: number;
  /** SHA-256 of the artifact as published: `get` refuses an artifact changed since. */
  artifactSha256?: string;
}

export interface ModelVersion {
  meta: ModelMeta;
  artifact: Buffer;
}

export interface ModelUpdated {
  modelId: string;
  version: number;
}

export interface ModelRegistryOptions {
  /** Redis key prefix; keys are `<prefix>:model:<id>:…` (config.redis.keyPrefix). */
  prefix: string;
  /** Versions kept per model; older ones are deleted on publication (config.worker.modelKeep). */
  keep: number;
}

const noticeSchema = z.object({ modelId: z.string(), version: z.number().int().positive() });

/**
 * Versioned model artifacts in Redis, per model id, with a "model updated" notice on pub/sub.
 * Publication is one Lua script (scripts.ts), so readers never see a half-written version.
 *
 * Events: `updated` (ModelUpdated) for every notice once `subscribe()` has been called.
 */
export class ModelRegistry extends EventEmitter<{ updated: [ModelUpdated]; error: [Error] }> {
  readonly prefix: string;
  readonly keep: number;
  private subscriber?: Redis;

  constructor(
    private readonly redis: Redis,
    options: ModelRegistryOptions,
  ) {
    super();
    this.prefix = options.prefix;
    this.keep = Math.max(1, options.keep);
  }

  get channel(): string {
    return `${this.prefix}:model-updated`;
  }

  private key(modelId: string, part: string): string {
    return `${this.prefix}:model:{${modelId}}:${part}`;
  }

  /** Stores a new version (numbered 1, 2, …), trims old ones, announces it; returns its number. */
  async publish(
    modelId: string,
    artifact: Uint8Array,
    meta: Omit<ModelMeta, 'version' | 'modelId' | 'artifactSha256'>,
  ): Promise<number> {
    const artifactSha256 = createHash('sha256').update(artifact).digest('hex');
    const version = await this.redis.eval(
      PUBLISH,
      3,
      this.key(modelId, 'counter'),
      this.key(modelId, 'versions'),
      this.key(modelId, 'latest'),
      this.key(modelId, 'v:'),
      Buffer.from(artifact.buffer, artifact.byteOffset, artifact.byteLength),
      JSON.stringify({ ...meta, modelId, artifactSha256 }),
      String(this.keep),
      this.channel,
      modelId,
    );
    return Number(version);
  }

  /** Records `modelId` as the newest model of its shape (see shapeKey), a donor for warm starts. */
  async rememberShape(shape: string, modelId: string): Promise<void> {
    await this.redis.set(`${this.prefix}:shape:${shape}`, modelId);
  }

  /** The newest version of the newest model of `shape` other than `except`, if any. */
  async newestOfShape(shape: string, except?: string): Promise<ModelVersion | undefined> {
    const modelId = await this.redis.get(`${this.prefix}:shape:${shape}`);
    if (modelId === null || modelId === except) return undefined;
    return this.get(modelId);
  }

  /** The ids of the models that have at least one version, sorted. */
  async list(): Promise<string[]> {
    const head = `${this.prefix}:model:{`;
    const tail = '}:versions';
    const ids = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${head}*${tail}`, 'COUNT', 1000);
      for (const key of keys) ids.add(key.slice(head.length, -tail.length));
      cursor = next;
    } while (cursor !== '0');
    return [...ids].sort();
  }

  /**
   * Deletes one version of a model, or every version when `version` is undefined; the newest version
   * left becomes the latest. Returns the versions deleted (none: there was no such version). Workers
   * that have a deleted version loaded keep scoring with it until a newer one is published.
   */
  async delete(modelId: string, version?: number): Promise<number[]> {
    const removed = (await this.redis.eval(
      REMOVE,
      2,
      this.key(modelId, 'versions'),
      this.key(modelId, 'latest'),
      this.key(modelId, 'v:'),
      version === undefined ? '' : String(version),
    )) as string[];
    return removed.map(Number);
  }

  /** The newest version number, or undefined when the model has none. */
  async latestVersion(modelId: string): Promise<number | undefined> {
    const v = await this.redis.get(this.key(modelId, 'latest'));
    return v === null ? undefined : Number(v);
  }

  /** The kept version numbers, oldest first. */
  async versions(modelId: string): Promise<number[]> {
    return (await this.redis.lrange(this.key(modelId, 'versions'), 0, -1)).map(Number);
  }

  async meta(modelId: string, version: number): Promise<ModelMeta | undefined> {
    const raw = await this.redis.get(this.key(modelId, `v:${version}:meta`));
    return raw === null ? undefined : (JSON.parse(raw) as ModelMeta);
  }

  /**
   * A version whole (default: the newest), or undefined when the model has none. A version trimmed
   * between reading the pointer and the artifact is retried with the new pointer. An artifact whose
   * bytes changed since publication is an ArtifactError.
   */
  async get(modelId: string, version?: number): Promise<ModelVersion | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const v = version ?? (await this.latestVersion(modelId));
      if (v === undefined) return undefined;
      const base = this.key(modelId, `v:${v}`);
      const [[, artifact], [, meta]] = (await this.redis
        .multi()
        .getBuffer(`${base}:artifact`)
        .get(`${base}:meta`)
        .exec()) as [[Error | null, Buffer | null], [Error | null, string | null]];
      if (artifact && meta) {
        let found: ModelVersion;
        try {
          found = { artifact, meta: JSON.parse(meta) as ModelMeta };
        } catch (err) {
          throw new ArtifactError(`model ${modelId} v${v}: metadata is not JSON`, err);
        }
        const digest = found.meta.artifactSha256;
        if (digest && createHash('sha256').update(artifact).digest('hex') !== digest)
          throw new ArtifactError(`model ${modelId} v${v}: artifact changed since publication`);
        return found;
      }
      if (version !== undefined) return undefined;
    }
    throw new ArtifactError(`model ${modelId}: newest version kept moving while being read`);
  }

  /** Starts receiving notices (a second connection, as Redis subscribers can do nothing else). */
  async subscribe(): Promise<void> {
    if (this.subscriber) return;
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        this.emit('updated', noticeSchema.parse(JSON.parse(message)));
      } catch (err) {
        this.emit('error', new Error(`bad model-updated notice: ${(err as Error).message}`));
      }
    });
    await this.subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    const s = this.subscriber;
    this.subscriber = undefined;
    if (s) await s.quit().catch(() => s.disconnect());
  }
}
