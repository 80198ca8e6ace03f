/**
 * Synthetic fleet producer for demos: `tsx producers/synthetic.ts [spec] [seqae produce options]`.
 * Spec as in src/producer/sources/synthetic.ts; the default is an endless mixed fleet of four streams
 * with anomalies, replayed in real time unless --speed says otherwise.
 */
import { runProduce } from '../src/cli/produce.js';

const DEFAULT_SPEC = 'mix?streams=4&length=0&anomalies=2&noise=0.05&seed=1';
const args = process.argv.slice(2);
const spec = args[0] && !args[0].startsWith('-') ? args.shift()! : DEFAULT_SPEC;
if (!args.includes('--speed')) args.push('--speed', 'realtime');
await runProduce(['--source', `synthetic:${spec}`, ...args]);
