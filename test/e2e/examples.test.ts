import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runNode, type Finished } from '../support/processes.js';
import { cleanupRedis, testConfig, testEnv } from '../support/services.js';

/**
 * The examples run as a reader runs them (`node --conditions=seqae-source --import tsx …`, the
 * package entry from source), and the package as a consumer's TypeScript sees it once built.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const example = (name: string, env: Record<string, string> = {}) =>
  runNode(['--conditions=seqae-source', '--import', 'tsx', `examples/${name}`], env, {
    timeoutMs: 240_000,
  });
/** The last stdout line, the example's result. */
const result = (r: Finished) => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
};

describe('examples/', () => {
  afterAll(() => cleanupRedis(testConfig('examples')));

  it('train-and-score.ts: the windows over the spike, and only those, are anomalies', async () => {
    const r = result(await example('train-and-score.ts'));
    const spikeAt = r.spikeAt as number;
    const over = Array.from({ length: 16 }, (_, i) => spikeAt + i); // windows of 16 holding it
    expect(r.anomalies).toEqual(over);
    expect(r.top).toMatchObject({ score: expect.any(Number) });
    expect(over).toContain((r.top as { seq: number }).seq);
  });

  it('embed-worker.ts: a worker and a producer in one process, every window scored', async () => {
    const r = result(await example('embed-worker.ts', testEnv('examples')));
    expect(r.sent).toBe(2 * (300 - 9 + 1)); // 2 streams of 300 readings, windows of 9
    expect(r.scored).toBe(r.sent);
    expect(r.maxScore).toBeGreaterThan(0);
  });
});

describe("the package entry, built, as a consumer's tsc sees it", () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqae-consumer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('emits declarations that resolve through package.json exports', async () => {
    const out = join(dir, 'dist');
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const build = await runNode(
      [tsc, '-p', 'tsconfig.build.json', '--outDir', out],
      {},
      {
        timeoutMs: 240_000,
      },
    );
    expect(build.code, build.stdout + build.stderr).toBe(0);

    // node_modules/seqae as npm would install it: package.json and the built dist/
    const pkg = join(dir, 'consumer/node_modules/seqae');
    mkdirSync(pkg, { recursive: true });
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(out, join(pkg, 'dist'));
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    symlinkSync(join(root, 'node_modules/@types'), join(dir, 'consumer/node_modules/@types'));
    const consumer = join(dir, 'consumer');
    writeFileSync(join(consumer, 'package.json'), '{ "name": "consumer", "type": "module" }');
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          skipLibCheck: true,
        },
        files: ['check.ts'],
      }),
    );
    writeFileSync(
      join(consumer, 'check.ts'),
      [
        "import { createProducer, createWorker, parseWindow, loadConfig, SequenceAutoencoder } from 'seqae';",
        "import type { Window, WindowOutputs, RunningProducer } from 'seqae';",
        "const w: Window = parseWindow('{}');",
        'const n: number = loadConfig({}).kafka.topicPartitions;',
        "const start = () => createWorker({ settings: { SEQAE_ROLES: 'stream' } });",
        "const p: RunningProducer = createProducer({ source: 'synthetic:sine' });",
        'const m = SequenceAutoencoder.create({ nIn: 9 });',
        'let o: WindowOutputs | undefined;',
        '// @ts-expect-error a window has no such field',
        'w.nope;',
        'export { n, start, p, m, o };',
      ].join('\n'),
    );
    const check = await runNode([tsc, '-p', consumer, '--traceResolution'], {});
    expect(
      check.code,
      check.stdout
        .split('\n')
        .filter((l) => l.includes('error'))
        .join('\n'),
    ).toBe(0);
    // the built declarations (through the dist/ link), not the sources
    const resolved = /Module name 'seqae' was successfully resolved to '([^']+)'/.exec(
      check.stdout,
    );
    expect(resolved?.[1]).toBe(join(out, 'src/index.d.ts'));
  });
});
