import { Command, CommanderError } from 'commander';
import { SeqaeError } from '../errors/index.js';
import { packageVersion } from '../metrics/registry.js';
import { registerProduce } from './produce.js';
import { registerWorker } from './worker.js';

/** `seqae <command>`: each command registers itself from its own module. */
const program = new Command('seqae')
  .description('streaming LSTM autoencoders over Kafka and BullMQ')
  .version(packageVersion())
  .showHelpAfterError();
registerWorker(program);
registerProduce(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Bad settings are the user's to fix: one clear line, no stack.
  if (err instanceof SeqaeError && err.code === 'config') {
    console.error(`seqae: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
