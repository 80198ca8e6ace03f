import { withTimeout } from '../util/timeout.js';

/** Where a close that failed or timed out is reported: a close never throws. */
export type CloseFailure = (name: string, err: unknown) => void;

interface Entry {
  name: string;
  close: () => unknown;
}

/**
 * What a process has opened, closed in reverse order: on a normal stop, and also when starting fails
 * half way (a start that throws after opening Redis, Kafka or training children must not leave them
 * open). Each close is bounded by `closeTimeoutMs` (default 10 s; Infinity: unbounded), and its
 * failure is reported, never thrown, so it never masks the error that made the process stop.
 */
export class ResourceScope {
  private readonly entries: Entry[] = [];
  private closing?: Promise<void>;

  constructor(
    private readonly options: { closeTimeoutMs?: number; onCloseFailure?: CloseFailure } = {},
  ) {}

  /** Registers what closes a resource already open; returns the resource. */
  add<T>(name: string, resource: T, close: (r: T) => unknown): T {
    if (this.closing) throw new Error(`${name}: the scope is closed`);
    this.entries.push({ name, close: () => close(resource) });
    return resource;
  }

  /** Opens a resource (`open` may be async) and registers its close once it is open. */
  async open<T>(name: string, open: () => T | Promise<T>, close: (r: T) => unknown): Promise<T> {
    return this.add(name, await open(), close);
  }

  /**
   * Runs `start` in this scope; if it throws, closes what was opened so far, then rethrows its
   * error.
   */
  async run<T>(start: (scope: this) => Promise<T>): Promise<T> {
    try {
      return await start(this);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Closes everything, last opened first, one at a time. Idempotent; never rejects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const ms = this.options.closeTimeoutMs ?? 10_000;
      for (const { name, close } of this.entries.splice(0).reverse()) {
        try {
          const closing = Promise.resolve().then(close);
          await (Number.isFinite(ms) ? withTimeout(closing, ms, `closing ${name}`) : closing);
        } catch (err) {
          this.options.onCloseFailure?.(name, err);
        }
      }
    })();
    return this.closing;
  }
}
