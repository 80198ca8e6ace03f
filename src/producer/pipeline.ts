import { EventEmitter } from 'node:events';
import type { Window } from '../windows/contract.js';
import type { DeadLetter } from '../windows/dlq.js';
import type { Reading } from '../windows/reading.js';
import {
  Windower,
  type DropReason,
  type StreamSnapshot,
  type WindowerCounters,
  type WindowerOptions,
} from '../windows/windower.js';
import type { Checkpoint, CheckpointStore } from './checkpoints.js';
import type { ProducerMetrics } from './metrics.js';
import type { DeadLetterSink, WindowSink } from './sinks/types.js';
import type { TrainingRequests } from './sinks/train.js';
import type { BadInput, ReadingSource, SourceBatch, SourcePartition } from './sources/types.js';

/** The structured logger the pipeline writes to (pino's shape). */
export interface PipelineLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface PipelineOptions {
  /** How readings become windows (nIn, stride, reorder bound, gap policy…). */
  windows: WindowerOptions;
  /** Where windows go; every window goes to every sink. */
  sinks: WindowSink[];
  /** Where bad input goes (`seqae.dlq`). Without one, bad input is only counted and logged. */
  deadLetters?: DeadLetterSink;
  metrics?: ProducerMetrics;
  log?: PipelineLog;
  /** Replay speed: absent or 0 = as fast as possible, 1 = real time, 10 = ten times real time. */
  speed?: number;
  /** Windows per send (config.producer.batch). */
  batchSize: number;
  /** Longest a window waits for its batch to fill before it is sent anyway, ms (LINGER_MS). */
  lingerMs: number;
  /** Windows sent and not yet acknowledged before reading pauses (config.producer.inFlight). */
  maxInFlight: number;
  /** Windowing state of partitioned sources (Kafka), saved with each offset commit. */
  checkpoints?: CheckpointStore;
  /** Least time between checkpoints (state save + offset commit), ms (CHECKPOINT_INTERVAL_MS). */
  checkpointIntervalMs: number;
  /** Explicit training requests: the first `windows` windows of every stream, sent once per stream. */
  train?: { requests: TrainingRequests; windows: number; modelId?: (streamId: string) => string };
  /** Dropped readings also sent to the DLQ (they are always counted). Default late and features. */
  deadLetterDrops?: DropReason[];
}

export interface PipelineStats {
  source: string;
  /** Readings accepted from the source. */
  readings: number;
  /** Windows cut. */
  windows: number;
  /** Windows acknowledged, per sink. */
  sent: Record<string, number>;
  /** Rejections by reason (bad input and dropped readings). */
  rejected: Record<string, number>;
  /** Dead letters acknowledged by the DLQ. */
  deadLetters: number;
  gaps: number;
  filled: number;
  restarts: number;
  trainingRequests: number;
  /** Windows handed to sinks and not yet acknowledged. */
  inFlight: number;
  seconds: number;
  /** Windows per second over the run (acknowledged by the slowest sink). */
  windowsPerSecond: number;
}

export interface PipelineEvents {
  /** A send was acknowledged. */
  sent: [sink: string, windows: Window[]];
}

interface PartitionState {
  partition: SourcePartition;
  streams: Set<string>;
  /** Next offset to process (skips redelivered and already checkpointed messages). */
  position?: bigint;
  loaded: boolean;
  dirty: boolean;
}

type Action = () => Promise<void>;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * The producer: pulls readings from a source, cuts windows, and hands them in batches to every sink,
 * bad input to the DLQ. Sends are strictly ordered (one batch at a time per pipeline, so a stream's
 * windows reach each sink in order); reading pauses when `maxInFlight` windows await acknowledgement.
 * Offsets of partitioned sources, and the windowing state that goes with them, are committed only
 * after everything read before them was acknowledged. A failed send stops the pipeline with the error
 * and commits nothing after it.
 */
