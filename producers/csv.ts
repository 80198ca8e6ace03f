/**
 * CSV producer: `tsx producers/csv.ts <file.csv> [seqae produce options]`, the same as
 * `seqae produce --source csv:<file.csv> …` (NAB shape by default; --columns for others).
 */
import { runProduce } from '../src/cli/produce.js';

const [file, ...rest] = process.argv.slice(2);
if (!file || file.startsWith('-')) {
  console.error('usage: producers/csv.ts <file.csv> [seqae produce options]');
  process.exit(2);
}
await runProduce(['--source', `csv:${file}`, ...rest]);
