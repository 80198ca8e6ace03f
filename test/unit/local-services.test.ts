import { describe, expect, it } from 'vitest';
import { clusterId, log4jProperties, serverProperties } from '../../src/services/kafka.js';
import { isLocalHost } from '../../src/services/redis.js';

const props = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
  );

describe('local Kafka configuration', () => {
  const p = props(
    serverProperties({ host: '127.0.0.1', port: 19092, controllerPort: 19093, dataDir: '/d' }),
  );

  it('is one KRaft node that is its own controller quorum', () => {
    expect(p['process.roles']).toBe('broker,controller');
    expect(p['controller.quorum.voters']).toBe(`${p['node.id']}@127.0.0.1:19093`);
    expect(p.listeners).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(p['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:19092');
    expect(p['log.dirs']).toBe('/d');
  });

  it('needs no second broker for internal topics and forms groups at once', () => {
    expect(p['offsets.topic.replication.factor']).toBe('1');
    expect(p['transaction.state.log.replication.factor']).toBe('1');
    expect(p['transaction.state.log.min.isr']).toBe('1');
    expect(p['group.initial.rebalance.delay.ms']).toBe('0');
    expect(p['auto.create.topics.enable']).toBe('true');
    expect(p['num.partitions']).toBe('1');
  });

  it('logs to the given file only', () => {
    const l = props(log4jProperties('/x/server.log'));
    expect(l['appender.file.fileName']).toBe('/x/server.log');
    expect(l['rootLogger.appenderRef.file.ref']).toBe('file');
  });

  it('makes cluster ids shaped like Kafka Uuids', () => {
    const ids = Array.from({ length: 200 }, clusterId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('starts servers only for addresses of this machine', () => {
    expect(isLocalHost('127.0.0.1')).toBe(true);
    expect(isLocalHost('localhost')).toBe(true);
    expect(isLocalHost('kafka.internal')).toBe(false);
  });
});
