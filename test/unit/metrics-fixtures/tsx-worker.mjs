// Runs a TypeScript module in a worker thread under tsx (tests run from sources, not dist/).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
