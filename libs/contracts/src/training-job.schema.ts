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
/** How several images of a case are joined into one image embedding (docs/models.md, multi-view). */
export const VIEW_AGGREGATIONS = ['mean', 'max', 'attention', 'cross_attention', 'learned_weight'] as const;
export type ViewAggregation = (typeof VIEW_AGGREGATIONS)[number];
/** `mask`: BCE of a spatial attention map against region masks; `cam`: MSE of the normalised class activation map against them. */
export const ATTENTION_SUPERVISION_TYPES = ['mask', 'cam'] as const;
export type AttentionSupervisionType = (typeof ATTENTION_SUPERVISION_TYPES)[number];

/** Stored weights a job may start from, named by id (never by path: paths are the server's business). */
export const initialWeightsSchema = z.union([z.strictObject({ modelId: z.uuid() }), z.strictObject({ checkpointId: z.uuid() })]);
export type InitialWeightsRef = z.infer<typeof initialWeightsSchema>;

/**
 * Fields of a training job that name files on the workers, relative to the job body. They are
 * checked against the caller's rights at the edge (not by schema), so sweeps refuse them as search
 * parameters: a trial's values are not checked one by one.
 */
export const TRAINING_JOB_FILE_FIELDS = ['modelConfig.weightsPath', 'modelConfig.initialWeights'] as const;

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
  /**
   * Gradient checkpointing: each backbone block (ResNet basic block, MobileNetV2 / EfficientNet
   * inverted residual, DenseNet dense layer and transition, ViT encoder block) keeps only its input
   * in the forward pass and is computed again in the backward pass. Same gradients and weights, a
   * lower memory peak for one more forward pass per block; for deep backbones, large images or
   * batches that do not fit in (GPU) memory otherwise. Off by default: on the CPU backends memory
   * is rarely the limit and the extra compute is. Weight names do not change, so models and
   * checkpoints load with it on or off. No effect on `small_cnn` (docs/training.md).
   */
  gradientCheckpointing: z.boolean().default(false),
  /** Filters of the `small_cnn` image branch's convolution blocks, one entry per block. */
  convFilters: z.array(z.int().min(1).max(1024)).min(1).max(6).default([4, 8]),
  imageFeatureSize: z.int().min(1).max(4096).default(32),
  clinicalHiddenSize: z.int().min(1).max(4096).default(32),
  /**
   * Widths of the clinical MLP's blocks (dense + BatchNorm + ReLU + dropout each); the last block's
   * output is the clinical embedding t. Unset = one block of `clinicalHiddenSize`.
   */
  clinicalLayers: z
    .array(z.int().min(1, { message: 'each clinicalLayers width must be at least 1' }).max(4096, { message: 'each clinicalLayers width must be at most 4096' }))
    .min(1, { message: 'clinicalLayers needs at least one width (leave it out for one block of clinicalHiddenSize)' })
    .max(8, { message: 'clinicalLayers allows at most 8 blocks' })
    .optional(),
  /** Dropout of the clinical MLP's blocks; unset = `dropout`. */
  clinicalDropout: z.number().min(0).max(0.95).optional(),
  /** Embedding width of every categorical column; unset = min(16, ceil(1.6 x cardinality^0.56)) per column. */
  categoricalEmbeddingSize: z.int().min(1, { message: 'categoricalEmbeddingSize must be at least 1' }).max(256, { message: 'categoricalEmbeddingSize must be at most 256' }).optional(),
  fusedSize: z.int().min(1).max(4096).default(32),
  dropout: z.number().min(0).max(0.95).default(0.1),
  /**
   * User-supplied starting weights, a path on the worker's file system (nothing is ever
   * downloaded): a TF.js layers model folder or its model.json, or a MedFusion checkpoint. Matched
   * by weight name and shape; every image-backbone weight must be there (docs/models.md). It must
   * lie under a data root (DATA_ROOTS or the uploads folder), symbolic links resolved; stored
   * models and checkpoints are named by id with `initialWeights` instead.
   */
  weightsPath: z.string().min(1).max(4096).optional(),
  /**
   * Start from a stored model's or checkpoint's weights, by id: `{ "modelId": uuid }` (a trained
   * model in the catalogue) or `{ "checkpointId": uuid }` (a checkpoint of a training job). The
   * caller must own it (or be an admin); the worker reads the stored file. Matched like weightsPath.
   */
  initialWeights: initialWeightsSchema.optional(),
  /**
   * Images per case (dataConfig.viewColumns, one column each) through one shared backbone, joined by
   * `aggregation` over the views present. count 1 = one image per case (dataConfig.imageColumn).
   */
  views: z
    .strictObject({
      count: z.int().min(1, { message: 'views.count must be at least 1' }).max(16, { message: 'views.count must be at most 16' }).default(1),
      aggregation: z.enum(VIEW_AGGREGATIONS).default('mean'),
      /** Weight of the cross-entropy of each present view's own prediction (count > 1 only; 0 = off). */
      viewLossWeight: z.number().min(0, { message: 'views.viewLossWeight must be at least 0' }).max(10, { message: 'views.viewLossWeight must be at most 10' }).default(0.1),
    })
    .default({ count: 1, aggregation: 'mean', viewLossWeight: 0.1 }),
  /**
   * An auxiliary loss aligning the image branch's spatial map with per-image region masks
   * (dataConfig.maskColumn): total = classification loss + weight x attention loss. Unset = off.
   */
  attentionSupervision: z
    .strictObject({
      type: z.enum(ATTENTION_SUPERVISION_TYPES),
      weight: z.number().min(0, { message: 'attentionSupervision.weight must be at least 0' }).max(100, { message: 'attentionSupervision.weight must be at most 100' }).default(0.5),
    })
    .optional(),
}).superRefine((m, ctx) => {
  if (m.weightsPath !== undefined && m.initialWeights !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['initialWeights'], message: 'give either weightsPath or initialWeights, not both' });
  }
  if (m.attentionSupervision && m.backbone === 'vit_tiny') {
    ctx.addIssue({ code: 'custom', path: ['attentionSupervision'], message: 'attentionSupervision needs a convolutional backbone (a spatial feature map); vit_tiny has none' });
  }
  if (m.attentionSupervision && m.views.count > 1) {
    ctx.addIssue({ code: 'custom', path: ['attentionSupervision'], message: 'attentionSupervision works with one image per case; it is not available with views.count > 1 yet' });
  }
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
  /**
   * Columns read as categories (learned embeddings, vocabulary from the training split); they are
   * never numeric clinical columns. Unset = none.
   */
  categoricalColumns: z.array(z.string().min(1).max(200)).max(1024).optional(),
  /**
   * Multi-view data: one image-path column per view (modelConfig.views.count of them), used instead
   * of imageColumn. An empty cell is a missing view (masked out), never a dropped row.
   */
  viewColumns: z.array(z.string().min(1).max(200)).min(2, { message: 'viewColumns needs at least 2 columns (leave it out for one image per case)' }).max(16).optional(),
  /** A per-row region-mask image path (white = region), for attention supervision; an empty cell = no mask for that row. */
  maskColumn: z.string().min(1).max(200).optional(),
  /**
   * DICOM images only: the window (in modality units after rescale, e.g. Hounsfield units) for files
   * without their own WindowCenter/WindowWidth; unset = each such image's min..max.
   */
  dicomWindow: z.strictObject({ center: z.number(), width: z.number().min(1, { message: 'a DICOM window is at least 1 wide' }) }).optional(),
}).superRefine((d, ctx) => {
  d.viewColumns?.forEach((c, i) => {
    if (d.viewColumns!.indexOf(c) !== i) ctx.addIssue({ code: 'custom', path: ['viewColumns', i], message: `"${c}" is named twice in viewColumns` });
  });
  const numeric = new Set(d.clinicalColumns ?? []);
  d.categoricalColumns?.forEach((c, i) => {
    if (numeric.has(c)) ctx.addIssue({ code: 'custom', path: ['categoricalColumns', i], message: `"${c}" is also in clinicalColumns; a column is either numeric or categorical` });
  });
});
export type DataConfig = z.infer<typeof dataConfigSchema>;

