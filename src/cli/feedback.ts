import { InvalidArgumentError, type Command } from 'commander';
import type { SeqaeConfig } from '../config/index.js';
import { feedbackMessage, FEEDBACK_VERSION, type Feedback } from '../contracts/feedback.js';
import { streamIdSchema } from '../contracts/window.js';
import { SeqaeError } from '../errors/index.js';
import { createKafka, loginAccepted } from '../transport/kafka.js';
import { isUnreachable } from '../transport/unreachable.js';
import { ensureTopics } from '../transport/topics.js';
import { addSettingFlags, configFrom } from './options.js';

const seqArgument = (text: string): number => {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError("the alert window's seq, a whole number 0, 1, 2, …");
  return n;
};

const streamArgument = (text: string): string => {
  const r = streamIdSchema.safeParse(text);
  if (!r.success) throw new InvalidArgumentError(r.error.issues[0]?.message ?? 'not a stream id');
  return text;
};

/** Publishes one feedback message; a broker that does not answer is one line, exit 1. */
async function send(config: SeqaeConfig, feedback: Feedback): Promise<void> {
  // Few retries: a person waits for the answer, and a down broker will not come back in seconds.
  const kafka = createKafka(config, { clientId: `${config.kafka.clientId}-feedback`, retries: 2 });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await loginAccepted(Promise.all([admin.connect(), producer.connect()]), config);
    await ensureTopics(admin, [config.topics.feedback], config.kafka.topicPartitions);
    await producer.send({
      topic: config.topics.feedback,
      acks: -1,
      messages: [feedbackMessage(feedback)],
    });
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    throw new SeqaeError(
      `Kafka at ${config.kafka.brokers.join(',')} does not answer (${(err as Error).message.split('\n')[0]}): nothing was sent`,
      { code: 'unreachable', cause: err },
    );
  } finally {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
  }
}

/** `seqae feedback <streamId> <seq> --false-alarm`: an operator's word on an alert, to every worker. */
export function registerFeedback(program: Command): void {
  const command = program
    .command('feedback')
    .description(
      "tell the workers that the alert on window <streamId>:<seq> was false: from then on a like event on that stream is no alert (suppressed: 'feedback'), a clearly larger one still is; publishes one message to the feedback topic and prints it",
    )
    .argument('<streamId>', 'the stream of the alert', streamArgument)
    .argument('<seq>', "the alert's window: its seq on the anomalies topic", seqArgument)
    .option('--false-alarm', 'the alert was no anomaly (the one kind of feedback so far)');
  addSettingFlags(command, 'feedback').action(
    async (streamId: string, seq: number, opts: Record<string, unknown>) => {
      if (!opts.falseAlarm)
        command.error('seqae feedback: say what the alert was: --false-alarm', { exitCode: 2 });
      const { config } = configFrom(opts, 'feedback');
      const feedback: Feedback = {
        v: FEEDBACK_VERSION,
        streamId,
        seq,
        kind: 'false-alarm',
        at: Date.now(),
      };
      await send(config, feedback);
      console.log(JSON.stringify({ topic: config.topics.feedback, sent: feedback }));
    },
  );
}
