import type { Command } from 'commander';
import { runServicesCommand, type ServicesCommand } from '../services/command.js';

const what: Record<ServicesCommand, string> = {
  up: 'reuse the Redis and Kafka that answer at REDIS_URL / KAFKA_BROKERS, start local ones for the rest (Kafka from its jars, fetched once into .cache/kafka)',
  down: 'stop what `seqae services up` (or npm run services:up) started, never a server it did not start',
  status:
    'whether Redis and Kafka answer, and which of them these scripts started; exit 1 when one is down',
};

/** `seqae services up|down|status`: the same as `npm run services:*` (src/services). */
export function registerServices(program: Command): void {
  const services = program
    .command('services')
    .description('local Redis and Kafka for development, without Docker (as npm run services:*)');
  for (const name of ['up', 'down', 'status'] as const)
    services
      .command(name)
      .description(what[name])
      .action(async () => {
        const code = await runServicesCommand(name, (line) =>
          console.error(`seqae services: ${line}`),
        );
        if (code !== 0) process.exitCode = code;
      });
}
