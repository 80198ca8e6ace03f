import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: structured JSON lines on stderr (stdout stays free for a command's own output,
 * such as the producer's summary line). One per process, created at the edge and passed down.
 */
export function createLogger(
  level: string,
  name: string,
  bindings: Record<string, unknown> = {},
): Logger {
  return pino({ name, level, base: { pid: process.pid, ...bindings } }, pino.destination(2));
}
