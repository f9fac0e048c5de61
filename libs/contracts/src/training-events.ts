import { z } from 'zod';
import { trainingJobStatusSchema } from './training-job.schema.js';

const metrics = z.record(z.string(), z.number());

/**
 * When the producer published the event (epoch ms, set by TrainingEventPublisher): clients measure
 * the relay's delay with it. Optional so that events of older producers stay valid.
 */
export const publishedAtSchema = z.number().nonnegative().optional();

/**
 * Progress of a training job, published by the worker on Redis and relayed by the gateway to the
 * Socket.IO room `job:<id>`. One schema per event; `type` tells them apart.
 */
export const trainingStepEventSchema = z.strictObject({
  type: z.literal('step'),
  jobId: z.uuid(),
  epoch: z.int().min(1),
  step: z.int().min(1),
  stepsPerEpoch: z.int().min(1),
  loss: z.number(),
  samplesPerSecond: z.number(),
  /** 0..1 over the whole job */
  progress: z.number().min(0).max(1),
  publishedAt: publishedAtSchema,
});

/** One rank of a multi-worker job's gang: where it runs and listens, and how it is doing. */
export const trainingRankSchema = z.strictObject({
  rank: z.int().min(0),
  workerId: z.string(),
  slot: z.int().min(0),
  host: z.string(),
  port: z.int().nullable(),
  status: z.enum(['assigned', 'listening', 'training', 'finished', 'failed']),
  /** Training samples/s of this rank in the last epoch (rank 0 records it). */
  samplesPerSecond: z.number().nullable(),
  error: z.string().nullable(),
});
export type TrainingRank = z.infer<typeof trainingRankSchema>;

export const trainingEpochEventSchema = z.strictObject({
  type: z.literal('epoch'),
  jobId: z.uuid(),
  epoch: z.int().min(1),
  totalEpochs: z.int().min(1),
  metrics,
  learningRate: z.number(),
  samplesPerSecond: z.number(),
  etaSeconds: z.number().min(0),
  progress: z.number().min(0).max(1),
  /** Multi-worker jobs: each rank's samples/s in this epoch, by rank (samplesPerSecond is their sum). */
  rankSamplesPerSecond: z.array(z.number()).optional(),
  publishedAt: publishedAtSchema,
});

export const trainingCheckpointEventSchema = z.strictObject({
  type: z.literal('checkpoint'),
  jobId: z.uuid(),
  checkpointId: z.uuid(),
  epoch: z.int().min(0),
  step: z.int().min(0),
  isBest: z.boolean(),
  publishedAt: publishedAtSchema,
});

export const trainingStatusEventSchema = z.strictObject({
  type: z.literal('status'),
  jobId: z.uuid(),
  status: trainingJobStatusSchema,
  error: z.string().optional(),
  modelId: z.uuid().optional(),
  backend: z.string().optional(),
  workerId: z.string().optional(),
  metrics: metrics.optional(),
  /** Multi-worker jobs: the gang's ranks (on admission, when the gang starts training, when it breaks). */
  ranks: z.array(trainingRankSchema).optional(),
  /** Multi-worker jobs: how often a broken gang was started again. */
  restarts: z.int().min(0).optional(),
  /** Multi-worker jobs: why the job waits, or what happened to its last gang. */
  note: z.string().optional(),
  publishedAt: publishedAtSchema,
});

export const trainingEventSchema = z.discriminatedUnion('type', [
  trainingStepEventSchema,
  trainingEpochEventSchema,
  trainingCheckpointEventSchema,
  trainingStatusEventSchema,
]);
export type TrainingEvent = z.infer<typeof trainingEventSchema>;
export type TrainingStepEvent = z.infer<typeof trainingStepEventSchema>;
export type TrainingEpochEvent = z.infer<typeof trainingEpochEventSchema>;
export type TrainingStatusEvent = z.infer<typeof trainingStatusEventSchema>;

/** Redis pub/sub channel of training events (all jobs; the gateway fans out to rooms). */
export function trainingEventsChannel(redisPrefix: string): string {
  return `${redisPrefix}:events:training`;
}

/** Socket.IO room of one training job. */
export function jobRoom(jobId: string): string {
  return `job:${jobId}`;
}

/** Socket.IO event names: what the client sends and what the server emits. */
export const SOCKET_EVENTS = {
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  training: 'training-event',
  /** Sent just before the server ends a connection whose key was revoked: `{ reason }`. */
  sessionEnded: 'session-ended',
} as const;

export const socketSubscribeSchema = z.strictObject({ jobId: z.uuid() });
