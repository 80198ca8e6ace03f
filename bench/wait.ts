import { Fatal, waitFor } from '../test/support/wait.js';

/**
 * Polls `probe` every 50 ms until it is true; throws naming `what` after `timeoutMs`, or at once when
 * `fail` names a reason (a process it waits on died). test/support/wait.ts's waitFor underneath.
 */
export async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  fail?: () => string | undefined,
): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (
        await Promise.resolve()
          .then(probe)
          .catch(() => false)
      )
        return true;
      const why = fail?.();
      if (why) throw new Fatal(`${what}: ${why}`);
      return false;
    },
    timeoutMs,
    50,
  );
}
