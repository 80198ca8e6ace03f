/**
 * An infer-only worker: `tsx workers/infer.ts [seqae worker options]`, the same as
 * `seqae worker --roles infer …`. Scale it on its own (containers, replicas) when BullMQ scoring dominates.
 */
import { runWorker } from '../src/cli/worker.js';

await runWorker(['--roles', 'infer', ...process.argv.slice(2)]);
