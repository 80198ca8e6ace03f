/**
 * NDJSON producer: readings, one JSON object a line, on stdin (or a file given first):
 * `… | tsx producers/ndjson.ts [--stream ID] [seqae produce options]`.
 */
import { runProduce } from '../src/cli/produce.js';

const args = process.argv.slice(2);
const file = args[0] && !args[0].startsWith('-') ? args.shift()! : '-';
await runProduce(['--source', `ndjson:${file}`, ...args]);