export class ProducerPipeline extends EventEmitter<PipelineEvents> {
  readonly windower: Windower;
  private readonly o: PipelineOptions;
  private pending: Window[] = [];
  private pendingSince = 0;
  private pendingDead: DeadLetter[] = [];
  private pendingActions: Action[] = [];
  private tail: Promise<void> = Promise.resolve();
  private inFlightWindows = 0;
  private roomWaiters: (() => void)[] = [];
  private failure?: unknown;
  private readonly partitions = new Map<string, PartitionState>();
  private lastCheckpoint = Date.now();
  private readonly training = new Map<string, Window[] | null>();
  private source?: ReadingSource;
  private started = Date.now();
  private readonly stats_ = {
    readings: 0,
    sent: {} as Record<string, number>,
    rejected: {} as Record<string, number>,
    deadLetters: 0,
    trainingRequests: 0,
  };
  private pace?: { wall: number; ts: number };
  private readonly dropsToDlq: Set<DropReason>;

  constructor(options: PipelineOptions) {
    super();
    this.o = options;
    if (!((options.speed ?? 0) >= 0)) throw new RangeError('speed: expected ≥ 0');
    if (this.o.batchSize < 1 || this.o.maxInFlight < this.o.batchSize)
      throw new RangeError('batchSize ≥ 1 and maxInFlight ≥ batchSize');
    this.dropsToDlq = new Set(options.deadLetterDrops ?? ['late', 'features']);
    this.windower = new Windower(options.windows);
    for (const s of this.o.sinks) this.stats_.sent[s.name] = 0;
  }

  stats(): PipelineStats {
    const c: WindowerCounters = this.windower.counters;
    const seconds = (Date.now() - this.started) / 1000;
    const acked = Math.min(...Object.values(this.stats_.sent), c.windows);
    return {
      source: this.source?.description ?? '',
      readings: this.stats_.readings,
      windows: c.windows,
      sent: { ...this.stats_.sent },
      rejected: { ...this.stats_.rejected },
      deadLetters: this.stats_.deadLetters,
      gaps: c.gaps,
      filled: c.filled,
      restarts: c.restarts,
      trainingRequests: this.stats_.trainingRequests,
      inFlight: this.inFlightWindows + this.pending.length,
      seconds,
      windowsPerSecond: seconds > 0 ? acked / seconds : 0,
    };
  }

  /**
   * Runs until the source ends or `signal` aborts, then sends what is pending, checkpoints, and
   * resolves with the final stats. A finite source's reorder buffers are flushed at its end; a
   * partitioned source's are kept in its checkpoint instead.
   */
  async run(source: ReadingSource, signal: AbortSignal = new AbortController().signal) {
    this.source = source;
    this.started = Date.now();
    const partitioned = source.commit !== undefined;
    source.onAssign?.(() => {
      for (const p of this.partitions.values()) p.loaded = false;
    });
    const linger = setInterval(
      () => {
        const waiting = this.pending.length + this.pendingDead.length;
        if (waiting > 0 && Date.now() - this.pendingSince >= this.o.lingerMs) this.dispatch();
      },
      Math.max(5, this.o.lingerMs),
    );
    try {
      for await (const batch of source.batches(signal)) {
        this.check();
        await this.process(batch, signal);
        if (partitioned && Date.now() - this.lastCheckpoint >= this.o.checkpointIntervalMs)
          this.checkpoint();
        if (signal.aborted) break;
      }
      this.check();
      if (!partitioned) for (const w of this.windower.flush()) this.add(w);
      if (this.o.train) this.requestRemainingTraining();
      if (partitioned) this.checkpoint();
      this.dispatch();
      await this.drain();
      return this.stats();
    } finally {
      clearInterval(linger);
    }
  }

  private check() {
    if (this.failure) throw this.failure;
  }

