import type { ChainableCommander, Redis } from 'ioredis';
import { tryParseWindow, type Window } from '../contracts/window.js';

/**
 * Per-model window buffers in Redis, so that any worker can take over a stream:
 * - `recent`: the newest `trainWindows` windows, what (re)training learns from;
 * - `pending`: windows that arrived before the model's first version, scored once it exists;
 * - `seen`: windows since the last training request, what triggers retraining.
 * Models with pending windows are listed in one set, so a drain can find them after a restart.
 */
export interface WindowStoreOptions {
  prefix: string;
  trainWindows: number;
  pendingLimit: number;
}

export class WindowStore {
  constructor(
    private readonly redis: Redis,
    private readonly options: WindowStoreOptions,
  ) {}

  private key(modelId: string, part: string): string {
    return `${this.options.prefix}:buf:{${modelId}}:${part}`;
  }

  private get pendingSet(): string {
    return `${this.options.prefix}:pending-models`;
  }

  /**
   * Records windows the model has seen (recent ring and counter); with `pending`, also holds them for
   * scoring. Returns the pending length and the count since the last training request; `overflow`
   * holds the windows refused because the pending list is full.
   */
  async add(
    modelId: string,
    windows: readonly Window[],
    pending: boolean,
  ): Promise<{ pending: number; seen: number; overflow: Window[] }> {
    if (!pending) {
      const [counts] = await this.addMany([{ modelId, windows }]);
      if (counts instanceof Error) throw counts;
      return { ...counts!, overflow: [] };
    }
    const room = this.options.pendingLimit - (await this.redis.llen(this.key(modelId, 'pending')));
    const accepted = windows.slice(0, Math.max(0, room));
    const overflow = windows.slice(accepted.length);
    const tx = this.redis.multi();
    this.appendRecent(tx, modelId, windows);
    if (accepted.length > 0) {
      tx.rpush(this.key(modelId, 'pending'), ...accepted.map((w) => JSON.stringify(w))).sadd(
        this.pendingSet,
        modelId,
      );
    }
    tx.llen(this.key(modelId, 'pending'));
    const res = (await tx.exec())!;
    return { seen: Number(res[2]![1]), pending: Number(res.at(-1)![1]), overflow };
  }

  /**
   * Records the windows several models have seen (recent ring and counter, none held) in one
   * transaction, one round trip however many models: each model's pending length and count since
   * its last training request, in the order given, or the error Redis answered for that model.
   */
  async addMany(
    batch: readonly { modelId: string; windows: readonly Window[] }[],
  ): Promise<({ pending: number; seen: number } | Error)[]> {
    const tx = this.redis.multi();
    for (const { modelId, windows } of batch) {
      this.appendRecent(tx, modelId, windows);
      tx.llen(this.key(modelId, 'pending'));
    }
    const res = (await tx.exec())!;
    // Redis runs a transaction's every command: a model's refused command is that model's error only.
    return batch.map((_, i) => {
      const own = res.slice(4 * i, 4 * i + 4);
      const failed = own.find(([err]) => err);
      return failed ? failed[0]! : { seen: Number(own[2]![1]), pending: Number(own[3]![1]) };
    });
  }

  /** rpush + ltrim of the recent ring and incrby of the counter: three replies. */
  private appendRecent(tx: ChainableCommander, modelId: string, windows: readonly Window[]): void {
    const recent = this.key(modelId, 'recent');
    tx.rpush(recent, ...windows.map((w) => JSON.stringify(w)))
      .ltrim(recent, -this.options.trainWindows, -1)
      .incrby(this.key(modelId, 'seen'), windows.length);
  }

  /** The recent windows, oldest first (invalid entries, which only a foreign writer could leave, skipped). */
  async recent(modelId: string): Promise<Window[]> {
    return parseAll(await this.redis.lrange(this.key(modelId, 'recent'), 0, -1));
  }

  /**
   * The first `count` pending windows, without removing them: `taken` entries are to be acknowledged
   * with `ackPending` once their outputs are out (entries that no longer parse count, and are dropped).
   */
  async peekPending(modelId: string, count: number): Promise<{ windows: Window[]; taken: number }> {
    const raw = await this.redis.lrange(this.key(modelId, 'pending'), 0, count - 1);
    return { windows: parseAll(raw), taken: raw.length };
  }

  /** Removes the first `count` pending windows once their outputs are acknowledged. */
  async ackPending(modelId: string, count: number): Promise<number> {
    const key = this.key(modelId, 'pending');
    const res = (await this.redis.multi().ltrim(key, count, -1).llen(key).exec())!;
    const left = Number(res[1]![1]);
    if (left === 0) await this.redis.srem(this.pendingSet, modelId);
    return left;
  }

  /** Drops a model's pending windows unscored (a stream that is gone for good, such as a finished demo's). */
  async dropPending(modelId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.key(modelId, 'pending'))
      .srem(this.pendingSet, modelId)
      .exec();
  }

  async pendingModels(): Promise<string[]> {
    return this.redis.smembers(this.pendingSet);
  }

  /** Which of `modelIds` hold pending windows now (one round trip). */
  async withPending(modelIds: readonly string[]): Promise<Set<string>> {
    if (modelIds.length === 0) return new Set();
    const member = await this.redis.smismember(this.pendingSet, ...modelIds);
    return new Set(modelIds.filter((_, i) => member[i] === 1));
  }

  async pendingCount(modelId: string): Promise<number> {
    return this.redis.llen(this.key(modelId, 'pending'));
  }

  /** Resets the since-last-training counter (when a training job is requested). */
  async resetSeen(modelId: string): Promise<void> {
    await this.redis.set(this.key(modelId, 'seen'), 0);
  }

  /**
   * An exclusive lease (SET NX PX) on `name`: who drains a model's pending windows, who trains it.
   * Undefined when another holder has it. `release` and `extend` act only while the lease is ours.
   */
  async lease(name: string, ms: number): Promise<Lease | undefined> {
    const key = `${this.options.prefix}:lease:${name}`;
    const token = `${process.pid}:${Math.random()}`;
    if ((await this.redis.set(key, token, 'PX', ms, 'NX')) !== 'OK') return undefined;
    const ifOurs = (then: string, ...args: string[]) =>
      this.redis.eval(
        `if redis.call('GET', KEYS[1]) == ARGV[1] then ${then} end return 0`,
        1,
        key,
        token,
        ...args,
      );
    return {
      release: async () => void (await ifOurs("return redis.call('DEL', KEYS[1])")),
      extend: async (more: number) =>
        void (await ifOurs("return redis.call('PEXPIRE', KEYS[1], ARGV[2])", String(more))),
    };
  }
}

export interface Lease {
  release(): Promise<void>;
  extend(ms: number): Promise<void>;
}

function parseAll(raw: string[]): Window[] {
  const out: Window[] = [];
  for (const r of raw) {
    const p = tryParseWindow(r);
    if (p.ok) out.push(p.value);
  }
  return out;
}
