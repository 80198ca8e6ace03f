import { pino, type Logger } from 'pino';
import { redact } from './redact.js';

export type { Logger };
export { redact, secretsOf } from './redact.js';

/**
 * The process logger: structured JSON lines on stderr (stdout stays free for a command's own output,
 * such as the producer's summary line). One per process, created at the edge and passed down. Every
 * line is written with URL passwords and `secrets` (secretsOf(config)) replaced by `***`, whatever
 * object or error message carried them.
 */
export function createLogger(
  level: string,
  name: string,
  bindings: Record<string, unknown> = {},
  secrets: readonly string[] = [],
): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid, ...bindings },
      hooks: { streamWrite: (line) => redact(line, secrets) },
    },
    pino.destination(2),
  );
}
