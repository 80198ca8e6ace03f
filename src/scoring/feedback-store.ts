import type { Redis } from 'ioredis';
import type { AlertDetail, FalseAlarm } from '../anomaly/index.js';
import { windowExcess } from '../anomaly/index.js';
import type { WindowOutputs } from '../contracts/outputs.js';

/** Alerts remembered per stream for feedback, and for how long (an operator answers within days). */
const ALERTS_KEPT = 200;
const ALERTS_TTL_S = 30 * 24 * 3600;

/** The detail of a published window that a false-alarm mark needs. */
export function alertDetail(o: WindowOutputs): AlertDetail {
  return {
    reason: o.reason,
    score: o.score,
    reconstructionError: o.reconstructionError,
    predictionError: o.predictionError,
    value: o.window.values.at(-1)?.[0],
    excess: windowExcess(o.window.values),
  };
}

/**
 * Feedback's state in Redis, shared by every worker: the alerts each stream was last sent (a sorted
 * set per stream, by seq, bounded and expiring), so that a mark naming only `streamId` and `seq` gets
 * the alert's detail whichever worker receives it; and every mark received (one hash), so that a
 * worker that starts later, or takes a stream over, knows them.
 */
export class FeedbackStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private alertsKey(streamId: string): string {
    return `${this.prefix}:alerts:${streamId}`;
  }

  private get marksKey(): string {
    return `${this.prefix}:feedback`;
  }

  /** Records the alerts among `outputs` (windows that did not alert are not recorded). */
  async recordAlerts(outputs: readonly WindowOutputs[]): Promise<void> {
    const alerts = outputs.filter((o) => o.alert);
    if (alerts.length === 0) return;
    const tx = this.redis.pipeline();
    for (const o of alerts) {
      const key = this.alertsKey(o.window.streamId);
      tx.zremrangebyscore(key, o.window.seq, o.window.seq); // a window scored again replaces its record
      tx.zadd(key, o.window.seq, JSON.stringify({ seq: o.window.seq, ...alertDetail(o) }));
      tx.zremrangebyrank(key, 0, -(ALERTS_KEPT + 1));
      tx.expire(key, ALERTS_TTL_S);
    }
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0]!;
  }

  /** The recorded alert of window `streamId:seq`, if it alerted recently. */
  async alertOf(streamId: string, seq: number): Promise<AlertDetail | undefined> {
    const [found] = await this.redis.zrangebyscore(this.alertsKey(streamId), seq, seq);
    if (!found) return undefined;
    const { seq: _seq, ...detail } = JSON.parse(found) as AlertDetail & { seq: number };
    return detail;
  }

  async saveMark(mark: FalseAlarm): Promise<void> {
    await this.redis.hset(this.marksKey, `${mark.streamId}:${mark.seq}`, JSON.stringify(mark));
  }

  /** Every mark saved; entries that do not decode are left out. */
  async loadMarks(): Promise<FalseAlarm[]> {
    const all = await this.redis.hgetall(this.marksKey);
    const marks: FalseAlarm[] = [];
    for (const text of Object.values(all)) {
      try {
        const m = JSON.parse(text) as FalseAlarm;
        if (typeof m.streamId === 'string' && Number.isInteger(m.seq)) marks.push(m);
      } catch {
        // written by another version, or by hand: not a mark this worker can use
      }
    }
    return marks.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
  }
}
