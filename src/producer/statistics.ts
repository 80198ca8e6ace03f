import type { WindowerCounters } from '../windows/windower.js';
import type { ProducerMetrics } from './metrics.js';

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

/** What the statistics cannot count themselves: they belong to the pipeline's other parts. */
export interface StatsParts {
  source: string;
  windower: WindowerCounters;
  inFlight: number;
  trainingRequests: number;
}

/**
 * A pipeline's counts: kept for its stats (the summary line, the progress bar) and mirrored into the
 * producer metrics when there are any, so that the two never disagree.
 */
export class PipelineStatistics {
  private readings = 0;
  private readonly sent: Record<string, number> = {};
  private readonly rejected: Record<string, number> = {};
  private deadLetters = 0;
  private started = Date.now();

  constructor(
    sinks: readonly string[],
    private readonly metrics?: ProducerMetrics,
  ) {
    for (const s of sinks) this.sent[s] = 0;
  }

  /** The run starts: `seconds` and the rate count from now. */
  start(): void {
    this.started = Date.now();
  }

  reading(): void {
    this.readings++;
    this.metrics?.readings.inc();
  }

  rejection(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.metrics?.rejected.inc({ reason });
  }

  /** `sink` acknowledged `n` windows, `seconds` after they were handed to it. */
  windowsSent(sink: string, n: number, seconds: number): void {
    this.sent[sink] = (this.sent[sink] ?? 0) + n;
    this.acknowledged(sink, n, seconds);
  }

  /** The DLQ acknowledged `n` dead letters (sink `dlq` in the metrics). */
  deadLettersSent(n: number, seconds: number): void {
    this.deadLetters += n;
    this.acknowledged('dlq', n, seconds);
  }

  inFlight(windows: number): void {
    this.metrics?.inFlight.set(windows);
  }

  stats(parts: StatsParts): PipelineStats {
    const c = parts.windower;
    const seconds = (Date.now() - this.started) / 1000;
    const acked = Math.min(...Object.values(this.sent), c.windows);
    return {
      source: parts.source,
      readings: this.readings,
      windows: c.windows,
      sent: { ...this.sent },
      rejected: { ...this.rejected },
      deadLetters: this.deadLetters,
      gaps: c.gaps,
      filled: c.filled,
      restarts: c.restarts,
      trainingRequests: parts.trainingRequests,
      inFlight: parts.inFlight,
      seconds,
      windowsPerSecond: seconds > 0 ? acked / seconds : 0,
    };
  }

  private acknowledged(sink: string, n: number, seconds: number) {
    this.metrics?.sendDuration.observe({ sink }, seconds);
    this.metrics?.windows.inc({ sink }, n);
  }
}
