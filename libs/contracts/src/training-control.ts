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
  action: z.enum(TRAINING_CONTROL_ACTIONS),
});
export type TrainingControlMessage = z.infer<typeof trainingControlMessageSchema>;
