/**
 * A stream-only worker: `tsx workers/stream.ts [seqae worker options]`, the same as
 * `seqae worker --roles stream …`. Scale it on its own (containers, replicas) when Kafka scoring dominates.
 */
import { runWorker } from '../src/cli/worker.js';

await runWorker(['--roles', 'stream', ...process.argv.slice(2)]);
