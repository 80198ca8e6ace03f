/**
 * Stream processor: windows the readings that sensor services publish on the readings topic
 * (`seqae.readings`, or the topic given first), as consumer group SEQAE_PRODUCER_GROUP; scale out by
 * starting more (partitions are shared). `tsx producers/readings-topic.ts [topic] [options]`.
 */
import { runProduce } from '../src/cli/produce.js';

const args = process.argv.slice(2);
const topic = args[0] && !args[0].startsWith('-') ? args.shift()! : '';
await runProduce(['--source', topic ? `kafka:${topic}` : 'kafka', ...args]);
