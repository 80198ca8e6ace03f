import type { Redis } from 'ioredis';
import type { StreamSnapshot } from '../windows/windower.js';

/**
 * What a partitioned source's consumer needs to resume exactly where it stopped: the offset after the
 * last reading whose windows were acknowledged, and the windowing state of every stream of the
 * partition at that point (the tail of each open window, seq counters, reorder buffers). Saved before
 * the offset is committed, so the stored offset is never behind the committed one.
 */
export interface Checkpoint {
  v: 1;
  /** Next offset to read. */
  offset: string;
  /** Window options the state was made with; a different nIn/stride restarts the open windows. */
  nIn: number;
  stride: number;
  streams: Record<string, StreamSnapshot>;
}

export interface CheckpointStore {
  load(key: string): Promise<Checkpoint | undefined>;
  save(key: string, checkpoint: Checkpoint): Promise<void>;
}

/** Checkpoints in Redis, one string per partition: `<prefix>:<topic>/<partition>`. */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    /** e.g. `seqae:producer:<group>`. */
    private readonly prefix: string,
  ) {}

  async load(key: string): Promise<Checkpoint | undefined> {
    const raw = await this.redis.get(`${this.prefix}:${key}`);
    if (raw === null) return undefined;
    const cp = JSON.parse(raw) as Checkpoint;
    if (cp.v !== 1) throw new Error(`checkpoint ${key}: unknown version ${String(cp.v)}`);
    return cp;
  }

  async save(key: string, checkpoint: Checkpoint): Promise<void> {
    await this.redis.set(`${this.prefix}:${key}`, JSON.stringify(checkpoint));
  }
}

/** In-process checkpoints (tests, single runs). */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly saved = new Map<string, string>();
  async load(key: string) {
    const raw = this.saved.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as Checkpoint);
  }
  async save(key: string, checkpoint: Checkpoint) {
    this.saved.set(key, JSON.stringify(checkpoint));
  }
}