/** `adamw` is Adam with decoupled weight decay (Loshchilov & Hutter); `sgd` has momentum, optionally Nesterov's. */
export const OPTIMIZERS = ['adam', 'adamw', 'sgd'] as const;
/** Per-epoch learning-rate schedules; `warmupEpochs` composes with any of them. See docs/training.md. */
export const LR_SCHEDULES = ['constant', 'cosine', 'step', 'reduce_on_plateau'] as const;

export const trainingConfigSchema = z.strictObject({
  epochs: z.int().min(1).max(10000),
  batchSize: z.int().min(1).max(4096).default(32),
  learningRate: z.number().positive().max(10).default(1e-3),
  optimizer: z.enum(OPTIMIZERS).default('adam'),
  /** SGD only. */
  momentum: z.number().min(0).max(1).default(0.9),
  /** SGD only, and needs momentum > 0. */
  nesterov: z.boolean().default(false),
  /** AdamW only: decoupled weight decay, w -= learningRate x weightDecay x w every update. */
  weightDecay: z.number().min(0, { message: 'weightDecay must be at least 0' }).max(1, { message: 'weightDecay must be at most 1' }).default(0.01),
  lrSchedule: z.enum(LR_SCHEDULES).default('constant'),
  /** `step`: the rate is multiplied by `stepGamma` every `stepSize` epochs. */
  stepSize: z.int().min(1, { message: 'stepSize must be at least 1 epoch' }).max(10000).default(10),
  stepGamma: z.number().gt(0, { message: 'stepGamma must be greater than 0' }).max(1, { message: 'stepGamma must be at most 1' }).default(0.1),
  /** `reduce_on_plateau`: multiply by `plateauFactor` once `plateauPatience` epochs in a row did not improve `monitorMetric`. */
  plateauFactor: z.number().gt(0, { message: 'plateauFactor must be greater than 0' }).lt(1, { message: 'plateauFactor must be less than 1' }).default(0.1),
  plateauPatience: z.int().min(1).max(10000).default(5),
  /** Epochs after a reduction during which no further reduction happens. */
  plateauCooldown: z.int().min(0).max(10000).default(0),
  /** Floor of `reduce_on_plateau` and the end value of `cosine`. */
  minLearningRate: z.number().min(0).max(10).default(0),
  /** Linear warm-up over this many epochs (counted in optimizer updates, so it rises every update), multiplying any schedule. */
  warmupEpochs: z.number().min(0).max(10000).default(0),
  /** Scale the gradients so their global L2 norm is at most this (after accumulation). */
  gradientClipNorm: z.number().positive().max(1e6).optional(),
  /** Clip every gradient element to [-value, value] (before the norm clip). */
  gradientClipValue: z.number().positive().max(1e6).optional(),
  /** Apply one update per this many batches, with their gradients averaged: effective batch = batchSize x this. */
  gradientAccumulationSteps: z.int().min(1, { message: 'gradientAccumulationSteps must be at least 1' }).max(1024, { message: 'gradientAccumulationSteps must be at most 1024' }).default(1),
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
}).superRefine((t, ctx) => {
  // Combinations that cannot mean what the user wants are refused rather than silently ignored.
  if (t.nesterov && t.optimizer !== 'sgd') ctx.addIssue({ code: 'custom', path: ['nesterov'], message: `nesterov applies to optimizer "sgd" only, not "${t.optimizer}"` });
  else if (t.nesterov && t.momentum === 0) ctx.addIssue({ code: 'custom', path: ['nesterov'], message: 'nesterov needs momentum > 0' });
  if (t.minLearningRate > t.learningRate) ctx.addIssue({ code: 'custom', path: ['minLearningRate'], message: `minLearningRate ${t.minLearningRate} is above learningRate ${t.learningRate}` });
  if (t.warmupEpochs > t.epochs) ctx.addIssue({ code: 'custom', path: ['warmupEpochs'], message: `warmupEpochs ${t.warmupEpochs} is more than epochs ${t.epochs}` });
});
export type TrainingConfig = z.infer<typeof trainingConfigSchema>;

