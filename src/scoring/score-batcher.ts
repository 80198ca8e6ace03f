import type { WindowOutputs } from '../contracts/outputs.js';
import type { Window } from '../contracts/window.js';
import type { OutputPublisher } from './publisher.js';
import type { ScoreResult, WindowScorer } from './window-scorer.js';

export interface ScoreBatcherOptions {
  /** Windows per model call (SEQAE_BATCH_MAX); a larger group is scored in chunks of this size. */
  chunk: number;
  /** Publish the outputs before resolving (the stream worker; infer workers per SEQAE_INFER_PUBLISH). */
  publish: boolean;
}

interface Request {
  modelId: string;
  windows: readonly Window[];
  resolve: (r: ScoreResult | undefined) => void;
  reject: (err: unknown) => void;
}

interface ScoredRound {
  settled: { r: Request; result: ScoreResult | undefined }[];
  outputs: WindowOutputs[];
}

/**
 * Group commit for scoring: callers that arrive while a round is in flight (partitions consumed
 * concurrently, infer jobs of one worker) wait for the next round, which scores each model's windows
 * in one call and publishes all the outputs of the round in one acknowledged send. Under load the
 * rounds grow by themselves; alone a caller pays no wait. Each caller gets back its own windows'
 * outputs, resolved once they are acknowledged (when publishing), so at-least-once holds per caller.
 */
export class ScoreBatcher {
  private queue: Request[] = [];
  private running = false;
  /** Wakes the rounds up when a caller comes while they wait for a send. */
  private arrived?: () => void;

  constructor(
    private readonly scorer: Pick<WindowScorer, 'score'>,
    private readonly publisher: Pick<OutputPublisher, 'publish'> | undefined,
    private readonly options: ScoreBatcherOptions,
  ) {}

  /** `scorer.score(modelId, windows)`, published; undefined when the model has no version. */
  score(modelId: string, windows: readonly Window[]): Promise<ScoreResult | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ modelId, windows, resolve, reject });
      this.arrived?.();
      if (!this.running) {
        this.running = true;
        // The rest of this tick's callers (a fetch's partitions, a burst of jobs) join this round.
        setImmediate(() => void this.rounds());
      }
    });
  }

  /**
   * Round after round, pipelined: while one round's outputs are being sent, the next round is scored.
   * Sends go out in round order (one at a time, as the Kafka output serialises them), and a caller
   * resolves only once its own outputs are acknowledged, so a partition's offsets still move only
   * past acknowledged windows. At most one round is scored ahead of the send in flight.
   */
  private async rounds(): Promise<void> {
    let sending: Promise<void> = Promise.resolve();
    for (;;) {
      if (this.queue.length === 0) {
        // Until the send is acknowledged or a caller comes (who makes the next round at once).
        await Promise.race([sending, new Promise<void>((r) => (this.arrived = r))]);
        this.arrived = undefined;
        // The rest of the tick's callers join the round, as the first round waits for them too.
        if (this.queue.length > 0) await new Promise((r) => setImmediate(r));
        if (this.queue.length === 0) {
          await sending;
          if (this.queue.length === 0) break;
        }
      }
      const round = this.queue;
      this.queue = [];
      const scored = await this.scoreRound(round);
      await sending;
      sending = this.publishRound(scored);
    }
    this.running = false;
  }

  private async scoreRound(requests: Request[]): Promise<ScoredRound> {
    const byModel = new Map<string, Request[]>();
    for (const r of requests) {
      let list = byModel.get(r.modelId);
      if (!list) byModel.set(r.modelId, (list = []));
      list.push(r);
    }
    const round: ScoredRound = { settled: [], outputs: [] };
    for (const [modelId, group] of byModel) {
      try {
        const all = group.length === 1 ? group[0]!.windows : group.flatMap((r) => r.windows);
        const result = await this.scorer.score(modelId, all, this.options.chunk);
        if (!result) {
          for (const r of group) round.settled.push({ r, result: undefined });
          continue;
        }
        round.outputs.push(...result.outputs);
        if (group.length === 1) {
          round.settled.push({ r: group[0]!, result });
          continue;
        }
        // Back to each caller: outputs and rejections carry the caller's own window objects.
        const owner = new Map<Window, ScoreResult>();
        for (const r of group) {
          const own: ScoreResult = { outputs: [], rejected: [] };
          for (const w of r.windows) owner.set(w, own);
          round.settled.push({ r, result: own });
        }
        for (const o of result.outputs) owner.get(o.window)?.outputs.push(o);
        for (const x of result.rejected) owner.get(x.window)?.rejected.push(x);
      } catch (err) {
        for (const r of group) r.reject(err);
      }
    }
    return round;
  }

  /** Sends a scored round's outputs; its callers resolve once they are acknowledged. Never rejects. */
  private async publishRound({ settled, outputs }: ScoredRound): Promise<void> {
    try {
      if (this.options.publish && this.publisher) await this.publisher.publish(outputs);
    } catch (err) {
      for (const { r } of settled) r.reject(err);
      return;
    }
    for (const { r, result } of settled) r.resolve(result);
  }
}
