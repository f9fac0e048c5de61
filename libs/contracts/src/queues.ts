import { z } from 'zod';

/**
 * BullMQ queue names. They are persistent data (Redis keys, KEDA triggers), never derived from class
 * names: renaming one strands every job waiting in the old queue.
 */
export const QUEUE_NAMES = ['training', 'workflow', 'sweep', 'export'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Job name -> payload, one schema per payload, shared by producer and consumer. */
export const trainingJobPayloadSchema = z.strictObject({
  trainingJobId: z.uuid(),
});
export type TrainingJobPayload = z.infer<typeof trainingJobPayloadSchema>;

export const workflowJobPayloadSchema = z.strictObject({
  workflowExecutionId: z.uuid(),
});
export type WorkflowJobPayload = z.infer<typeof workflowJobPayloadSchema>;

export const exportJobPayloadSchema = z.strictObject({
  modelId: z.uuid(),
  format: z.enum(['onnx', 'tfjs']),
});
export type ExportJobPayload = z.infer<typeof exportJobPayloadSchema>;

export const sweepJobPayloadSchema = z.strictObject({
  sweepId: z.uuid(),
});
export type SweepJobPayload = z.infer<typeof sweepJobPayloadSchema>;

export const queuePayloadSchemas = {
  training: trainingJobPayloadSchema,
  workflow: workflowJobPayloadSchema,
  sweep: sweepJobPayloadSchema,
  export: exportJobPayloadSchema,
} as const satisfies Record<QueueName, z.ZodType>;

export type QueuePayload<Q extends QueueName> = z.infer<(typeof queuePayloadSchemas)[Q]>;

/** The job name used inside each queue (one kind of job per queue today). */
export const QUEUE_JOB_NAMES = {
  training: 'train',
  workflow: 'run-workflow',
  sweep: 'drive-sweep',
  export: 'export-model',
} as const satisfies Record<QueueName, string>;
