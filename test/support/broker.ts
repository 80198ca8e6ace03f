/**
 * A Kafka broker of a test's own, for the faults that must never touch the shared one: stopped and
 * restarted (its data kept), frozen (SIGSTOP) and thawed, or started with listeners of its own (SASL,
 * TLS). It runs from the project's scripts (src/services/kafka.ts) in a temp directory on free
 * ports; `close()` stops it by its pid and removes the directory, also after a failed test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaPid, startKafka, stopKafka } from '../../src/services/kafka.js';
import { repoRoot } from '../../src/services/index.js';
import { freePort } from './processes.js';

export interface OwnBrokerOptions {
  /** server.properties entries over the defaults (see LocalKafkaOptions.properties). */
  properties?: (ports: { port: number; controllerPort: number }) => Record<string, string>;
  /** Further storage-format arguments (SCRAM users). */
  formatArgs?: (home: string) => string[];
  /** JVM heap; default 384m (a second broker on a small machine). */
  heap?: string;
}

export interface OwnBroker {
  /** Its PLAINTEXT listener, as KAFKA_BROKERS. */
  readonly brokers: string[];
  readonly home: string;
  pid(): number | undefined;
  /** Stops it (SIGTERM, a controlled shutdown); topics and offsets stay. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the data it had. */
  restart(): Promise<void>;
  /** SIGSTOP: it holds its connections open and answers nothing. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Stops it (thawed first) and removes its directory. */
  close(): Promise<void>;
}

export async function startOwnBroker(options: OwnBrokerOptions = {}): Promise<OwnBroker> {
  const home = mkdtempSync(join(tmpdir(), 'seqae-broker-'));
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  const kafka = {
    root: repoRoot,
    home,
    port,
    controllerPort,
    heap: options.heap ?? '384m',
    properties: options.properties?.({ port, controllerPort }),
    formatArgs: options.formatArgs?.(home),
  };
  const signal = (name: NodeJS.Signals) => {
    const pid = kafkaPid(repoRoot, home);
    if (pid === undefined) throw new Error('the broker of this test is not running');
    process.kill(pid, name);
  };
  try {
    await startKafka(kafka);
  } catch (err) {
    await stopKafka(repoRoot, home);
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers: [`127.0.0.1:${port}`],
    home,
    pid: () => kafkaPid(repoRoot, home),
    stop: async () => void (await stopKafka(repoRoot, home)),
    restart: async () => void (await startKafka({ ...kafka, keepData: true })),
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    close: async () => {
      const pid = kafkaPid(repoRoot, home);
      if (pid !== undefined) process.kill(pid, 'SIGCONT');
      await stopKafka(repoRoot, home);
      rmSync(home, { recursive: true, force: true });
    },
  };
}
