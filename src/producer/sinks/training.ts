import type { Window } from '../../contracts/window.js';
import type { TrainingRequests } from './train.js';
import type { WindowSink } from './types.js';

export interface TrainingSinkOptions {
  /** Windows per request: the first `windows` windows of each stream. */
  windows: number;
  /** Model id of every request. Default: each stream's own id. */
  modelId?: string;
}

/**
 * Explicit training requests as a sink: of the windows it is sent, it keeps the first `windows` of
 * each stream and then asks, once per stream, for a model trained on them; `end` asks for the streams
 * that ended with fewer. The pipeline sends it each batch once the window sinks acknowledged it, so a
 * request only ever covers delivered windows.
 */
export class TrainingSink implements WindowSink {
  readonly name = 'train';
  /** Requests made. */
  requested = 0;
  /** Windows kept per stream; null once its request was made. */
  private readonly kept = new Map<string, Window[] | null>();

  constructor(
    private readonly requests: TrainingRequests,
    private readonly o: TrainingSinkOptions,
  ) {}

  async send(windows: Window[]): Promise<void> {
    for (const w of windows) {
      let got = this.kept.get(w.streamId);
      if (got === null) continue;
      if (!got) this.kept.set(w.streamId, (got = []));
      got.push(w);
      if (got.length >= this.o.windows) await this.request(w.streamId, got);
    }
  }

  /** End of input: asks for the streams that have fewer than `windows` windows. */
  async end(): Promise<void> {
    for (const [id, got] of this.kept) if (got && got.length > 0) await this.request(id, got);
  }

  async close(): Promise<void> {
    await this.requests.close();
  }

  private async request(streamId: string, windows: Window[]) {
    this.kept.set(streamId, null);
    await this.requests.requestTraining(streamId, windows, this.o.modelId ?? streamId);
    this.requested++;
  }
}