  private async process(batch: SourceBatch, signal: AbortSignal) {
    let items = batch.items;
    let part: PartitionState | undefined;
    if (batch.partition) {
      part = await this.enter(batch.partition);
      const from = part.position;
      if (from !== undefined) items = items.filter((i) => BigInt(i.offset ?? '0') >= from);
      const next = BigInt(batch.partition.nextOffset);
      if (from === undefined || next > from) {
        part.position = next;
        part.partition = batch.partition;
        part.dirty = true;
      }
    }
    for (const item of items) {
      if (item.bad) {
        this.reject(item.bad);
        continue;
      }
      const r = item.reading;
      if (this.o.speed) await this.wait(r.ts, signal, this.o.speed);
      // Stopped while pacing: the rest of a file's batch is left unread. A partitioned source's
      // batch is finished instead (its offsets and checkpoint cover the whole batch).
      if (signal.aborted && !part) break;
      this.stats_.readings++;
      this.o.metrics?.readings.inc();
      part?.streams.add(r.streamId);
      const { windows, dropped } = this.windower.push(r);
      if (dropped) this.dropped(r, dropped);
      for (const w of windows) this.add(w);
      if (this.pending.length >= this.o.batchSize) {
        this.dispatch();
        await this.room();
      }
    }
    if (this.pendingDead.length >= this.o.batchSize) this.dispatch();
  }

  /** Replay pacing: reading time → wall time, scaled by `speed`. */
  private async wait(ts: number, signal: AbortSignal, speed: number) {
    const now = Date.now();
    if (!this.pace) {
      this.pace = { wall: now, ts };
      return;
    }
    const due = this.pace.wall + (ts - this.pace.ts) / speed;
    if (due - now > 1) {
      this.dispatch(); // don't hold windows back while sleeping
      await sleep(due - now, signal);
    }
  }

  private add(w: Window) {
    if (this.pending.length + this.pendingDead.length === 0) this.pendingSince = Date.now();
    this.pending.push(w);
    const t = this.o.train;
    if (!t) return;
    let got = this.training.get(w.streamId);
    if (got === null) return; // already requested
    if (!got) this.training.set(w.streamId, (got = []));
    got.push(w);
    if (got.length >= t.windows) this.requestTraining(w.streamId, got);
  }

  private requestTraining(streamId: string, windows: Window[]) {
    const t = this.o.train!;
    this.training.set(streamId, null);
    this.pendingActions.push(async () => {
      await t.requests.requestTraining(streamId, windows, t.modelId?.(streamId) ?? streamId);
      this.stats_.trainingRequests++;
    });
  }

  private requestRemainingTraining() {
    for (const [id, got] of this.training) if (got && got.length > 0) this.requestTraining(id, got);
  }

  private reject(bad: BadInput) {
    this.count(bad.reason);
    this.o.log?.debug({ reason: bad.reason, source: bad.source, detail: bad.detail }, 'rejected');
    if (this.o.deadLetters) this.addDead(bad);
  }

  private addDead(letter: DeadLetter) {
    if (this.pending.length + this.pendingDead.length === 0) this.pendingSince = Date.now();
    this.pendingDead.push(letter);
  }

  private dropped(r: Reading, reason: DropReason) {
    const detail = `${reason} reading of ${r.streamId} at ${new Date(r.ts).toISOString()}`;
    this.count(reason);
    if (this.o.deadLetters && this.dropsToDlq.has(reason))
      this.addDead({
        reason,
        detail,
        source: this.source?.description ?? '',
        original: JSON.stringify(r),
        streamId: r.streamId,
      });
  }

  private count(reason: string) {
    this.stats_.rejected[reason] = (this.stats_.rejected[reason] ?? 0) + 1;
    this.o.metrics?.rejected.inc({ reason });
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
    const store = this.o.checkpoints;
    if (!store) {
      this.o.log?.warn(
        { partition: partition.key },
        'no checkpoint store: a restart starts every open window afresh and seq from 0',
      );
      return part;
    }
    const cp = await store.load(partition.key);
    if (!cp) return part;
    const { nIn, stride = 1 } = this.o.windows;
    const same = cp.nIn === nIn && cp.stride === stride;
    if (!same)
      this.o.log?.warn(
        { partition: partition.key, was: { nIn: cp.nIn, stride: cp.stride }, now: { nIn, stride } },
        'window options changed since the checkpoint: open windows restart, seq continues',
      );
    for (const id of part.streams) this.windower.forget(id);
    part.streams = new Set(Object.keys(cp.streams));
    for (const [id, snap] of Object.entries(cp.streams))
      this.windower.restore(id, same ? snap : { ...snap, tail: [], run: 0 });
    part.position = BigInt(cp.offset);
    this.o.log?.info({ partition: partition.key, offset: cp.offset }, 'resumed from checkpoint');
    return part;
  }

