import type { SeqaeConfig } from '../config/index.js';

/** The password of a URL with credentials (`redis://:pw@host`, `redis://user:pw@host`). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi;

/**
 * `text` with the password of every URL in it, and every one of `secrets` (also as JSON escapes it),
 * replaced by `***`: for log lines and error messages, which must never show a credential.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text.replace(URL_PASSWORD, '$1***@');
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)]))
      out = out.split(form).join('***');
  }
  return out;
}

/** The credentials of a configuration: Redis' password (given alone or in its URL), Kafka's. */
export function secretsOf(config: Pick<SeqaeConfig, 'redis' | 'kafka'>): string[] {
  const secrets = [config.redis.password, config.kafka.sasl?.password];
  try {
    const { password } = new URL(config.redis.url);
    secrets.push(password, decodeURIComponent(password));
  } catch {
    // not a URL that parses: its password, if any, is caught by URL_PASSWORD
  }
  return secrets.filter((s): s is string => !!s);
}
