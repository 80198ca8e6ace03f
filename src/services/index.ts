import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/index.js';
import { kafkaAnswers, kafkaPaths, kafkaPid, startKafka, stopKafka } from './kafka.js';
import { isAlive, withLock } from './process.js';
import { isLocalHost, redisAnswers, redisPaths, redisPid, startRedis, stopRedis } from './redis.js';

/**
 * Real Redis and Kafka for development, tests and CI, without Docker. `servicesUp` reuses what
 * already answers at REDIS_URL / KAFKA_BROKERS and starts local servers for what does not (only on
 * this machine's addresses). Servers these scripts started are shared by leases: `npm run
 * services:up` holds one until `services:down`; a test run holds one for its duration and, when it
 * releases the last lease, stops what the scripts started. So concurrent test runs never stop a
 * broker under each other, and a run never stops servers it did not start.
 */
export interface ServicesOptions {
  /** Repository root. Default: the one holding this file. */
  root?: string;
  /** Where REDIS_URL and KAFKA_BROKERS (and the SEQAE_KAFKA_* script settings) are read. */
  env?: Record<string, string | undefined>;
  /** Lease holder: 'cli' holds until `services:down`; any other owner is tied to this process. */
  owner?: string;
  log?: (line: string) => void;
}

export interface ServicesUp {
  redisUrl: string;
  kafkaBrokers: string[];
  /** Which servers this call started (false: something already answered). */
  started: { redis: boolean; kafka: boolean };
}

export interface ServicesStatus {
  redis: { url: string; answering: boolean; pid?: number };
  kafka: { brokers: string[]; answering: boolean; pid?: number; log: string };
  leases: string[];
}

type Service = 'redis' | 'kafka';

/** The directory of seqae's package.json, walking up from this module (src/services or dist/src/services). */
function findRoot(): string {
  const start = fileURLToPath(new URL('../..', import.meta.url));
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'seqae') return dir;
    } catch {
      // not here; keep walking up
    }
  }
  return start;
}

export const repoRoot = findRoot();

function settings(options: ServicesOptions) {
  const env = options.env ?? process.env;
  const config = loadConfig(env);
  const [kafkaHost = '127.0.0.1', kafkaPort = '9092'] = config.kafka.brokers[0]!.split(':');
  const redis = new URL(config.redis.url);
  return {
    root: options.root ?? repoRoot,
    log: options.log ?? (() => {}),
    owner: options.owner ?? 'cli',
    redisUrl: config.redis.url,
    redisHost: redis.hostname,
    redisPort: Number(redis.port || 6379),
    brokers: config.kafka.brokers,
    kafkaHost,
    kafkaPort: Number(kafkaPort),
    controllerPort: env.SEQAE_KAFKA_CONTROLLER_PORT
      ? Number(env.SEQAE_KAFKA_CONTROLLER_PORT)
      : undefined,
    heap: env.SEQAE_KAFKA_HEAP || undefined,
    keepData: ['1', 'true', 'yes'].includes(env.SEQAE_KAFKA_KEEP_DATA ?? ''),
  };
}

const servicesDir = (root: string) => join(root, '.services');
const leaseDir = (root: string) => join(servicesDir(root), 'leases');
const lockFile = (root: string) => join(servicesDir(root), 'services.lock');

function addLease(root: string, service: Service, owner: string): void {
  mkdirSync(leaseDir(root), { recursive: true });
  writeFileSync(
    join(leaseDir(root), `${service}.${owner}`),
    owner === 'cli' ? 'cli' : `${process.pid}`,
  );
}

/** Leases on `service` whose holder still runs; stale ones are removed. */
function liveLeases(root: string, service?: Service): string[] {
  if (!existsSync(leaseDir(root))) return [];
  const live: string[] = [];
  for (const name of readdirSync(leaseDir(root))) {
    if (service && !name.startsWith(`${service}.`)) continue;
    const file = join(leaseDir(root), name);
    const holder = readFileSync(file, 'utf8').trim();
    if (holder === 'cli' || isAlive(Number(holder))) live.push(name);
    else rmSync(file, { force: true });
  }
  return live;
}

