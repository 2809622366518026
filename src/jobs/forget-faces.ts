/**
 * What removing a face leaves behind besides its descriptor: its thumbnail, and the enroll job
 * it came from (`source: "job:<id>"`), whose input is the enrollment image and whose record
 * names the identity, and the webhook deliveries that announced that job (their body carries its
 * result). Removing a face, an identity or a collection deletes all of them.
 */
import type { Logger } from '../log.js';
import type { EnrolledFace } from '../store/ports.js';
import type { JobRecord } from './types.js';
import { deleteJobData, type JobDataDeps } from './retention.js';
import { thumbnailKey } from './thumbnails.js';

export interface ForgetFacesDeps extends JobDataDeps {
  log: Logger;
  /**
   * With it, the webhook deliveries announcing an enroll job (their JSON body holds the job's
   * result, which names the identity) are deleted with the job. The webhook publisher has it.
   */
  publisher?: { deliveriesOf(record: JobRecord): Promise<Array<{ delivery: JobRecord }>> };
}

/** At most this many faces' files are deleted at once. */
const PARALLEL = 16;

/**
 * Delete the thumbnails and enroll jobs (input, record, dead-letter messages) of `faces`, after
 * their descriptors were removed. Best effort per face: a failure is logged and the rest go on,
 * because the descriptor, the biometric match itself, is already gone.
 */
export async function forgetFaces(deps: ForgetFacesDeps, faces: ReadonlyArray<Pick<EnrolledFace, 'id' | 'source'>>): Promise<void> {
  for (let i = 0; i < faces.length; i += PARALLEL) {
    await Promise.all(
      faces.slice(i, i + PARALLEL).map(async (face) => {
        try {
          await deps.blobs.delete(thumbnailKey(face.id));
          const jobId = face.source?.startsWith('job:') ? face.source.slice(4) : undefined;
          const record = jobId ? await deps.jobs.get(jobId) : null;
          if (record) {
            for (const { delivery } of (await deps.publisher?.deliveriesOf(record)) ?? []) await deleteJobData(deps, delivery);
            await deleteJobData(deps, record);
          }
        } catch (err) {
          deps.log.warn({ err, faceId: face.id }, 'a removed face left files behind; the retention sweep deletes its job later');
        }
      }),
    );
  }
}
