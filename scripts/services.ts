/**
 * `npm run services:up | services:down | services:status` — real Redis and a single-node Kafka
 * (KRaft) for development and CI without Docker. See scripts/services/index.ts.
 *
 *   up      reuse what answers at REDIS_URL / KAFKA_BROKERS, start local servers for the rest
 *   down    stop what these scripts started (never a Redis or Kafka they did not start)
 *   status  what answers, and which pids these scripts manage; exits 1 when something is down
 */
import { servicesDown, servicesStatus, servicesUp } from './services/index.js';

const log = (line: string) => console.error(`services: ${line}`);

async function main(command: string | undefined): Promise<number> {
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
    default:
      console.error('usage: tsx scripts/services.ts up|down|status');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
