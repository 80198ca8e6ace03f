/** Thrown by a probe to stop waiting at once (a process it waits on has died, say). */
export class Fatal extends Error {}

/**
 * Polls `probe` every `everyMs` until it gives something other than undefined or false, and returns
 * that; throws after `timeoutMs`. A probe that throws counts as "not yet" (a server still starting
 * refuses connections) and its last error goes into the timeout's message; `Fatal` stops at once.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 120_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last === undefined ? '' : ` (last: ${String(last)})`}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
