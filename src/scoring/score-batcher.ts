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

  constructor(
    private readonly scorer: Pick<WindowScorer, 'score'>,
    private readonly publisher: Pick<OutputPublisher, 'publish'> | undefined,
    private readonly options: ScoreBatcherOptions,
  ) {}

  /** `scorer.score(modelId, windows)`, published; undefined when the model has no version. */
  score(modelId: string, windows: readonly Window[]): Promise<ScoreResult | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ modelId, windows, resolve, reject });
      if (!this.running) {
        this.running = true;
        // The rest of this tick's callers (a fetch's partitions, a burst of jobs) join this round.
        setImmediate(() => void this.rounds());
      }
    });
  }

  private async rounds(): Promise<void> {
    while (this.queue.length > 0) {
      const round = this.queue;
      this.queue = [];
      await this.round(round);
    }
    this.running = false;
  }

  private async round(requests: Request[]): Promise<void> {
    const byModel = new Map<string, Request[]>();
    for (const r of requests) {
      let list = byModel.get(r.modelId);
      if (!list) byModel.set(r.modelId, (list = []));
      list.push(r);
    }
    const settled: { r: Request; result: ScoreResult | undefined }[] = [];
    const outputs = [];
    for (const [modelId, group] of byModel) {
      try {
        const all = group.length === 1 ? group[0]!.windows : group.flatMap((r) => r.windows);
        const result = await this.scorer.score(modelId, all, this.options.chunk);
        if (!result) {
          for (const r of group) settled.push({ r, result: undefined });
          continue;
        }
        outputs.push(...result.outputs);
        if (group.length === 1) {
          settled.push({ r: group[0]!, result });
          continue;
        }
        // Back to each caller: outputs and rejections carry the caller's own window objects.
        const owner = new Map<Window, ScoreResult>();
        for (const r of group) {
          const own: ScoreResult = { outputs: [], rejected: [] };
          for (const w of r.windows) owner.set(w, own);
          settled.push({ r, result: own });
        }
        for (const o of result.outputs) owner.get(o.window)?.outputs.push(o);
        for (const x of result.rejected) owner.get(x.window)?.rejected.push(x);
      } catch (err) {
        for (const r of group) r.reject(err);
      }
    }
    try {
      if (this.options.publish && this.publisher) await this.publisher.publish(outputs);
    } catch (err) {
      for (const { r } of settled) r.reject(err);
      return;
    }
    for (const { r, result } of settled) r.resolve(result);
  }
}
