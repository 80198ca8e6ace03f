import type { Window } from '../contracts/window.js';
import type { ModelLifecycle } from '../training/lifecycle.js';

interface Pending {
  modelId: string;
  hasModel: boolean;
  windows: Window[];
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
}

/**
 * The infer worker's training records (`lifecycle.record`, hold: false), coalesced: the calls made in
 * one tick (the jobs of a scoring round, which resume together) become one call, and one Redis
 * transaction, per model instead of one per job. Each caller resolves once its windows are recorded.
 */
export class RecordBatcher {
  private pending = new Map<string, Pending>();

  constructor(private readonly lifecycle: Pick<ModelLifecycle, 'record'>) {}

  record(modelId: string, windows: readonly Window[], hasModel: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => void this.flush());
      const key = `${hasModel ? 1 : 0}${modelId}`;
      let p = this.pending.get(key);
      if (!p) this.pending.set(key, (p = { modelId, hasModel, windows: [], waiters: [] }));
      p.windows.push(...windows);
      p.waiters.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    await Promise.all(
      batch.map(async ({ modelId, hasModel, windows, waiters }) => {
        try {
          await this.lifecycle.record(modelId, windows, { hasModel, hold: false });
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const w of waiters) w.reject(err);
        }
      }),
    );
  }
}
