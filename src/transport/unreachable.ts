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
