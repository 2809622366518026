import { jobQueueContract } from '../../contract/job-queue.contract.js';
import { SqsJobQueue } from '../../../src/store/aws/sqs-job-queue.js';
import { createQueues, freshNames, useEmulators } from './harness.js';

const env = useEmulators();

jobQueueContract('SqsJobQueue on fauxqs', async ({ maxReceiveCount }) => {
  const names = freshNames('queue');
  const cleanup = await createQueues(env, names, maxReceiveCount);
  const queue = new SqsJobQueue({ sqs: env.clients.sqs, queueName: names.queue, deadLetterQueueName: names.deadLetterQueue, requestTimeoutMs: 5_000 });
  return { queue, cleanup };
});
