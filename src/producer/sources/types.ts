import type { DeadLetter } from '../../contracts/dead-letter.js';
import type { Reading } from '../../contracts/reading.js';

/**
 * One thing a source read: a reading, or input that is not one, as its dead letter (reason: a
 * ReadingRejection or a source's own code; original: the bytes as read, the first `maxLineBytes` of
 * an oversized line). `offset` only for Kafka messages.
 */
export type SourceItem =
  | { reading: Reading; bad?: undefined; offset?: string }
  | { bad: DeadLetter; reading?: undefined; offset?: string };

/** Where a batch of a partitioned source (Kafka) came from, for checkpoints. */
export interface SourcePartition {
  /** `topic/partition`: the checkpoint key. */
  key: string;
  topic: string;
  partition: number;
  /** Offset after the batch's last message: what to commit once all of it is acknowledged. */
  nextOffset: string;
}

export interface SourceBatch {
  items: SourceItem[];
  partition?: SourcePartition;
}

/** Progress of a finite source, for the progress bar. */
export interface SourceProgress {
  unit: 'bytes' | 'readings';
  total: number;
  done(): number;
}

/**
 * Where readings come from. `batches` yields what was read, in order, until the input ends or
 * `signal` aborts; the pipeline owns the pace (it simply stops pulling when it must wait).
 */
export interface ReadingSource {
  readonly kind: 'csv' | 'ndjson' | 'kafka' | 'synthetic';
  /** For logs and the summary: `csv:data/x.csv`, `kafka:seqae.readings`, … */
  readonly description: string;
  /** Present for finite sources whose size is known. */
  readonly progress?: SourceProgress;
  batches(signal: AbortSignal): AsyncIterable<SourceBatch>;
  /** Partitioned sources: commit the offset once everything before it is acknowledged. */
  commit?(partition: SourcePartition): Promise<void>;
  /** Partitioned sources: called when partitions are (re)assigned, so checkpoints are reloaded. */
  onAssign?(listener: () => void): void;
  close(): Promise<void>;
}
