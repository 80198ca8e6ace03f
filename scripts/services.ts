/**
 * `npm run services:up | services:down | services:status` (also `seqae services …`) — real Redis and
 * a single-node Kafka (KRaft) for development and CI without Docker. See src/services/index.ts
 * and src/services/command.ts.
 */
import { runServicesCommand, type ServicesCommand } from '../src/services/command.js';

const log = (line: string) => console.error(`services: ${line}`);
const command = process.argv[2];

if (command !== 'up' && command !== 'down' && command !== 'status') {
  console.error('usage: tsx scripts/services.ts up|down|status');
  process.exit(2);
}
runServicesCommand(command as ServicesCommand, log).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
