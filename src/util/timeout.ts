/**
 * `promise`, or what `onTimeout` gives when `ms` pass first: its value, or what it throws as the
 * rejection. The timer is cleared once either settles. `unref` lets the process exit while it runs,
 * for waits that must not hold an exit; without it, the timer is what ends a wait that nothing else
 * keeps alive (a shutdown deadline).
 */
export function raceTimeout<T, U>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => U,
  options: { unref?: boolean } = {},
): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<U>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
    if (options.unref) timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `promise`, or a rejection naming `what` after `ms`. The timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return raceTimeout(
    promise,
    ms,
    () => {
      throw new Error(`${what}: no answer within ${ms} ms`);
    },
    { unref: true },
  );
}
