import type { Admin } from 'kafkajs';

/**
 * Creates the topics that do not exist yet with `partitions` partitions each (the broker's default
 * is often 1, and a consumer group shares a topic by its partitions: one partition, one busy worker).
 * Replication stays the broker's default. Another process creating them first is not an error.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  partitions: number,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length === 0) return [];
  await admin
    .createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
    })
    .catch((err: Error) => {
      if (!/exists/i.test(err.message)) throw err;
    });
  return missing;
}

/**
 * The partitions of `topic` and the members of `groupId`, when the group has more members than the
 * topic has partitions (some members then get nothing to do); undefined otherwise.
 */
export async function idleMembers(
  admin: Admin,
  topic: string,
  groupId: string,
): Promise<{ partitions: number; members: number } | undefined> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  const partitions = topics[0]?.partitions.length ?? 0;
  const { groups } = await admin.describeGroups([groupId]);
  const members = groups[0]?.members.length ?? 0;
  return members > partitions ? { partitions, members } : undefined;
}
