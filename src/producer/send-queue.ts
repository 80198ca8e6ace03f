import type { Window } from '../contracts/window.js';
import type { DeadLetter } from '../contracts/dead-letter.js';
import type { DeadLetterSink, WindowSink } from './sinks/types.js';
import type { PipelineStatistics } from './statistics.js';

/** Work that waits until everything handed over before it was acknowledged (an offset commit). */
export type AfterSent = () => Promise<void>;

export interface SendQueueOptions {
  /** Every window goes to every sink. */
  sinks: WindowSink[];
  /**
   * Sinks sent each batch once `sinks` acknowledged it, one after the other (training requests: a
   * model is asked for on delivered windows only). Not counted as sent.
   */
  followers?: WindowSink[];
  /** Where dead letters go; without one, those added are dropped (their rejection was counted). */
  deadLetters?: DeadLetterSink;
  /** Windows per send. */
  batchSize: number;
  /** Windows handed to sinks and not yet acknowledged at which `sendBatch` waits. */
  maxInFlight: number;
  /** Longest the oldest window or dead letter waits for its batch to fill, ms (with `startLinger`). */
  lingerMs: number;
  statistics: PipelineStatistics;
  /** A sink acknowledged a send. */
  onSent?: (sink: string, windows: Window[]) => void;
}

/**
 * Windows and dead letters on their way to the sinks, in batches. Sends are strictly ordered: one
 * batch at a time, so a stream's windows reach each sink in order, and work queued with `after` runs
 * only once everything handed over before it was acknowledged. A batch goes when it is full
 * (`sendBatch`, which then waits while `maxInFlight` windows await acknowledgement: the backpressure),
 * when its oldest item lingered `lingerMs`, or on `dispatch`. The first failed send is kept: nothing
 * after it is sent or run, and `throwIfFailed` and `drain` throw it.
 */
export class SendQueue {
  private windows: Window[] = [];
  private deadLetters: DeadLetter[] = [];
  private actions: AfterSent[] = [];
  /** When the oldest pending window or dead letter was added. */
  private since = 0;
  private tail: Promise<void> = Promise.resolve();
  private handedOver = 0;
  private roomWaiters: (() => void)[] = [];
  private failure?: unknown;
  private linger?: NodeJS.Timeout;

  constructor(private readonly o: SendQueueOptions) {
    if (o.batchSize < 1 || o.maxInFlight < o.batchSize)
      throw new RangeError('batchSize ≥ 1 and maxInFlight ≥ batchSize');
  }

  /** Windows not yet acknowledged: handed to the sinks, or waiting for their batch. */
  get inFlight(): number {
    return this.handedOver + this.windows.length;
  }

  /** A full batch of windows is waiting: `sendBatch` it. */
  get batchFull(): boolean {
    return this.windows.length >= this.o.batchSize;
  }

  add(window: Window): void {
    this.touch();
    this.windows.push(window);
  }

  addDeadLetter(letter: DeadLetter): void {
    if (!this.o.deadLetters) return;
    this.touch();
    this.deadLetters.push(letter);
  }

  /** Runs `action` once everything handed over so far, and everything pending now, is acknowledged. */
  after(action: AfterSent): void {
    this.actions.push(action);
  }

  /** Sends what is pending, then waits while too many windows await acknowledgement. */
  async sendBatch(): Promise<void> {
    this.dispatch();
    while (this.handedOver >= this.o.maxInFlight && !this.failure)
      await new Promise<void>((wake) => this.roomWaiters.push(wake));
    this.throwIfFailed();
  }

  /** Dead letters go once they fill a batch too, without waiting (they are not counted in flight). */
  sendDeadLettersIfFull(): void {
    if (this.deadLetters.length >= this.o.batchSize) this.dispatch();
  }

  /** Sends what lingered `lingerMs`, until `stopLinger`. */
  startLinger(): void {
    const { lingerMs } = this.o;
    this.linger = setInterval(
      () => {
        const waiting = this.windows.length + this.deadLetters.length;
        if (waiting > 0 && Date.now() - this.since >= lingerMs) this.dispatch();
      },
      Math.max(5, lingerMs),
    );
  }

  stopLinger(): void {
    clearInterval(this.linger);
  }

  /** Hands everything pending to the sinks, after the previous send. */
  dispatch(): void {
    if (this.windows.length + this.deadLetters.length + this.actions.length === 0) return;
    const windows = this.windows;
    const dead = this.deadLetters;
    const actions = this.actions;
    this.windows = [];
    this.deadLetters = [];
    this.actions = [];
    const n = windows.length;
    this.handedOver += n;
    this.o.statistics.inFlight(this.handedOver);
    const step = async () => {
      if (this.failure) return; // nothing after a failed send is sent or committed
      try {
        await Promise.all([
          ...this.o.sinks.map((s) => this.sendTo(s, windows)),
          dead.length > 0 ? this.sendDead(dead) : undefined,
        ]);
        if (windows.length > 0) for (const f of this.o.followers ?? []) await f.send(windows);
        for (const a of actions) await a();
      } catch (e) {
        this.failure ??= e;
      } finally {
        this.handedOver -= n;
        this.o.statistics.inFlight(this.handedOver);
        for (const wake of this.roomWaiters.splice(0)) wake();
      }
    };
    this.tail = this.tail.then(step);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Waits until every send handed over so far is acknowledged; throws the first failure. */
  async drain(): Promise<void> {
    this.dispatch();
    await this.tail;
    this.throwIfFailed();
  }

  private touch() {
    if (this.windows.length + this.deadLetters.length === 0) this.since = Date.now();
  }

  private async sendTo(sink: WindowSink, windows: Window[]) {
    if (windows.length === 0) return;
    const t0 = performance.now();
    await sink.send(windows);
    this.o.statistics.windowsSent(sink.name, windows.length, (performance.now() - t0) / 1000);
    this.o.onSent?.(sink.name, windows);
  }

  private async sendDead(dead: DeadLetter[]) {
    const t0 = performance.now();
    await this.o.deadLetters?.send(dead);
    this.o.statistics.deadLettersSent(dead.length, (performance.now() - t0) / 1000);
  }
}