export const createTrainingJobSchema = z.strictObject({
  name,
  description: description.default(''),
  modelConfig: modelConfigSchema.default(modelConfigSchema.parse({})),
  dataConfig: dataConfigSchema,
  trainingConfig: trainingConfigSchema,
}).superRefine((j, ctx) => {
  // The model's view count and attention supervision must match the columns the data provides.
  const views = j.modelConfig.views.count;
  const columns = j.dataConfig.viewColumns?.length ?? 1;
  if (views !== columns) {
    ctx.addIssue({
      code: 'custom',
      path: ['dataConfig', 'viewColumns'],
      message: `modelConfig.views.count is ${views} but dataConfig ${j.dataConfig.viewColumns ? `names ${columns} viewColumns` : 'has no viewColumns (one image per case)'}`,
    });
  }
  if (j.modelConfig.attentionSupervision && !j.dataConfig.maskColumn) {
    ctx.addIssue({ code: 'custom', path: ['dataConfig', 'maskColumn'], message: 'modelConfig.attentionSupervision needs dataConfig.maskColumn (the region-mask image column)' });
  }
});
export type CreateTrainingJob = z.infer<typeof createTrainingJobSchema>;

export const listTrainingJobsQuerySchema = z.strictObject({
  status: trainingJobStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).default(0),
});
export type ListTrainingJobsQuery = z.infer<typeof listTrainingJobsQuerySchema>;
