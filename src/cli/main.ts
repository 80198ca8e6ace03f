import { Command } from 'commander';
import { packageVersion } from '../metrics/registry.js';
import { registerDemo } from './demo.js';
import { registerEval } from './eval.js';
import { registerFeedback } from './feedback.js';
import { registerInfer } from './infer.js';
import { registerModels } from './models.js';
import { stopWithParent } from './parent.js';
import { registerProduce } from './produce.js';
import { registerReport } from './report.js';
import { runCli } from './run.js';
import { registerServices } from './services.js';
import { registerTrain } from './train.js';
import { registerWorker } from './worker.js';

/** `seqae <command>`: each command registers itself from its own module. */
const program = new Command('seqae')
  .description('streaming LSTM autoencoders over Kafka and BullMQ')
  .version(packageVersion())
  // `seqae --version` only before a command, so that a command may take a `--version <n>` of its own
  .enablePositionalOptions();
registerWorker(program);
registerProduce(program);
registerEval(program);
registerTrain(program);
registerInfer(program);
registerModels(program);
registerReport(program);
registerServices(program);
registerDemo(program);
registerFeedback(program);

stopWithParent();

await runCli(program, process.argv);
