/**
 * The intake of a backend whose job store and queue cannot share a write (AWS: DynamoDB and
 * SQS), or of stores wrapped for fault injection: create the record, then send its messages.
 */
import { toFacefleetError } from '../errors.js';
import { JobNotSentError } from './errors.js';
import type { IncomingJob, JobIntake, JobQueue, JobStore } from './ports.js';

export function createThenSendIntake(jobs: JobStore, queue: JobQueue): JobIntake {
  return {
    async accept({ record, messages }: IncomingJob) {
      // AlreadyExistsError (or any failed create) throws here: nothing is sent.
      await jobs.create(record);
      try {
        for (const body of messages) await queue.send(body);
      } catch (err) {
        throw new JobNotSentError(`job ${record.id} was stored but its message was not sent: ${toFacefleetError(err).message}`, { cause: err });
      }
    },
  };
}
