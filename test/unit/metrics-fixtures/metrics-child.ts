// A pool child (worker thread or forked process) that records worker metrics and serves them to its
// parent. Commands arrive on the same channel as the metrics protocol, as in a real training pool.
import { parentPort } from 'node:worker_threads';
import {
  createRegistry,
  createWorkerMetrics,
  isMetricsMessage,
  pushMetrics,
  serveMetrics,
  type MessageEndpoint,
} from '../../../src/metrics/index.js';

const endpoint: MessageEndpoint = parentPort ?? (process as unknown as MessageEndpoint);
const send = (message: unknown) =>
  endpoint.postMessage ? endpoint.postMessage(message) : endpoint.send?.(message);

const registry = createRegistry({ role: 'pool', defaultMetrics: false, buildInfo: false });
const metrics = createWorkerMetrics(registry);
const stop = serveMetrics(endpoint, registry);

endpoint.on('message', (message: unknown) => {
  if (isMetricsMessage(message)) return;
  const command = message as { cmd: string; n?: number; ms?: number };
  if (command.cmd === 'epochs') {
    metrics.trainingEpochs.inc(command.n ?? 1);
    metrics.trainingDuration.observe(command.n ?? 1);
    metrics.modelsLoaded.set(command.n ?? 1);
    send({ done: 'epochs' });
  } else if (command.cmd === 'block') {
    // A synchronous training step: the event loop cannot answer metrics requests meanwhile.
    void pushMetrics(endpoint, registry).then(() => {
      send({ done: 'blocking' });
      const until = Date.now() + (command.ms ?? 1000);
      while (Date.now() < until) metrics.trainingEpochs.inc();
      send({ done: 'block' });
    });
  } else if (command.cmd === 'exit') {
    stop();
    process.exit(0);
  }
});
send({ ready: true });
