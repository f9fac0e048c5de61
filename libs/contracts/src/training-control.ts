import { z } from 'zod';
import { TRAINING_CONTROL_ACTIONS } from './training-job.schema.js';

/**
 * Redis pub/sub channel on which the gateway tells workers to pause or stop a running job. The
 * request is also stored in `training_jobs.desired_state`, so a worker that missed the message
 * still sees it when it checks the row.
 */
export function trainingControlChannel(redisPrefix: string): string {
  return `${redisPrefix}:training-control`;
}

export const trainingControlMessageSchema = z.strictObject({
  trainingJobId: z.uuid(),
  /**
   * A user's pause or stop, or `handback` from a worker that is shutting down while it runs a
   * rank other than 0 of the job: rank 0 then checkpoints and stops the whole gang in step, and the
   * job waits for a new gang.
   */
  action: z.enum([...TRAINING_CONTROL_ACTIONS, 'handback']),
});
export type TrainingControlMessage = z.infer<typeof trainingControlMessageSchema>;
