import type { Command } from 'commander';
import { readConfig } from '../config/index.js';
import { demoOptions } from '../config/settings.js';
import { DEMO_DEFAULTS, runDemo } from '../demo/index.js';
import { addRunFlags } from './options.js';

interface Flags {
  streams: number;
  anomalies?: number;
  speed: number;
  warmupWindows: number;
  epochs: number;
  duration?: number;
  report: string | false;
}

/**
 * `seqae demo`: the main job in one command (src/demo): services when missing, a worker, a synthetic
 * fleet and a live view until Ctrl-C, then the run's report.
 */
export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description(
      'start Redis and Kafka if they do not answer, a worker and a synthetic sensor fleet, and watch every stream warm up, train and score (Ctrl-C stops all)',
    );
  addRunFlags(command, demoOptions)
    .addHelpText(
      'after',
      '\nEvery other setting comes from the environment (REDIS_URL, KAFKA_BROKERS, SEQAE_*: see docs/settings.md),\nread by the demo and passed on to its worker and producer; SEQAE_UNITS (default 32 here),\nSEQAE_LEARNING_RATE (0.005) and SEQAE_WARM_START_EPOCHS (5) too. Logs: .demo/<run>/.',
    )
    .action(async (flags: Flags) => {
      // Redis, Kafka, topics and the rest as every command reads them; the children get the same.
      const { config } = readConfig(process.env, {}, 'demo');
      const code = await runDemo(
        config,
        {
          streams: flags.streams,
          anomalies: Math.min(flags.anomalies ?? Math.ceil(flags.streams / 4), flags.streams),
          speed: flags.speed,
          warmupWindows: flags.warmupWindows,
          epochs: flags.epochs,
          window: DEMO_DEFAULTS.window,
          ...(flags.duration !== undefined ? { durationSec: flags.duration } : {}),
          ...(flags.report !== false ? { report: flags.report } : {}),
        },
        { out: process.stdout, env: process.env, exitNow: (c) => process.exit(c) },
      );
      process.exit(code);
    });
}
