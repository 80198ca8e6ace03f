import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { isAlive, livePid, stopProcess } from './process.js';

/**
 * A real single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM), run from
 * the jars that src/services/kafka/pom.xml resolves from Maven Central. Its jars live in
 * `.cache/kafka/libs`, its configuration, data, log and pid file in `.services/kafka` (both ignored),
 * or in `home` for a broker of its own (a fault test's, next to the shared one).
 */
export interface LocalKafkaOptions {
  /** Repository root. */
  root: string;
  /** Address the broker listens on and advertises. Default 127.0.0.1. */
  host?: string;
  /** Broker (client) port. Default 9092. */
  port?: number;
  /** KRaft controller port. Default `port + 1`. */
  controllerPort?: number;
  /** JVM heap limit. Default 512m. */
  heap?: string;
  /** How long to wait for the broker to answer a metadata request. Default 60 s. */
  readyTimeoutMs?: number;
  /** Keep topics and offsets from the last run instead of formatting fresh storage. Default false. */
  keepData?: boolean;
  /** Directory of the broker's configuration, data, log and pid file. Default `.services/kafka`. */
  home?: string;
  /**
   * server.properties entries that replace the default line of the same key or are added (extra
   * listeners, SASL, TLS). The broker's readiness is still asked on `port` in PLAINTEXT.
   */
  properties?: Record<string, string>;
  /** Further arguments of the storage format (`--add-scram …`, users that exist from the start). */
  formatArgs?: string[];
  log?: (line: string) => void;
}

/** The server and storage-format main classes of Kafka 4.x (both in kafka_2.13's jar). */
export const KAFKA_MAIN = 'kafka.Kafka';
export const KAFKA_STORAGE_TOOL = 'kafka.tools.StorageTool';

export function kafkaPaths(root: string, home = join(root, '.services', 'kafka')) {
  return {
    pom: join(root, 'src', 'services', 'kafka', 'pom.xml'),
    libs: join(root, '.cache', 'kafka', 'libs'),
    stamp: join(root, '.cache', 'kafka', 'libs', '.pom.sha256'),
    home,
    config: join(home, 'server.properties'),
    log4j: join(home, 'log4j2.properties'),
    data: join(home, 'data'),
    pid: join(home, 'kafka.pid'),
    /** The JVM's own stdout/stderr (crashes before logging starts). */
    out: join(home, 'kafka.out'),
    /** The broker's log (log4j2). */
    log: join(home, 'server.log'),
  };
}

/** server.properties for one combined broker + controller that needs no other node. */
export function serverProperties(o: {
  host: string;
  port: number;
  controllerPort: number;
  dataDir: string;
}): string {
  return `# Written by src/services/kafka.ts; rewritten at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${o.host}:${o.controllerPort}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://${o.host}:${o.port},CONTROLLER://${o.host}:${o.controllerPort}
advertised.listeners=PLAINTEXT://${o.host}:${o.port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${o.dataDir}
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Consumer groups in tests form at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.retention.hours=24
`;
}

/** `text` with each of `properties` replacing the line of its key, or added at the end. */
export function withProperties(text: string, properties: Record<string, string> = {}): string {
  const left = new Map(Object.entries(properties));
  const lines = text.split('\n').map((line) => {
    const key = line.slice(0, line.indexOf('='));
    if (line.startsWith('#') || !left.has(key)) return line;
    const value = left.get(key)!;
    left.delete(key);
    return `${key}=${value}`;
  });
  const added = [...left].map(([k, v]) => `${k}=${v}\n`).join('');
  return lines.join('\n') + added;
}

