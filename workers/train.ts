/**
 * A train-only worker: `tsx workers/train.ts [seqae worker options]`, the same as
 * `seqae worker --roles train …`. Scale it on its own (containers, replicas) when training dominates.
 */
import { runWorker } from '../src/cli/worker.js';

await runWorker(['--roles', 'train', ...process.argv.slice(2)]);
