import type { Admin } from 'kafkajs';
import { withTimeout } from '../util/timeout.js';

/** One dependency's state. */
export interface CheckResult {
  ok: boolean;
  reason?: string;
}

/** What `/readyz` reports: overall state, the reason naming what is down, and each check. */
export interface Readiness extends CheckResult {
  checks?: Record<string, CheckResult>;
}

export type ReadinessCheck = () => Promise<CheckResult>;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Runs `probe` at most once at a time: a probe still running (a broker that does not answer) is
 * awaited again by the next check instead of piling up another connection attempt.
 */
function shared(probe: () => Promise<unknown>, timeoutMs: number, what: string): ReadinessCheck {
  let inFlight: Promise<unknown> | undefined;
  return async () => {
    inFlight ??= probe().finally(() => {
      inFlight = undefined;
    });
    try {
      await withTimeout(inFlight, timeoutMs, what);
      return { ok: true };
    } catch (error) {
      return { ok: false, reason: message(error) };
    }
  };
}

/** What `redisReady` needs of an ioredis client. */
export interface PingableRedis {
  readonly status: string;
  ping(): Promise<string>;
}

/**
 * Redis is ready when the connection is up and answers PING within `timeoutMs` (default 1000). A
 * connection that is (re)connecting is reported as such without queueing a PING behind it.
 */
export function redisReady(
  redis: PingableRedis,
  options: { timeoutMs?: number } = {},
): ReadinessCheck {
  const ping = shared(() => redis.ping(), options.timeoutMs ?? 1000, 'PING');
  return async () => {
    // 'wait' (lazy, not connected yet) and 'connect' (connected, ready check running): PING tells.
    if (!['ready', 'wait', 'connect'].includes(redis.status)) {
      return { ok: false, reason: `connection ${redis.status}` };
    }
    return ping();
  };
}

/**
 * Kafka is ready when the cluster answers a metadata request within `timeoutMs` (default 3000):
 * `describeCluster`, or `fetchTopicMetadata` for `topics` when given (which must then exist). The
 * admin client connects by itself on first use and reconnects after an outage.
 */
export function kafkaReady(
  admin: Pick<Admin, 'describeCluster' | 'fetchTopicMetadata'>,
  options: { timeoutMs?: number; topics?: readonly string[] } = {},
): ReadinessCheck {
  const topics = options.topics?.length ? [...options.topics] : undefined;
  return shared(
    () => (topics ? admin.fetchTopicMetadata({ topics }) : admin.describeCluster()),
    options.timeoutMs ?? 3000,
    'metadata request',
  );
}

/**
 * One `ready()` from named checks, run concurrently. Not ready when any check is not ready (or throws);
 * the reason names each one that is down: `kafka: metadata request: no answer within 3000 ms`.
 */
export function composeReady(checks: Record<string, ReadinessCheck>): () => Promise<Readiness> {
  const names = Object.keys(checks);
  return async () => {
    const results = await Promise.all(
      names.map((name) =>
        checks[name]().catch((error: unknown): CheckResult => ({
          ok: false,
          reason: message(error),
        })),
      ),
    );
    const byName = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const down = names.filter((n) => !byName[n].ok);
    return down.length === 0
      ? { ok: true, checks: byName }
      : {
          ok: false,
          reason: down.map((n) => `${n}: ${byName[n].reason ?? 'not ready'}`).join('; '),
          checks: byName,
        };
  };
}
