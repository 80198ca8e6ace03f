import type { Window } from '../contracts/window.js';
import type { ModelLifecycle, RecordCounts } from '../training/lifecycle.js';

interface Waiter {
  /** Whether the model had a version to score the caller's windows; undefined when scoring failed. */
  hasModel: Promise<boolean | undefined>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Pending {
  modelId: string;
  windows: Window[];
  waiters: Waiter[];
}

/**
 * The infer worker's training records (recent windows and counters, none held), coalesced: the
 * calls made in one tick (the jobs of a scoring round, which start and resume together) become one
 * Redis transaction for every model, written while the round is scored rather than after it. Once
 * the transaction is in and each caller's scoring says whether its model had a version, each model
 * asks for training at most once per flush and per case (warm-up or retraining); each caller
 * resolves then, or rejects with its model's error (or the transaction's).
 */
export class RecordBatcher {
  private pending = new Map<string, Pending>();

  constructor(private readonly lifecycle: Pick<ModelLifecycle, 'recordMany' | 'decide'>) {}

  record(
    modelId: string,
    windows: readonly Window[],
    hasModel: Promise<boolean> | boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => void this.flush());
      let p = this.pending.get(modelId);
      if (!p) this.pending.set(modelId, (p = { modelId, windows: [], waiters: [] }));
      for (const w of windows) p.windows.push(w);
      // A caller whose scoring failed has no case: its job fails (and comes back) on that error. The
      // rejection is handled here at once, not when the flush gets to it.
      const known = Promise.resolve(hasModel).catch(() => undefined);
      p.waiters.push({ hasModel: known, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    let counts: (RecordCounts | Error)[];
    try {
      counts = await this.lifecycle.recordMany(batch);
    } catch (err) {
      for (const p of batch) for (const w of p.waiters) w.reject(err);
      return;
    }
    await Promise.all(batch.map((p, i) => this.decide(p, counts[i]!)));
  }

  /** The model's training decision, once per case among its callers; then they resolve. */
  private async decide(p: Pending, counts: RecordCounts | Error): Promise<void> {
    if (counts instanceof Error) {
      for (const w of p.waiters) w.reject(counts);
      return;
    }
    const cases = await Promise.all(p.waiters.map((w) => w.hasModel));
    try {
      for (const hasModel of [false, true])
        if (cases.includes(hasModel)) await this.lifecycle.decide(p.modelId, counts, hasModel);
      for (const w of p.waiters) w.resolve();
    } catch (err) {
      for (const w of p.waiters) w.reject(err);
    }
  }
}
