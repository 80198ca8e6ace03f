/**
 * A worker with every role (train, stream, infer) in one process, its training in a pool of child
 * processes (`--train-pool N`): `tsx workers/pool.ts [seqae worker options]`, the same as
 * `seqae worker`. Several such processes share the work through the consumer group and the queues.
 */
import { runWorker } from '../src/cli/worker.js';

await runWorker(process.argv.slice(2));
