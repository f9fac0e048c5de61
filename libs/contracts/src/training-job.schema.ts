import { z } from 'zod';

/**
 * Lifecycle states of a training job. Persisted in `training_jobs.status`, so the strings are data:
 * never rename one without a migration.
 */
export const TRAINING_JOB_STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'stopped'] as const;
export const trainingJobStatusSchema = z.enum(TRAINING_JOB_STATUSES);
export type TrainingJobStatus = z.infer<typeof trainingJobStatusSchema>;

/** A control request the worker acts on between training steps (see ARCHITECTURE.md, training control). */
export const TRAINING_CONTROL_ACTIONS = ['pause', 'stop'] as const;
export type TrainingControlAction = (typeof TRAINING_CONTROL_ACTIONS)[number];

const name = z.string().trim().min(1).max(200);
const description = z.string().max(5000);

export const IMAGE_BACKBONES = ['small_cnn', 'resnet18', 'resnet34', 'mobilenet_v2', 'efficientnet_b0', 'densenet121', 'vit_tiny'] as const;
export const FUSION_TYPES = ['concatenate', 'gated', 'attention', 'cross_attention', 'bilinear', 'late'] as const;

export const modelConfigSchema = z.strictObject({
  backbone: z.enum(IMAGE_BACKBONES).default('small_cnn'),
  fusion: z.enum(FUSION_TYPES).default('concatenate'),
  numClasses: z.int().min(2).max(1000).default(2),
  imageSize: z.int().min(32).max(1024).default(64),
  imageChannels: z.union([z.literal(1), z.literal(3)]).default(1),
  imageFeatureSize: z.int().min(1).max(4096).default(128),
  clinicalHiddenSize: z.int().min(1).max(4096).default(32),
  fusedSize: z.int().min(1).max(4096).default(96),
  dropout: z.number().min(0).max(0.95).default(0.1),
  /** Path to user-supplied initial weights; nothing is ever downloaded. */
  weightsPath: z.string().min(1).max(4096).optional(),
});
export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const dataConfigSchema = z.strictObject({
  datasetId: z.uuid(),
  imageColumn: z.string().min(1).max(200).default('image'),
  labelColumn: z.string().min(1).max(200).default('label'),
  splitColumn: z.string().min(1).max(200).default('split'),
  clinicalColumns: z.array(z.string().min(1).max(200)).max(4096).optional(),
  augment: z.boolean().default(false),
});
export type DataConfig = z.infer<typeof dataConfigSchema>;

export const OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
export const LR_SCHEDULES = ['constant', 'cosine', 'step', 'warmup_cosine', 'reduce_on_plateau'] as const;

export const trainingConfigSchema = z.strictObject({
  epochs: z.int().min(1).max(10000),
  batchSize: z.int().min(1).max(4096).default(32),
  learningRate: z.number().positive().max(10).default(1e-3),
  optimizer: z.enum(OPTIMIZERS).default('adam'),
  weightDecay: z.number().min(0).max(1).default(0),
  momentum: z.number().min(0).max(1).default(0.9),
  lrSchedule: z.enum(LR_SCHEDULES).default('constant'),
  seed: z.int().min(0).max(2 ** 31 - 1).default(42),
  /** Save a checkpoint every N epochs. */
  checkpointEvery: z.int().min(1).max(10000).default(1),
  /** How many recent checkpoints to keep besides the best one. */
  keepLastCheckpoints: z.int().min(1).max(100).default(3),
  monitorMetric: z.string().min(1).max(100).default('val_loss'),
  monitorMode: z.enum(['min', 'max']).default('min'),
  earlyStoppingPatience: z.int().min(1).max(10000).optional(),
  gradientClipNorm: z.number().positive().max(1e6).optional(),
  resources: z
    .strictObject({
      workers: z.int().min(1).max(256).default(1),
    })
    .default({ workers: 1 }),
});
export type TrainingConfig = z.infer<typeof trainingConfigSchema>;

export const createTrainingJobSchema = z.strictObject({
  name,
  description: description.default(''),
  modelConfig: modelConfigSchema.default(modelConfigSchema.parse({})),
  dataConfig: dataConfigSchema,
  trainingConfig: trainingConfigSchema,
});
export type CreateTrainingJob = z.infer<typeof createTrainingJobSchema>;

export const listTrainingJobsQuerySchema = z.strictObject({
  status: trainingJobStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListTrainingJobsQuery = z.infer<typeof listTrainingJobsQuerySchema>;
