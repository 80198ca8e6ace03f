import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { SeqaeConfig } from '../config/index.js';
import { SeqaeError } from '../errors/index.js';

export interface KafkaLogSink {
  (
    level: 'error' | 'warn' | 'info' | 'debug',
    message: string,
    extra: Record<string, unknown>,
  ): void;
}

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * The broker's retriable answers ("The coordinator is loading…", "The group coordinator is not
 * available", "Leader not available"…): the normal first seconds of a fresh broker or a rebalance,
 * which kafkajs retries by itself. Its Connection logs them as errors; seqae logs them at debug.
 */
const retriableAnswers: ReadonlySet<string> = new Set(
  (
    createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: { message: string; retriable: boolean }[];
    }
  ).errorCodes
    .filter((e) => e.retriable)
    .map((e) => e.message),
);

/** The level seqae logs a kafkajs entry at. */
export function kafkaLogLevel(entry: Pick<LogEntry, 'level' | 'log'>): KafkaLogLevel {
  const error = (entry.log as { error?: unknown }).error;
  if (typeof error === 'string' && retriableAnswers.has(error)) return 'debug';
  return levels[entry.level] ?? 'info';
}

type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * A kafkajs client from seqae's configuration (brokers, client id, TLS, SASL). kafkajs' own logging
 * is routed to `log` (the process logger) instead of the console; by default only warnings and errors.
 */
export function createKafka(
  config: Pick<SeqaeConfig, 'kafka'>,
  options: { clientId?: string; log?: KafkaLogSink; retries?: number } = {},
): Kafka {
  const { kafka } = config;
  const ssl: KafkaConfig['ssl'] = kafka.ssl
    ? kafka.sslCa
      ? { ca: [readFileSync(kafka.sslCa, 'utf8')] }
      : true
    : undefined;
  const sasl: KafkaConfig['sasl'] = kafka.sasl
    ? ({
        mechanism: kafka.sasl.mechanism,
        username: kafka.sasl.username,
        password: kafka.sasl.password,
      } as KafkaConfig['sasl'])
    : undefined;
  const sink = options.log;
  return new Kafka({
    clientId: options.clientId ?? kafka.clientId,
    brokers: kafka.brokers,
    ssl,
    sasl,
    retry: { retries: options.retries ?? 8 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!sink) return;
      const { message, ...extra } = entry.log;
      sink(kafkaLogLevel(entry), `kafka ${entry.namespace}: ${message}`, extra);
    },
  });
}

/** kafkajs' refusals of a login: bad credentials, or a mechanism or SASL the listener does not speak. */
const loginRefusals = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);

/**
 * The error in `err` (or what it wraps) that is the broker refusing seqae's SASL login: kafkajs'
 * authentication error or refusal, or @platformatic/kafka's AuthenticationError (which it wraps in a
 * failed connection, and that in its retrier's list of attempts).
 */
function loginRefusal(err: unknown): Error | undefined {
  type E = { name?: string; type?: string; code?: string; cause?: unknown; errors?: unknown[] };
  const pending: unknown[] = [err];
  for (let e; (e = pending.pop() as E | undefined);) {
    if (e.name === 'KafkaJSSASLAuthenticationError' || loginRefusals.has(e.type ?? ''))
      return err as Error;
    if (e.code === 'PLT_KFK_AUTHENTICATION') return e as Error;
    if (Array.isArray(e.errors)) pending.push(...e.errors);
    if (e.cause !== undefined) pending.push(e.cause);
  }
  return undefined;
}

/** Whether `err` (or what it wraps) is the broker refusing seqae's SASL login. */
export function loginRefused(err: unknown): boolean {
  return loginRefusal(err) !== undefined;
}

/**
 * Awaits a first connection and turns a refused login into one line naming Kafka, the mechanism and
 * the user, never the password: a setting to fix (code `config`, exit 2), as Redis' refusal is.
 */
export async function loginAccepted<T>(
  connecting: Promise<T>,
  config: Pick<SeqaeConfig, 'kafka'>,
): Promise<T> {
  try {
    return await connecting;
  } catch (err) {
    const refusal = loginRefusal(err);
    if (!refusal) throw err;
    const { brokers, sasl } = config.kafka;
    const who = sasl
      ? `the ${sasl.mechanism} login of user "${sasl.username}"`
      : 'a connection without SASL';
    const reason = refusal.message.split('\n')[0];
    throw new SeqaeError(
      `Kafka at ${brokers.join(',')} refused ${who} (${reason}): check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`,
      { code: 'config', cause: err },
    );
  }
}
