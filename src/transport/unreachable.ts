/**
 * Whether a failed send means the broker could not be reached (sent again until the send timeout) or
 * that it refused the request (reported at once), for either Kafka client seqae can produce with.
 */

/** kafkajs errors that mean the broker could not be reached, not that it refused the request. */
const KAFKAJS_UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSLockTimeout',
]);

/**
 * @platformatic/kafka's network errors: a connection failed, closed or timed out (its TimeoutError
 * carries the network code too). A client closed on purpose (`closed: true`) is not the broker's doing.
 */
const PLATFORMATIC_UNREACHABLE = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_TIMEOUT']);

/**
 * @platformatic/kafka's refusals: a failed login (which it reports as a failed connection caused by
 * it), an error the broker answered, a request it would not send.
 */
const PLATFORMATIC_REFUSED = new Set([
  'PLT_KFK_AUTHENTICATION',
  'PLT_KFK_PROTOCOL',
  'PLT_KFK_RESPONSE',
  'PLT_KFK_USER',
]);

interface ErrorLike {
  name?: string;
  code?: string;
  closed?: boolean;
  cause?: unknown;
  errors?: unknown[];
}

/**
 * Whether `err`, or an error it was caused by (kafkajs wraps the last one when it stops retrying), is
 * the broker being out of reach. A refusal (too large, not authorised, bad credentials) is not.
 * @platformatic/kafka gathers its attempts in an AggregateError (`… failed N times`, `Cannot connect
 * to any broker`): the last attempt is the one judged, as kafkajs judges the error it gave up on; and
 * a failed connection caused by a refused login is a refusal.
 */
export function isUnreachable(err: unknown): boolean {
  let unreachable = false;
  for (let e = err as ErrorLike | undefined; e;) {
    if (e.name !== undefined && KAFKAJS_UNREACHABLE.has(e.name)) return true;
    if (e.code !== undefined) {
      if (PLATFORMATIC_REFUSED.has(e.code)) return false;
      if (PLATFORMATIC_UNREACHABLE.has(e.code) && e.closed !== true) unreachable = true;
    }
    e = (Array.isArray(e.errors) && e.errors.length > 0 ? e.errors.at(-1) : e.cause) as
      ErrorLike | undefined;
  }
  return unreachable;
}

/** @platformatic/kafka's failures that may pass: the connection, not the request. */
const PLATFORMATIC_TRANSIENT = new Set([
  'PLT_KFK_NETWORK',
  'PLT_KFK_TIMEOUT',
  'PLT_KFK_UNEXPECTED_CORRELATION_ID',
  'PLT_KFK_UNFINISHED_WRITE_BUFFER',
]);

/**
 * @platformatic/kafka's failure that sending again cannot cure, as the reason of its refused part;
 * undefined when every part of it may pass. Every branch is judged (one send reaches several
 * brokers). May pass: the connection's failures, and the broker's answers it marks retriable (a
 * leader being elected, too few replicas in sync), as kafkajs retries them. Refused: a broker's
 * answer marked `canRetry: false` (a record too large, not authorised), a refused login, a request
 * it would not build, a client closed on purpose, and any error that is not its own.
 */
export function refusalOf(err: unknown): string | undefined {
  const e = err as (ErrorLike & { message?: string; canRetry?: boolean }) | undefined;
  if (!e || typeof e !== 'object') return String(err);
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    for (const branch of e.errors) {
      const refused = refusalOf(branch);
      if (refused !== undefined) return refused;
    }
    return undefined;
  }
  const reason = e.message || String(err);
  if (e.closed === true) return reason;
  if (e.code === 'PLT_KFK_PROTOCOL') return e.canRetry === false ? reason : undefined;
  if (e.code !== undefined && PLATFORMATIC_TRANSIENT.has(e.code)) {
    // A refused login comes as a failed connection caused by it.
    const cause = e.cause as (ErrorLike & { message?: string }) | undefined;
    return cause?.code === 'PLT_KFK_AUTHENTICATION' ? cause.message || reason : undefined;
  }
  return reason;
}
