/**
 * seqae's error hierarchy. `retriable` tells callers (BullMQ retries, consumers) whether trying the
 * same thing again can succeed; `code` is stable and safe to use as a metric label or DLQ reason.
 */
export class SeqaeError extends Error {
  readonly retriable: boolean;
  readonly code: string;

  constructor(message: string, options: { code: string; retriable?: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retriable = options.retriable ?? false;
  }
}

/** A setting is missing or malformed; names the variable. Never retriable. */
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
    super(message, { code: 'service', retriable: true, cause });
  }
}

/** Work was cancelled on purpose (shutdown, a cancelled training job). */
export class CancelledError extends SeqaeError {
  constructor(message = 'cancelled') {
    super(message, { code: 'cancelled' });
  }
}
