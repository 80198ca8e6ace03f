import type { Logger } from '../log/index.js';
import type { StreamSnapshot, Windower } from '../windows/windower.js';
import type { Checkpoint, CheckpointStore } from './checkpoints.js';
import type { AfterSent } from './send-queue.js';
import type { ReadingSource, SourceItem, SourcePartition } from './sources/types.js';

export interface PartitionCheckpointsOptions {
  /** The windower whose state the checkpoints save and restore (with its shape, nIn and stride). */
  windower: Windower;
  /** Without a store, offsets are still committed, but a restart starts open windows afresh. */
  store?: CheckpointStore;
  /** Least time between checkpoints, ms. */
  intervalMs: number;
  log?: Logger;
}

interface PartitionState {
  partition: SourcePartition;
  streams: Set<string>;
  /** Next offset to process (skips redelivered and already checkpointed messages). */
  position?: bigint;
  loaded: boolean;
  dirty: boolean;
}

/**
 * Where a partitioned source (Kafka) resumes: per partition, the next offset to process and the
 * windowing state of its streams. A partition's first batch since (re)assignment resumes from its
 * checkpoint, and messages redelivered from before it are skipped by offset. A checkpoint is taken
 * now and saved and committed later, once everything read before it was acknowledged.
 */
export class PartitionCheckpoints {
  private readonly partitions = new Map<string, PartitionState>();
  private last = Date.now();

  constructor(private readonly o: PartitionCheckpointsOptions) {}

  /** Partitions were (re)assigned: each reloads its checkpoint with its next batch. */
  reassigned(): void {
    for (const p of this.partitions.values()) p.loaded = false;
  }

  /**
   * The items of a batch of `partition` still to process, and the streams of that partition (the
   * caller adds the streams of the readings it takes).
   */
  async accept(
    partition: SourcePartition,
    items: SourceItem[],
  ): Promise<{ items: SourceItem[]; streams: Set<string> }> {
    const part = await this.enter(partition);
    const from = part.position;
    if (from !== undefined) items = items.filter((i) => BigInt(i.offset ?? '0') >= from);
    const next = BigInt(partition.nextOffset);
    if (from === undefined || next > from) {
      part.position = next;
      part.partition = partition;
      part.dirty = true;
    }
    return { items, streams: part.streams };
  }

  /** The interval since the last checkpoint has passed. */
  get due(): boolean {
    return Date.now() - this.last >= this.o.intervalMs;
  }

  /**
   * Snapshots every partition that moved since its last checkpoint, now; returns, per partition, the
   * save and offset commit to run once everything read before was acknowledged.
   */
  take(source: ReadingSource): AfterSent[] {
    this.last = Date.now();
    const { windower, store, log } = this.o;
    const { nIn, stride } = windower.shape;
    const commits: AfterSent[] = [];
    for (const part of this.partitions.values()) {
      if (!part.dirty) continue;
      part.dirty = false;
      const p = part.partition;
      const streams: Record<string, StreamSnapshot> = {};
      for (const id of part.streams) {
        const snap = windower.snapshot(id);
        if (snap) streams[id] = snap;
      }
      const cp: Checkpoint = { v: 1, offset: p.nextOffset, nIn, stride, streams };
      commits.push(async () => {
        try {
          if (store) await store.save(p.key, cp);
          await source.commit!(p);
        } catch (e) {
          // a rebalance took the partition: its new owner resumes from the last checkpoint
          log?.warn({ partition: p.key, err: String(e) }, 'checkpoint not committed');
        }
      });
    }
    return commits;
  }

  /** First batch of a partition since (re)assignment: resume from its checkpoint. */
  private async enter(partition: SourcePartition): Promise<PartitionState> {
    let part = this.partitions.get(partition.key);
    if (!part) {
      part = { partition, streams: new Set(), loaded: false, dirty: false };
      this.partitions.set(partition.key, part);
    }
    if (part.loaded) return part;
    part.loaded = true;
    const { windower, store, log } = this.o;
    if (!store) {
      log?.warn(
        { partition: partition.key },
        'no checkpoint store: a restart starts every open window afresh and seq from 0',
      );
      return part;
    }
    const cp = await store.load(partition.key);
    if (!cp) return part;
    const { nIn, stride } = windower.shape;
    const same = cp.nIn === nIn && cp.stride === stride;
    if (!same)
      log?.warn(
        { partition: partition.key, was: { nIn: cp.nIn, stride: cp.stride }, now: { nIn, stride } },
        'window options changed since the checkpoint: open windows restart, seq continues',
      );
    for (const id of part.streams) windower.forget(id);
    part.streams = new Set(Object.keys(cp.streams));
    for (const [id, snap] of Object.entries(cp.streams))
      windower.restore(id, same ? snap : { ...snap, tail: [], run: 0 });
    part.position = BigInt(cp.offset);
    log?.info({ partition: partition.key, offset: cp.offset }, 'resumed from checkpoint');
    return part;
  }
}
