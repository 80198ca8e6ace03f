import { servicesDown, servicesStatus, servicesUp } from './index.js';

export type ServicesCommand = 'up' | 'down' | 'status';

/**
 * `up`, `down` or `status` with its output, for `npm run services:*` and `seqae services`; resolves
 * with the exit code (status: 1 when something is down). Progress goes to `log`, status to stdout.
 *
 *   up      reuse what answers at REDIS_URL / KAFKA_BROKERS, start local servers for the rest
 *   down    stop what these scripts started (never a Redis or Kafka they did not start)
 *   status  what answers, and which pids these scripts manage
 */
export async function runServicesCommand(
  command: ServicesCommand,
  log: (line: string) => void,
): Promise<number> {
  switch (command) {
    case 'up': {
      const t0 = Date.now();
      const up = await servicesUp({ log });
      log(
        `ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: REDIS_URL=${up.redisUrl} KAFKA_BROKERS=${up.kafkaBrokers.join(',')}`,
      );
      return 0;
    }
    case 'down':
      await servicesDown({ log });
      return 0;
    case 'status': {
      const st = await servicesStatus();
      const managed = (pid?: number) => (pid ? `, started by these scripts (pid ${pid})` : '');
      console.log(
        `redis  ${st.redis.url}  ${st.redis.answering ? 'up' : 'DOWN'}${managed(st.redis.pid)}`,
      );
      console.log(
        `kafka  ${st.kafka.brokers.join(',')}  ${st.kafka.answering ? 'up' : 'DOWN'}${managed(st.kafka.pid)}${st.kafka.pid ? `, log ${st.kafka.log}` : ''}`,
      );
      if (st.leases.length > 0) console.log(`leases ${st.leases.join(' ')}`);
      return st.redis.answering && st.kafka.answering ? 0 : 1;
    }
  }
}
