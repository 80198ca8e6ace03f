import { defineConfig } from 'vitest/config';

// Unit tests need no services. Integration and e2e tests share one global setup that finds or starts
// real Redis and Kafka (test/setup/services.ts) and give every run its own topic and queue prefix.
export default defineConfig({
  test: {
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
