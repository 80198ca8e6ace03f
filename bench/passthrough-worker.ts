/**
 * The transport ceiling's pass-through as a process of its own, started by the bench where
 * `seqae.kafka` starts a stream worker (`FleetUnderTest.start({ script })`): configured from the same
 * environment, it answers `/readyz` (and an empty `/metrics`) on SEQAE_HTTP_PORT once its consumer
 * runs, and stops on SIGTERM or SIGINT. SEQAE_BENCH_UNITS: the model's units the records are sized
 * for (default 100).
 */
import { createServer } from 'node:http';
import { loadConfig } from '../src/config/index.js';
import { startPassThrough } from './transport-ceiling.js';

const config = loadConfig({}, process.env);
const units = Number(process.env.SEQAE_BENCH_UNITS ?? 100);
const port = Number(process.env.SEQAE_HTTP_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('passthrough-worker: SEQAE_HTTP_PORT must name a port');
  process.exit(2);
}

let pass: Awaited<ReturnType<typeof startPassThrough>> | undefined;
const server = createServer((req, res) => {
  if (req.url === '/readyz') res.writeHead(pass ? 200 : 503).end(pass ? 'ok' : 'starting');
  else if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain' }).end('');
  else res.writeHead(404).end();
});
server.listen(port, '127.0.0.1');

let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  server.close();
  await pass?.stop();
  process.exit(code);
}
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

try {
  pass = await startPassThrough(config, units);
} catch (err) {
  console.error(`passthrough-worker: cannot start: ${(err as Error).message}`);
  await stop(1);
}