/** Makes sure Redis and Kafka answer, starting local servers where needed. */
export async function servicesUp(options: ServicesOptions = {}): Promise<ServicesUp> {
  const s = settings(options);
  return withLock(lockFile(s.root), async () => {
    const started = { redis: false, kafka: false };

    if (!(await redisAnswers(s.redisUrl))) {
      if (!isLocalHost(s.redisHost))
        throw new Error(`no Redis answers PING at REDIS_URL=${s.redisUrl} (not on this machine)`);
      await stopRedis(s.root); // a managed one that no longer answers
      await startRedis({ root: s.root, port: s.redisPort, log: s.log });
      started.redis = true;
    } else {
      s.log(`redis  ${s.redisUrl} answers PING`);
    }
    if (redisPid(s.root) !== undefined) addLease(s.root, 'redis', s.owner);

    if ((await kafkaAnswers(s.brokers)) === undefined) {
      if (!isLocalHost(s.kafkaHost))
        throw new Error(`no Kafka broker answers at KAFKA_BROKERS=${s.brokers.join(',')}`);
      await stopKafka(s.root); // a managed one that no longer answers
      await startKafka({
        root: s.root,
        host: s.kafkaHost === 'localhost' ? '127.0.0.1' : s.kafkaHost,
        port: s.kafkaPort,
        controllerPort: s.controllerPort,
        heap: s.heap,
        keepData: s.keepData,
        log: s.log,
      });
      started.kafka = true;
    } else {
      s.log(`kafka  ${s.brokers.join(',')} answers`);
    }
    if (kafkaPid(s.root) !== undefined) addLease(s.root, 'kafka', s.owner);

    return { redisUrl: s.redisUrl, kafkaBrokers: s.brokers, started };
  });
}

/**
 * Drops `owner`'s leases and stops each server these scripts started that no one else holds.
 * Returns the services it stopped.
 */
export async function servicesRelease(options: ServicesOptions = {}): Promise<Service[]> {
  const s = settings(options);
  return withLock(lockFile(s.root), async () => {
    const stopped: Service[] = [];
    for (const service of ['kafka', 'redis'] as const) {
      rmSync(join(leaseDir(s.root), `${service}.${s.owner}`), { force: true });
      const running = service === 'kafka' ? kafkaPid(s.root) : redisPid(s.root);
      if (running === undefined || liveLeases(s.root, service).length > 0) continue;
      await (service === 'kafka' ? stopKafka(s.root) : stopRedis(s.root));
      s.log(`${service}  stopped`);
      stopped.push(service);
    }
    return stopped;
  });
}

/** Stops every server these scripts started, whoever holds it, and drops all leases. */
export async function servicesDown(options: ServicesOptions = {}): Promise<void> {
  const s = settings(options);
  await withLock(lockFile(s.root), async () => {
    const holders = liveLeases(s.root).filter((l) => !l.endsWith('.cli'));
    if (holders.length > 0) s.log(`note: stopping services still leased by ${holders.join(', ')}`);
    const kafka = await stopKafka(s.root);
    s.log(`kafka  ${kafka === 'not running' ? 'not started by these scripts' : kafka}`);
    const redis = await stopRedis(s.root);
    s.log(
      `redis  ${redis === 'not running' ? 'not started by these scripts (left alone)' : redis}`,
    );
    rmSync(leaseDir(s.root), { recursive: true, force: true });
  });
}

export async function servicesStatus(options: ServicesOptions = {}): Promise<ServicesStatus> {
  const s = settings(options);
  const [redisUp, brokers] = await Promise.all([redisAnswers(s.redisUrl), kafkaAnswers(s.brokers)]);
  return {
    redis: { url: s.redisUrl, answering: redisUp, pid: redisPid(s.root) },
    kafka: {
      brokers: s.brokers,
      answering: brokers !== undefined,
      pid: kafkaPid(s.root),
      log: kafkaPaths(s.root).log,
    },
    leases: liveLeases(s.root),
  };
}

export { kafkaPaths, redisPaths };
