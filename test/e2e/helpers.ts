import { spawn, type ChildProcess } from 'node:child_process';
import type { Consumer, KafkaMessage } from 'kafkajs';
import type { SeqaeConfig } from '../../src/config/index.js';
import { createKafka } from '../../src/transport/kafka.js';
import { encodeWindow, windowId, type Window } from '../../src/windows/contract.js';

/** Output messages of a run, by topic name, collected by a plain kafkajs consumer. */
export interface Collected {
  messages: Map<string, { headers: Record<string, string>; value: Record<string, unknown> }[]>;
  /** Distinct window ids seen per topic name. */
  ids(name: string): Set<string>;
  stop(): Promise<void>;
}

const names = ['reconstructions', 'predictions', 'embeddings', 'anomalies', 'dlq'] as const;

function headers(m: KafkaMessage): Record<string, string> {
  return Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
}

/** Subscribes to every output topic of `config` from the beginning. */
export async function collectOutputs(config: SeqaeConfig, group: string): Promise<Collected> {
  const consumer: Consumer = createKafka(config, { clientId: `${group}-collector` }).consumer({
    groupId: `${group}-collector`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  const byTopic = new Map(names.map((n) => [config.topics[n], n]));
  await consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true });
  const messages = new Map<
    string,
    { headers: Record<string, string>; value: Record<string, unknown> }[]
  >(names.map((n) => [n, []]));
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      messages.get(byTopic.get(topic)!)!.push({
        headers: headers(message),
        value: JSON.parse(message.value!.toString('utf8')) as Record<string, unknown>,
      });
    },
  });
  return {
    messages,
    ids: (name) => new Set(messages.get(name)!.map((m) => m.headers['seqae-id']!)),
    stop: () => consumer.disconnect(),
  };
}

/** Sends windows to the windows topic, keyed by stream, as a producer does. */
export async function sendWindows(config: SeqaeConfig, windows: readonly Window[]): Promise<void> {
  const producer = createKafka(config, { clientId: 'e2e-window-sender' }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    for (let i = 0; i < windows.length; i += 500) {
      await producer.send({
        topic: config.topics.windows,
        acks: -1,
        messages: windows.slice(i, i + 500).map((w) => ({
          key: w.streamId,
          value: encodeWindow(w),
          headers: { 'seqae-id': windowId(w) },
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Windows of a clean sine (period 24 steps) for `streamId`, stride 1. */
export function sineWindows(streamId: string, count: number, nIn: number, from = 0): Window[] {
  const value = (t: number) => 10 + 5 * Math.sin((2 * Math.PI * t) / 24);
  return Array.from({ length: count }, (_, i) => {
    const seq = from + i + nIn - 1;
    return {
      v: 1 as const,
      streamId,
      seq,
      end: 1_700_000_000_000 + seq * 60_000,
      step: 60_000,
      values: Array.from({ length: nIn }, (_, k) => [value(seq - nIn + 1 + k)]),
    };
  });
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes (then throws `what`). */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 120_000,
  everyMs = 200,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A `seqae worker` child process (the CLI, from source), its log kept for failure messages. */
export interface WorkerChild {
  proc: ChildProcess;
  log: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

export function spawnWorker(env: Record<string, string>, name: string): WorkerChild {
  const root = new URL('../../', import.meta.url).pathname;
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker'], {
    cwd: root,
    env: { ...process.env, ...env, SEQAE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n'))
      if (line.trim()) log.push(`[${name}] ${line}`);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) =>
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { proc, log, exited };
}
