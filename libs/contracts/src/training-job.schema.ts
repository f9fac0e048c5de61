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

/**
 * What the gpu-worker can build today. The model library (more backbones, the other fusion
 * strategies) extends these lists; a job is only accepted for a model that can be trained.
 */
export const IMAGE_BACKBONES = ['small_cnn', 'resnet18', 'resnet34', 'mobilenet_v2', 'efficientnet_b0', 'densenet121', 'vit_tiny'] as const;
export type ImageBackbone = (typeof IMAGE_BACKBONES)[number];
/** `late`, `image_only` and `clinical_only` are baselines to compare real fusion against. */
export const FUSION_TYPES = ['concatenate', 'gated', 'attention', 'cross_attention', 'bilinear', 'late', 'image_only', 'clinical_only'] as const;
export type FusionType = (typeof FUSION_TYPES)[number];

export const modelConfigSchema = z.strictObject({
  backbone: z.enum(IMAGE_BACKBONES).default('small_cnn'),
  fusion: z.enum(FUSION_TYPES).default('concatenate'),
  numClasses: z.int().min(2).max(1000).default(2),
  imageSize: z.int().min(32).max(1024).default(64),
  imageChannels: z.union([z.literal(1), z.literal(3)]).default(1),
  /**
   * Width multiplier of the image backbone's channels (ViT: its embedding width); 1 = the paper's
   * widths. `small_cnn` takes its widths from `convFilters` instead.
   */
  backboneWidth: z
    .number()
    .min(0.0625, { message: 'backboneWidth must be at least 0.0625 (1/16 of the paper widths)' })
    .max(4, { message: 'backboneWidth must be at most 4' })
    .default(1),
  /** Depth multiplier: blocks per stage (ViT: encoder blocks) = max(1, round(paper count x backboneDepth)). */
  backboneDepth: z
    .number()
    .min(0.05, { message: 'backboneDepth must be at least 0.05 (one block per stage)' })
    .max(4, { message: 'backboneDepth must be at most 4' })
    .default(1),
  /** ViT patch size in pixels; unset = imageSize / 8 clamped to 4..16 (16 at 224 px). */
  patchSize: z.int().min(2, { message: 'patchSize must be at least 2' }).max(64, { message: 'patchSize must be at most 64' }).optional(),
  /** Filters of the `small_cnn` image branch's convolution blocks, one entry per block. */
  convFilters: z.array(z.int().min(1).max(1024)).min(1).max(6).default([4, 8]),
  imageFeatureSize: z.int().min(1).max(4096).default(32),
  clinicalHiddenSize: z.int().min(1).max(4096).default(32),
  fusedSize: z.int().min(1).max(4096).default(32),
  dropout: z.number().min(0).max(0.95).default(0.1),
  /**
   * User-supplied starting weights, a path on the worker's file system (nothing is ever
   * downloaded): a TF.js layers model folder or its model.json, or a MedFusion checkpoint. Matched
   * by weight name and shape; every image-backbone weight must be there (docs/models.md).
   */
  weightsPath: z.string().min(1).max(4096).optional(),
}).superRefine((m, ctx) => {
  if (m.patchSize === undefined) return;
  if (m.backbone !== 'vit_tiny') ctx.addIssue({ code: 'custom', path: ['patchSize'], message: `patchSize applies to backbone "vit_tiny" only, not "${m.backbone}"` });
  else if (m.patchSize > m.imageSize) ctx.addIssue({ code: 'custom', path: ['patchSize'], message: `patchSize ${m.patchSize} is larger than imageSize ${m.imageSize}` });
});
export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const dataConfigSchema = z.strictObject({
  datasetId: z.uuid(),
  imageColumn: z.string().min(1).max(200).default('image'),
  labelColumn: z.string().min(1).max(200).default('label'),
  splitColumn: z.string().min(1).max(200).default('split'),
  clinicalColumns: z.array(z.string().min(1).max(200)).max(4096).optional(),
});
export type DataConfig = z.infer<typeof dataConfigSchema>;

/** Implemented today; the model-library work adds AdamW and more schedules. */
export const OPTIMIZERS = ['adam', 'sgd'] as const;
export const LR_SCHEDULES = ['constant', 'cosine'] as const;

export const trainingConfigSchema = z.strictObject({
  epochs: z.int().min(1).max(10000),
  batchSize: z.int().min(1).max(4096).default(32),
  learningRate: z.number().positive().max(10).default(1e-3),
  optimizer: z.enum(OPTIMIZERS).default('adam'),
  /** SGD only. */
  momentum: z.number().min(0).max(1).default(0.9),
  lrSchedule: z.enum(LR_SCHEDULES).default('constant'),
  seed: z.int().min(0).max(2 ** 31 - 1).default(42),
  /** Save a checkpoint every N epochs. */
  checkpointEvery: z.int().min(1).max(10000).default(1),
  /** How many recent checkpoints to keep besides the best one. */
  keepLastCheckpoints: z.int().min(1).max(100).default(3),
  monitorMetric: z
    .enum(['val_loss', 'val_accuracy', 'val_balanced_accuracy', 'val_auc', 'val_auc_pr', 'val_f1', 'val_sensitivity', 'val_specificity', 'val_ece'])
    .default('val_loss'),
  monitorMode: z.enum(['min', 'max']).default('min'),
  earlyStoppingPatience: z.int().min(1).max(10000).optional(),
  /**
   * `cross_entropy`, or `focal` (down-weights easy cases by (1 - p)^gamma). Class weights scale
   * each case's loss by the weight of its true class: a list (one per class) or `balanced`
   * (N / (K * count of the class) on the training split).
   */
  loss: z
    .strictObject({
      type: z.enum(['cross_entropy', 'focal']).default('cross_entropy'),
      gamma: z.number().min(0).max(10).default(2),
      classWeights: z.union([z.literal('balanced'), z.array(z.number().positive().max(1e6)).min(2).max(1000)]).optional(),
    })
    .default({ type: 'cross_entropy', gamma: 2 }),
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