export function log4jProperties(logFile: string): string {
  return `# Written by src/services/kafka.ts: the broker logs to ${logFile} only.
status = error
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${logFile}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;
}

/** A KRaft cluster id: 16 random bytes, base64url, never starting with '-' (as Kafka's Uuid does). */
export function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function has(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** True where a `java` that runs is on PATH. */
export const hasJava = () => has('java', ['-version']);
export const hasMaven = () => has('mvn', ['-v']);

/** True when the broker's jars are already resolved for the current pom (no Maven needed). */
export function kafkaJarsReady(root: string): boolean {
  const p = kafkaPaths(root);
  return existsSync(p.stamp) && readFileSync(p.stamp, 'utf8') === pomHash(p.pom);
}

function pomHash(pom: string): string {
  return createHash('sha256').update(readFileSync(pom)).digest('hex');
}

/**
 * Copies the broker's jars into `.cache/kafka/libs` with Maven, unless they are already there for
 * this pom. The first run downloads from Maven Central into ~/.m2; later runs need no network.
 */
export function resolveKafkaJars(root: string, log: (line: string) => void = () => {}): string {
  const p = kafkaPaths(root);
  if (kafkaJarsReady(root)) return p.libs;
  if (!hasMaven())
    throw new Error(
      'Kafka jars are not resolved yet and Maven (`mvn`) is not installed: install it (Debian: apt-get install -y maven) or set KAFKA_BROKERS to a running broker',
    );
  log(`resolving Kafka jars with Maven into ${p.libs}`);
  rmSync(p.libs, { recursive: true, force: true });
  const mvn = spawnSync('mvn', ['-q', '-B', '-f', p.pom, 'dependency:copy-dependencies'], {
    encoding: 'utf8',
  });
  if (mvn.status !== 0)
    throw new Error(`mvn dependency:copy-dependencies failed:\n${mvn.stdout}${mvn.stderr}`);
  writeFileSync(p.stamp, pomHash(p.pom));
  return p.libs;
}

/**
 * Asks `brokers` for cluster metadata; resolves to the broker count, or undefined when no broker
 * answers within `timeoutMs`.
 */
export async function kafkaAnswers(
  brokers: string[],
  timeoutMs = 3_000,
): Promise<number | undefined> {
  const admin = new Kafka({
    clientId: 'seqae-services',
    brokers,
    connectionTimeout: Math.min(timeoutMs, 3_000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length;
  } catch {
    return undefined;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** The pid of the broker these scripts started (in `home`, default `.services/kafka`), while it runs. */
export function kafkaPid(root: string, home?: string): number | undefined {
  return livePid(kafkaPaths(root, home).pid, KAFKA_MAIN);
}

function javaArgs(libs: string, log4j: string, heap: string): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms128m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    // Log through the broker's own shutdown instead of stopping with log4j's shutdown hook.
    '-Dlog4j2.shutdownHookEnabled=false',
    `-Dlog4j2.configurationFile=${log4j}`,
    '-cp',
    join(libs, '*'),
  ];
}

/**
 * Formats storage, starts the broker in the background (detached, log in a file, pid in a file) and
 * waits until it answers a metadata request. Throws with the end of its log when it does not.
 */
export async function startKafka(
  options: LocalKafkaOptions,
): Promise<{ pid: number; brokers: string[] }> {
  const log = options.log ?? (() => {});
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 9092;
  const controllerPort = options.controllerPort ?? port + 1;
  const heap = options.heap ?? '512m';
  const p = kafkaPaths(options.root, options.home);
  const brokers = [`${host}:${port}`];

  if (!hasJava())
    throw new Error(
      'Java is not installed: Kafka needs a JRE 17+ (Debian: apt-get install -y openjdk-17-jre-headless)',
    );
  const libs = resolveKafkaJars(options.root, log);

  mkdirSync(p.home, { recursive: true });
  if (!options.keepData) rmSync(p.data, { recursive: true, force: true });
  writeFileSync(
    p.config,
    withProperties(
      serverProperties({ host, port, controllerPort, dataDir: p.data }),
      options.properties,
    ),
  );
  writeFileSync(p.log4j, log4jProperties(p.log));
  writeFileSync(p.log, ''); // one start's log per file; log4j appends (it reopens the file on reconfiguration)

  // Storage formatted before keeps its cluster id: formatting it again with a new one fails.
  const formatted = options.keepData && existsSync(join(p.data, 'meta.properties'));
  const java = javaArgs(libs, p.log4j, '256m');
  const format = formatted
    ? undefined
    : spawnSync(
        'java',
        [
          ...java,
          KAFKA_STORAGE_TOOL,
          'format',
          '--ignore-formatted',
          '-t',
          clusterId(),
          '-c',
          p.config,
          ...(options.formatArgs ?? []),
        ],
        { encoding: 'utf8' },
      );
  if (format && format.status !== 0)
    throw new Error(`formatting Kafka storage failed:\n${format.stdout}${format.stderr}`);

  log(`starting Kafka on ${brokers[0]} (controller ${host}:${controllerPort}), log ${p.log}`);
  const out = openSync(p.out, 'w');
  const child = spawn('java', [...javaArgs(libs, p.log4j, heap), KAFKA_MAIN, p.config], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn java');
  child.unref();
  writeFileSync(p.pid, `${pid}\n`);

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      rmSync(p.pid, { force: true });
      throw new Error(
        `Kafka exited during start-up; end of its log:\n${tail(p.log)}${tail(p.out)}`,
      );
    }
    if ((await kafkaAnswers(brokers, 2_000)) !== undefined) return { pid, brokers };
    await sleep(250);
  }
  await stopKafka(options.root, options.home);
  throw new Error(`Kafka did not answer on ${brokers[0]} in time; end of its log:\n${tail(p.log)}`);
}

/** Stops the broker these scripts started in `home` (SIGTERM, then SIGKILL after 30 s). */
export async function stopKafka(
  root: string,
  home?: string,
): Promise<'stopped' | 'killed' | 'not running'> {
  const p = kafkaPaths(root, home);
  const pid = kafkaPid(root, home);
  const result = pid === undefined ? 'not running' : await stopProcess(pid, 30_000);
  rmSync(p.pid, { force: true });
  return result;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
