/**
 * The producer's timings that are not settings (nobody tunes them per deployment): one place, passed
 * by the Producer to the pipeline as required options (tests may pass shorter ones).
 */

/** Longest a window waits for its batch to fill before it is sent anyway, ms. */
export const LINGER_MS = 20;

/**
 * Least time between checkpoints of a partitioned source (windowing state saved, offset committed),
 * ms: often enough that a restart re-reads little, rarely enough that Redis and Kafka barely notice.
 */
export const CHECKPOINT_INTERVAL_MS = 1000;
