/**
 * seqae's error hierarchy. `code` is stable and safe to use as a metric label or DLQ reason. Whether
 * trying again can succeed is decided where the error is handled (BullMQ's UnrecoverableError, the
 * Kafka output's unreachable check), not by a flag here.
 */
export class SeqaeError extends Error {
  readonly code: string;

  constructor(message: string, options: { code: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
  }
}

/** A setting is missing or malformed; names the variable. */
export class ConfigError extends SeqaeError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`, { code: 'config' });
    this.variable = variable;
  }
}

/** Input that fails its contract (a window, a reading, a row). Goes to the DLQ with `code` as reason. */
export class ValidationError extends SeqaeError {
  constructor(message: string, code = 'invalid', cause?: unknown) {
    super(message, { code, cause });
  }
}

/** A model artifact that cannot be loaded as a whole (truncated, corrupt, wrong format version). */
export class ArtifactError extends SeqaeError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'artifact', cause });
  }
}

/** A service (Redis, Kafka) is unreachable or answered with a transient failure. */
export class ServiceError extends SeqaeError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'service', cause });
  }
}

/**
 * A service refused a request (a record too large, not authorised): sending it again cannot succeed.
 * `retriable: false` is read by kafkajs' consumer, so a batch whose outputs are refused is not retried
 * for ever but ends the consumer's run, as kafkajs' own refusals do (src/worker/stream-worker.ts).
 */
export class RefusedError extends SeqaeError {
  readonly retriable = false;
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'refused', cause });
  }
}

/** Work was cancelled on purpose (shutdown, a cancelled training job). */
export class CancelledError extends SeqaeError {
  constructor(message = 'cancelled') {
    super(message, { code: 'cancelled' });
  }
}