  /** Snapshot every changed partition now; save and commit once what came before is acknowledged. */
  private checkpoint() {
    this.lastCheckpoint = Date.now();
    const source = this.source!;
    const { nIn, stride = 1 } = this.o.windows;
    for (const part of this.partitions.values()) {
      if (!part.dirty) continue;
      part.dirty = false;
      const p = part.partition;
      const streams: Record<string, StreamSnapshot> = {};
      for (const id of part.streams) {
        const snap = this.windower.snapshot(id);
        if (snap) streams[id] = snap;
      }
      const cp: Checkpoint = { v: 1, offset: p.nextOffset, nIn, stride, streams };
      const store = this.o.checkpoints;
      this.pendingActions.push(async () => {
        try {
          if (store) await store.save(p.key, cp);
          await source.commit!(p);
        } catch (e) {
          // a rebalance took the partition: its new owner resumes from the last checkpoint
          this.o.log?.warn({ partition: p.key, err: String(e) }, 'checkpoint not committed');
        }
      });
    }
    this.dispatch();
  }

  /** Hands everything pending to the sinks, after the previous send. */
  private dispatch() {
    if (this.pending.length + this.pendingDead.length + this.pendingActions.length === 0) return;
    const windows = this.pending;
    const dead = this.pendingDead;
    const actions = this.pendingActions;
    this.pending = [];
    this.pendingDead = [];
    this.pendingActions = [];
    const n = windows.length;
    this.inFlightWindows += n;
    this.o.metrics?.inFlight.set(this.inFlightWindows);
    const step = async () => {
      if (this.failure) return; // nothing after a failed send is sent or committed
      try {
        await Promise.all([
          ...this.o.sinks.map((s) => this.sendTo(s, windows)),
          dead.length > 0 && this.o.deadLetters ? this.sendDead(dead) : undefined,
        ]);
        for (const a of actions) await a();
      } catch (e) {
        this.failure ??= e;
      } finally {
        this.inFlightWindows -= n;
        this.o.metrics?.inFlight.set(this.inFlightWindows);
        for (const wake of this.roomWaiters.splice(0)) wake();
      }
    };
    this.tail = this.tail.then(step);
  }

  private async sendTo(sink: WindowSink, windows: Window[]) {
    if (windows.length === 0) return;
    const end = this.o.metrics?.sendDuration.startTimer({ sink: sink.name });
    await sink.send(windows);
    end?.();
    this.stats_.sent[sink.name] = (this.stats_.sent[sink.name] ?? 0) + windows.length;
    this.o.metrics?.windows.inc({ sink: sink.name }, windows.length);
    this.emit('sent', sink.name, windows);
  }

  private async sendDead(dead: DeadLetter[]) {
    const end = this.o.metrics?.sendDuration.startTimer({ sink: 'dlq' });
    await this.o.deadLetters!.send(dead);
    end?.();
    this.stats_.deadLetters += dead.length;
    this.o.metrics?.windows.inc({ sink: 'dlq' }, dead.length);
  }

  /** Waits while too many windows await acknowledgement. */
  private async room() {
    while (this.inFlightWindows >= this.o.maxInFlight && !this.failure)
      await new Promise<void>((wake) => this.roomWaiters.push(wake));
    this.check();
  }

  /** Waits until every send handed over so far is acknowledged; throws the first failure. */
  async drain(): Promise<void> {
    this.dispatch();
    await this.tail;
    this.check();
  }
}
