import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { addSettingFlags, configFrom } from '../../src/cli/options.js';
import { withSettingsTables } from '../../src/config/docs.js';
import { loadConfig, readConfig } from '../../src/config/index.js';
import {
  declarations,
  inferOptions,
  produceOptions,
  reportOptions,
  settings,
  takes,
  trainOptions,
  type CommandName,
} from '../../src/config/settings.js';
import { ConfigError } from '../../src/errors/index.js';
import { configFromParent, trainingChildEnv } from '../../src/training/train-processor-config.js';

const all = [...declarations(settings)].map(([, s]) => s);

/** A command with the settings' flags of `name`, its parse errors thrown instead of exiting. */
function command(name: CommandName): Command {
  const c = new Command(name).exitOverride().configureOutput({ writeErr: () => {} });
  const runOptions = {
    produce: produceOptions,
    train: trainOptions,
    infer: inferOptions,
    report: reportOptions,
  };
  return addSettingFlags(c, name, runOptions[name as keyof typeof runOptions] ?? {});
}

describe('loadConfig', () => {
  it('gives every default when nothing is set', () => {
    expect(loadConfig({})).toEqual({
      logLevel: 'info',
      redis: {
        url: 'redis://127.0.0.1:6379',
        password: undefined,
        tls: false,
        tlsCa: undefined,
        autoPipelining: true,
        keyPrefix: 'seqae',
      },
      kafka: {
        brokers: ['127.0.0.1:9092'],
        clientId: 'seqae',
        ssl: false,
        sslCa: undefined,
        topicPartitions: 12,
        compression: 'none',
        maxRequestBytes: 524288,
        producerClient: 'platformatic',
        sasl: undefined,
      },
      topics: {
        readings: 'seqae.readings',
        windows: 'seqae.windows',
        reconstructions: 'seqae.reconstructions',
        predictions: 'seqae.predictions',
        embeddings: 'seqae.embeddings',
        anomalies: 'seqae.anomalies',
        feedback: 'seqae.feedback',
        dlq: 'seqae.dlq',
      },
      queues: { prefix: 'bull', infer: 'seqae-infer', train: 'seqae-train' },
      dlqOriginalMaxBytes: 65536,
      outputEncoding: 'f32b64',
      maxWindowValues: 65536,
      incidentGap: 30,
      backend: 'auto',
      http: { host: '127.0.0.1', port: 9464 },
      worker: {
        roles: ['train', 'stream', 'infer'],
        concurrency: 1,
        trainPool: availableParallelism(),
        training: { warmStart: true, warmStartEpochs: 10, validationSplit: 0.1, patience: 5 },
        anomaly: {
          scoring: 'likelihood',
          shortWindow: 20,
          warmup: 200,
          rangeMargin: 0.05,
          spreadWindow: 30,
          rangeTail: 0.1,
          recordHorizon: 1,
          peakWindow: 32,
          peakTail: 1e-5,
          peakCorroboration: 20,
          corroborateBelow: 0.8,
          corroboratedTail: 1e-4,
          recurrences: 3,
          recurrenceJitter: 0.02,
          alertRangeTail: 1e-4,
          alertLevelTail: 1e-9,
          alertWarmup: 50,
          coolDown: 1,
          scoreHold: 0.1,
          alertThreshold: 0.5,
        },
        feedback: { tolerance: 0.5, expiryHours: 0, perStream: 50 },
        groupId: 'seqae-stream',
        sessionTimeoutMs: 30000,
        modelGroup: undefined,
        warmupWindows: 256,
        retrainEvery: 0,
        trainWindows: 2048,
        pendingLimit: 100000,
        batchMax: 256,
        partitionsConcurrently: 12,
        batchWaitMs: 100,
        modelCache: 64,
        modelKeep: 5,
        onnxThreads: 0,
        onnxOwnThread: false,
        model: {
          variant: 'composite',
          units: 100,
          epochs: 50,
          batchSize: 32,
          learningRate: 0.001,
          normalisation: 'zscore',
        },
        inferPublish: true,
        inferResult: 'anomaly',
        shutdownTimeoutMs: 20000,
      },
      producer: {
        sinks: ['kafka'],
        window: 9,
        stride: 1,
        reorder: 0,
        gaps: 'ignore',
        maxFill: 10,
        maxLineBytes: 65536,
        batch: 500,
        inFlight: 5000,
        inferBulk: 1,
        maxWaiting: 100000,
        groupId: 'seqae-producer',
      },
    });
  });

  it('lets overrides win over the environment, and an empty value mean the default', () => {
    const env = { SEQAE_PRODUCER_BATCH: '20', SEQAE_WINDOW: '12', SEQAE_UNITS: '' };
    const config = loadConfig(env, { SEQAE_PRODUCER_BATCH: '30' });
    expect(config.producer.batch).toBe(30);
    expect(config.producer.window).toBe(12);
    expect(config.worker.model.units).toBe(100);
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ SEQAE_PRODUCER_BATCH: 'many' })).toThrow(ConfigError);
    expect(() => loadConfig({ SEQAE_PRODUCER_BATCH: 'many' })).toThrow(/^SEQAE_PRODUCER_BATCH: /);
    expect(() => loadConfig({}, { KAFKA_BROKERS: 'nohost' })).toThrow(/^KAFKA_BROKERS: .*nohost/);
    expect(() => loadConfig({ SEQAE_TRAIN_WINDOWS: '1' })).toThrow(/^SEQAE_TRAIN_WINDOWS: /);
  });

  it('derives the values that depend on others', () => {
    const c = loadConfig({
      REDIS_URL: 'rediss://cache:6380',
      SEQAE_TOPIC_PREFIX: 'x.',
      SEQAE_QUEUE_PREFIX: 'q-',
      SEQAE_SINKS: 'kafka,bullmq,kafka',
      SEQAE_PRODUCER_BATCH: '800',
      SEQAE_PRODUCER_IN_FLIGHT: '100',
    });
    expect(c.redis.tls).toBe(true);
    expect(c.topics.dlq).toBe('x.dlq');
    expect(c.queues).toEqual({ prefix: 'bull', infer: 'q-infer', train: 'q-train' });
    expect(c.producer.sinks).toEqual(['kafka', 'bullmq']);
    expect(c.producer.inFlight).toBe(800);
    expect(loadConfig({ SEQAE_PRODUCER_BATCH: '800' }).producer.inFlight).toBe(5000);
  });

  it('gives each topic prefix its own consumer groups, unless a group is named', () => {
    const a = loadConfig({ SEQAE_TOPIC_PREFIX: 'plant-a.' });
    const b = loadConfig({ SEQAE_TOPIC_PREFIX: 'plant-b.' });
    expect(a.worker.groupId).toBe('plant-a-stream');
    expect(b.worker.groupId).toBe('plant-b-stream');
    expect(a.producer.groupId).toBe('plant-a-producer');
    const named = loadConfig({ SEQAE_TOPIC_PREFIX: 'plant-a.', SEQAE_GROUP_ID: 'shared' });
    expect(named.worker.groupId).toBe('shared');
  });

  it('gives a worker and a producer different default ports, and one variable for both', () => {
    expect(readConfig({}, {}, 'worker').config.http.port).toBe(9464);
    expect(readConfig({}, {}, 'produce').config.http.port).toBe(9465);
    expect(readConfig({ SEQAE_HTTP_PORT: '9100' }, {}, 'produce').config.http.port).toBe(9100);
    expect(configFrom({}, 'produce', {}).config.http.port).toBe(9465);
  });

  it('takes SASL whole or not at all', () => {
    const sasl = { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' };
    expect(() => loadConfig(sasl)).toThrow(/^KAFKA_SASL_PASSWORD: required when/);
    expect(() => loadConfig({ KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/^KAFKA_SASL_USERNAME/);
    expect(loadConfig({ ...sasl, KAFKA_SASL_PASSWORD: 'p' }).kafka.sasl).toEqual({
      mechanism: 'plain',
      username: 'u',
      password: 'p',
    });
  });

  it('still reads SEQAE_BULL_PREFIX, with a deprecation line', () => {
    const old = readConfig({ SEQAE_BULL_PREFIX: 'legacy' });
    expect(old.config.queues.prefix).toBe('legacy');
    expect(old.deprecations).toEqual([
      'SEQAE_BULL_PREFIX is deprecated: use SEQAE_BULLMQ_KEY_PREFIX',
    ]);
    expect(readConfig({}, { SEQAE_BULL_PREFIX: 'legacy' }).config.queues.prefix).toBe('legacy');
    const both = readConfig({ SEQAE_BULL_PREFIX: 'legacy', SEQAE_BULLMQ_KEY_PREFIX: 'new' });
    expect(both.config.queues.prefix).toBe('new');
    expect(both.deprecations).toEqual([
      'SEQAE_BULL_PREFIX is deprecated and ignored: use SEQAE_BULLMQ_KEY_PREFIX',
    ]);
    expect(readConfig({ SEQAE_BULLMQ_KEY_PREFIX: 'new' }).deprecations).toEqual([]);
    expect(() => loadConfig({ SEQAE_BULL_PREFIX: 'a:b' })).toThrow(/^SEQAE_BULL_PREFIX: /);
  });
});

describe('the declarations', () => {
  it('name each variable and each flag of a command once', () => {
    const variables = all.flatMap((s) => [s.env, ...(s.formerEnv ?? [])]);
    expect(new Set(variables).size).toBe(variables.length);
    for (const name of ['worker', 'produce', 'train', 'infer', 'models', 'report'] as const) {
      const flags = command(name).options.map((o) => o.long);
      expect(new Set(flags).size, name).toBe(flags.length);
    }
  });

  it('key the run options by their attribute names', () => {
    const c = command('produce');
    for (const [[key], s] of declarations(produceOptions))
      expect(c.options.find((o) => o.flags === s.flag)?.attributeName()).toBe(key);
  });

  it('parse their defaults', () => {
    for (const s of all) expect(s.schema.safeParse(s.default).success, s.env).toBe(true);
  });
});

describe('command flags', () => {
  it('override their variables', () => {
    const c = command('worker');
    c.parse(['--batch-max', '7', '--epochs', '3', '--redis-url', 'redis://r:1'], { from: 'user' });
    const { config } = configFrom(c.opts(), 'worker', { SEQAE_BATCH_MAX: '9', SEQAE_UNITS: '4' });
    expect(config.worker.batchMax).toBe(7);
    expect(config.worker.model).toMatchObject({ epochs: 3, units: 4 });
    expect(config.redis.url).toBe('redis://r:1');
  });

  it('of produce parse the run options and leave settings to the loader', () => {
    const c = command('produce');
    c.parse(['--source', 'csv:x.csv', '--columns', 'ts,1,b', '--to', 'kafka,bullmq', '--no-dlq'], {
      from: 'user',
    });
    expect(c.opts()).toMatchObject({
      source: 'csv:x.csv',
      speed: 0,
      delimiter: ',',
      columns: { timestamp: 'ts', values: [1, 'b'] },
      dlq: false,
      header: true,
    });
    expect(configFrom(c.opts(), 'produce', {}).config.producer.sinks).toEqual(['kafka', 'bullmq']);
  });

  it('refuse bad run options and a missing --source', () => {
    const parse = (args: string[]) => () => command('produce').parse(args, { from: 'user' });
    expect(parse(['--source', 's', '--speed', 'slow'])).toThrow(/a factor such as 10/);
    expect(parse(['--source', 's', '--step', '0'])).toThrow(CommanderError);
    expect(parse(['--source', 's', '--columns', 'ts'])).toThrow(/at least one value column/);
    expect(parse([])).toThrow(/--source/);
    expect(
      command('produce').parse(['--source', 's', '--speed', '10x'], { from: 'user' }).opts(),
    ).toMatchObject({ speed: 10 });
  });

  it('are listed in --help with their variables and defaults, and so are the variables alone', () => {
    const help = helpText(command('worker'));
    expect(help).toMatch(/--epochs <n> .*\[SEQAE_EPOCHS, default: 50\]/s);
    expect(help).toMatch(/SEQAE_SHUTDOWN_TIMEOUT_MS .*\[default: 20000\]/);
    expect(help).not.toMatch(/--batch <n>/);
    expect(command('produce').helpInformation()).toMatch(/--batch <n>/);
  });

  it('do not change the environment of the process', () => {
    const before = { ...process.env };
    const c = command('worker');
    c.parse(['--train-pool', '3'], { from: 'user' });
    expect(configFrom(c.opts(), 'worker').config.worker.trainPool).toBe(3);
    expect(process.env).toEqual(before);
  });

  it('cover every setting a command takes', () => {
    for (const name of ['worker', 'produce', 'train', 'infer', 'models', 'report'] as const) {
      const c = command(name);
      const text = helpText(c);
      for (const s of all.filter((x) => takes(x, name)))
        expect(
          s.flag ? c.options.some((o) => o.flags === s.flag) : text.includes(s.env!),
          s.env,
        ).toBe(true);
    }
  });
});

/** A command's whole `--help`, with what `addHelpText` adds. */
function helpText(c: Command): string {
  let out = '';
  c.configureOutput({ writeOut: (s) => (out += s) });
  c.outputHelp();
  return out;
}

describe('the training child', () => {
  it('gets its parent’s resolved configuration, and nothing else', () => {
    const config = loadConfig({}, { SEQAE_EPOCHS: '7', SEQAE_BULL_PREFIX: 'b' });
    expect(configFromParent(trainingChildEnv(config))).toEqual(JSON.parse(JSON.stringify(config)));
    expect(() => configFromParent({})).toThrow(/SEQAE_RESOLVED_CONFIG/);
  });
});

describe('docs/settings.md', () => {
  it('has the settings tables of the declarations (npm run docs:settings)', () => {
    const doc = readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8');
    expect(withSettingsTables(doc), 'run npm run docs:settings').toBe(doc);
  });
});
