/**
 * `npm run demo`: one worker and a synthetic fleet producer against the services of
 * `npm run services:up`, until Ctrl-C. Four streams (sine, sawtooth, random walk, noise) with
 * injected anomalies are replayed at 20 readings a second; each stream's model trains after 200
 * windows, then every window's reconstruction, prediction, embedding and anomaly score go to the
 * output topics. Metrics: http://127.0.0.1:9464/metrics (worker), :9465 (producer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const seqae = (args: string[], env: Record<string, string>): ChildProcess =>
  // Own process groups: a terminal's Ctrl-C reaches the demo alone, which stops each child once.
  spawn(process.execPath, ['bin/seqae.js', ...args], {
    detached: true,
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });

const worker = seqae(['worker'], {
  SEQAE_WARMUP_WINDOWS: process.env.SEQAE_WARMUP_WINDOWS ?? '200',
  SEQAE_EPOCHS: process.env.SEQAE_EPOCHS ?? '20',
  SEQAE_UNITS: process.env.SEQAE_UNITS ?? '32',
  SEQAE_LEARNING_RATE: process.env.SEQAE_LEARNING_RATE ?? '0.005',
  SEQAE_HTTP_PORT: '9464',
});
const producer = seqae(
  [
    'produce',
    '--source',
    'synthetic:mix?streams=4&length=0&anomalies=2&noise=0.05&step=1000&seed=1',
    '--window',
    '32',
    '--speed',
    '20',
    '--to',
    'kafka',
  ],
  { SEQAE_HTTP_PORT: '9465' },
);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  producer.kill('SIGTERM');
  worker.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const child of [worker, producer]) {
  child.on('exit', (code) => {
    if (!stopping) {
      console.error(`demo: a process exited (code ${code}); stopping the other`);
      stop();
    }
  });
}
await Promise.all([worker, producer].map((c) => new Promise((r) => c.on('exit', r))));
