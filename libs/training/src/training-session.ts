import type { LayersModel, Optimizer, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { ModelConfig, TrainingConfig } from '@medfusion/contracts';
import type { LoadedDataset, Split } from '@medfusion/fusion';
import type { CheckpointContents, StoredTensor } from './checkpoint-codec.js';
import { classificationLoss, resolveClassWeights } from './classification-loss.js';
import { classificationMetrics, scalarMetrics, type ClassificationMetrics } from './classification-metrics.js';
import type { Tf } from './compute-backend.js';
import { epochOrder } from './epoch-order.js';
import { buildFusionNetwork } from './fusion-model.js';
import { auxiliaryObjective, type AuxiliaryObjective } from './auxiliary-objective.js';
import { VIEW_IMAGES_INPUT, VIEW_MASK_INPUT } from './multiview/multiview-branch.js';
import { setDropoutStep } from './seeded-dropout.js';
import { initialPlateauState, learningRateForUpdate, plateauStep, type PlateauState } from './lr-schedule.js';
import { createOptimizer, setLearningRate } from './optimizers/optimizer-factory.js';
import { inVariableOrder, toLiveOptimizerName, toStableOptimizerName } from './optimizers/optimizer-state.js';
import { GradientStep } from './training-step.js';
import { loadInitialWeights } from './initial-weights.js';
import { dataParallelStepsPerEpoch } from './distributed/batch-shard.js';
import { DataParallel } from './distributed/data-parallel.js';
import type { DistributedTraining } from './distributed/data-parallel-group.js';

/** What a checkpoint records besides the weights: enough to continue at the same epoch and step. */
export interface CheckpointMeta {
  /** Epochs fully done. */
  epoch: number;
  /** Steps done into epoch `epoch + 1` (0 at an epoch boundary). */
  step: number;
  globalStep: number;
  seed: number;
  /** Running training loss of the partial epoch, so its epoch figure stays exact after a resume. */
  partial: { lossSum: number; seen: number };
  best: { value: number | null; epochsSince: number };
  /** Rate of the last optimizer update. */
  learningRate: number;
  /** `reduce_on_plateau` state after the last finished epoch (absent in checkpoints of other schedules and of older versions). */
  plateau?: PlateauState;
  /**
   * TF.js Adam's running powers of beta1 and beta2 (float32). Its setWeights recomputes them with
   * pow(), which can differ from the running product in the last bit, and Adam carries that into
   * the weights; restoring them makes a resume bit-exact. Absent for other optimizers and in older checkpoints.
   */
  adamAccBeta?: [number, number];
}

/** A control request the session honours between steps. */
export type ControlRequest = 'none' | 'pause' | 'stop' | 'handback';

export interface StepInfo {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  samplesPerSecond: number;
  progress: number;
}

export interface EpochInfo {
  epoch: number;
  totalEpochs: number;
  metrics: Record<string, number>;
  valConfusionMatrix: number[][];
  learningRate: number;
  samplesPerSecond: number;
  etaSeconds: number;
  progress: number;
  durationSeconds: number;
  /** Data-parallel runs: each rank's samples/s this epoch, by rank (samplesPerSecond is their sum). */
  rankSamplesPerSecond?: number[];
}

export interface SavedCheckpointInfo {
  meta: CheckpointMeta;
  /** Metrics of the last finished epoch (empty for a mid-epoch checkpoint). */
  metrics: Record<string, number>;
  reason: 'epoch' | ControlRequest;
}

export interface TrainingSessionOptions {
  tf: Tf;
  modelConfig: ModelConfig;
  trainingConfig: TrainingConfig;
  data: LoadedDataset;
  resume?: CheckpointContents<CheckpointMeta>;
  control(): ControlRequest;
  onStep(info: StepInfo): void;
  onEpoch(info: EpochInfo): Promise<void>;
  saveCheckpoint(contents: CheckpointContents<CheckpointMeta>, info: SavedCheckpointInfo): Promise<void>;
  /**
   * Data-parallel training over a collective group (docs/distributed.md): trainingConfig.batchSize is
   * per rank; only rank 0 validates and calls onStep, onEpoch and saveCheckpoint, and rank 0's
   * control requests apply to every rank.
   */
  distributed?: DistributedTraining;
  /**
   * Where the starting weights are, as the worker resolved and checked it (`modelConfig.weightsPath`
   * confined to the data roots, or the stored file of `modelConfig.initialWeights`); `label` names
   * the field in errors. Unset: `modelConfig.weightsPath` as given.
   */
  initialWeights?: { path: string; label: string };
}

export type TrainingOutcome =
  | { kind: 'completed'; model: LayersModel; epochs: number; earlyStopped: boolean; val: ClassificationMetrics; test: ClassificationMetrics }
  | { kind: 'pause' | 'stop' | 'handback'; epoch: number; step: number };

export class NonFiniteLossError extends Error {
  readonly code = 'NON_FINITE_LOSS';
  constructor(epoch: number, step: number, loss: number) {
    super(`training loss became ${loss} at epoch ${epoch}, step ${step}; lower trainingConfig.learningRate or check the data for extreme values`);
  }
}

/**
 * Trains one job: a seeded permutation per epoch, one optimizer update per
 * `gradientAccumulationSteps` batches (an accumulation window never spans two epochs), control
 * requests honoured between windows (checkpointing first), validation after every epoch,
 * checkpoints at epoch ends, test metrics at the end. Resuming from a checkpoint continues at the
 * same epoch and step. Control waits for the end of a window rather than checkpointing half-summed
 * gradients: a window is at most a few batches, and a checkpoint then always holds plain weights
 * and optimizer state, so a resumed run is exactly an uninterrupted one.
 */
export async function runTrainingSession(o: TrainingSessionOptions): Promise<TrainingOutcome> {
  const { tf, trainingConfig: tc, data } = o;
  if (data.numClasses > o.modelConfig.numClasses) {
    throw new Error(`the dataset has ${data.numClasses} classes but modelConfig.numClasses is ${o.modelConfig.numClasses}`);
  }
  if ((o.modelConfig.views.count > 1) !== (data.train.viewMask !== undefined)) {
    throw new Error(`modelConfig.views.count is ${o.modelConfig.views.count} but the data set was read ${data.train.viewMask ? 'with' : 'without'} dataConfig.viewColumns; set both together`);
  }
  const vocabularies = data.categoricalVocabularies ?? [];
  const { model, supervised } = buildFusionNetwork(tf, o.modelConfig, {
    numClinical: data.clinicalColumns.length,
    seed: tc.seed,
    categoricalCardinalities: vocabularies.map((v) => v.length + 1),
  });
  // User-supplied starting weights; a resumed run takes every weight from its checkpoint instead.
  const start = o.initialWeights ?? (o.modelConfig.weightsPath ? { path: o.modelConfig.weightsPath, label: 'modelConfig.weightsPath' } : undefined);
  if (start && !o.resume) await loadInitialWeights(tf, model, start.path, start.label);
  // With an auxiliary loss (attention supervision, per-view cross-entropy) the step trains the
  // two-output view of the same layers; checkpoints hold its weights, since its extra head (CAM
  // head, view classifier) lives only there.
  const trained = supervised ?? model;
  const loss = classificationLoss(tf, tc.loss, resolveClassWeights(tc.loss, data.train.labels, o.modelConfig.numClasses));
  const auxiliary = auxiliaryObjective(tf, o.modelConfig, loss);
  const shape = shapesOf(o.modelConfig, model, auxiliary);
  const optimizer: Optimizer = createOptimizer(tf, tc);
  const stepper = new GradientStep(tf, trained, optimizer, auxiliary?.objective ?? loss, {
    clipNorm: tc.gradientClipNorm,
    clipValue: tc.gradientClipValue,
  });

  const meta: CheckpointMeta = o.resume?.meta ?? {
    epoch: 0,
    step: 0,
    globalStep: 0,
    seed: tc.seed,
    partial: { lossSum: 0, seen: 0 },
    best: { value: null, epochsSince: 0 },
    learningRate: tc.learningRate,
  };
  if (tc.lrSchedule === 'reduce_on_plateau') meta.plateau ??= initialPlateauState(tc);
  if (o.resume) await restore(tf, trained, optimizer, o.resume, stepper.trainables);
  const dp = o.distributed ? new DataParallel(tf, o.distributed.group, stepper.trainables, o.control) : undefined;
  if (dp) await dp.broadcastWeights(trained);
  const root = !dp || dp.isRoot;

  const n = data.train.count;
  const stepsPerEpoch = dp ? dataParallelStepsPerEpoch(n, tc.batchSize, dp.worldSize) : Math.ceil(n / tc.batchSize);
  const window = tc.gradientAccumulationSteps;
  const updatesPerEpoch = Math.ceil(stepsPerEpoch / window);
  const totalSteps = stepsPerEpoch * tc.epochs;
  const monitorSign = tc.monitorMode === 'max' ? 1 : -1;
  let lastMetrics: Record<string, number> = {};

  const checkpoint = async (reason: SavedCheckpointInfo['reason']) =>
    o.saveCheckpoint(await snapshot(trained, optimizer, meta), { meta: structuredClone(meta), metrics: lastMetrics, reason });

  for (let epoch = meta.epoch + 1; epoch <= tc.epochs; epoch++) {
    const order = epochOrder(n, tc.seed, epoch);
    const epochStart = performance.now();
    let samplesThisRun = 0;
    for (let step = meta.step; step < stepsPerEpoch; step++) {
      if (step % window === 0) {
        const request = dp ? dp.takeControl() : o.control();
        if (request !== 'none') {
          if (root) await checkpoint(request);
          release();
          return { kind: request, epoch: meta.epoch, step: meta.step };
        }
        const update = (epoch - 1) * updatesPerEpoch + step / window;
        setLearningRate(optimizer, (meta.learningRate = learningRateForUpdate(tc, epoch, update, updatesPerEpoch, meta.plateau)));
      }
      const idx = dp ? dp.shard(order, step, tc.batchSize) : order.subarray(step * tc.batchSize, Math.min(n, (step + 1) * tc.batchSize));
      // Dropout masks follow the global step, so a resumed run draws the masks it would have drawn.
      setDropoutStep(model, meta.globalStep);
      // A rank's shard of a short last batch may be empty: it adds no gradient but still all-reduces.
      const loss = idx.length > 0 ? accumulate(tf, stepper, data.train, idx, shape) : 0;
      if (!Number.isFinite(loss)) {
        release();
        throw new NonFiniteLossError(epoch, step + 1, loss);
      }
      if (dp) dp.noteLoss(loss, idx.length);
      else {
        meta.partial.lossSum += loss * idx.length;
        meta.partial.seen += idx.length;
      }
      if ((step + 1) % window === 0 || step + 1 === stepsPerEpoch) {
        if (dp) {
          const reduced = await dp.reduceAndApply(stepper);
          meta.partial.lossSum += reduced.lossSum;
          meta.partial.seen += reduced.cases;
        } else stepper.apply();
      }
      meta.step = step + 1;
      meta.globalStep++;
      samplesThisRun += idx.length;
      const elapsed = (performance.now() - epochStart) / 1000;
      if (root) o.onStep({
        epoch,
        step: step + 1,
        stepsPerEpoch,
        loss,
        samplesPerSecond: samplesThisRun / Math.max(elapsed, 1e-6),
        progress: meta.globalStep / totalSteps,
      });
    }

    const val = root ? evaluate(tf, model, data.val, shape) : undefined;
    const durationSeconds = (performance.now() - epochStart) / 1000;
    const samplesPerSecond = samplesThisRun / Math.max(durationSeconds, 1e-6);
    lastMetrics = { ...finite({ train_loss: meta.partial.lossSum / Math.max(meta.partial.seen, 1) }), ...(val ? scalarMetrics('val', val) : {}) };
    meta.epoch = epoch;
    meta.step = 0;
    meta.partial = { lossSum: 0, seen: 0 };
    let monitored = lastMetrics[tc.monitorMetric] ?? NaN;
    // Ranks check they still hold the same weights and take rank 0's figure, so they stop and decay alike.
    const agreed = dp ? await dp.agreeAtEpochEnd(epoch, samplesPerSecond, monitored) : undefined;
    if (agreed) monitored = agreed.monitored;
    const totalSamplesPerSecond = agreed ? agreed.rankSamplesPerSecond.reduce((a, b) => a + b, 0) : samplesPerSecond;
    if (meta.best.value === null || monitorSign * (monitored - meta.best.value) > 0) meta.best = { value: monitored, epochsSince: 0 };
    else meta.best.epochsSince++;
    if (meta.plateau) meta.plateau = plateauStep(tc, tc.monitorMode, meta.plateau, monitored);

    if (val) await o.onEpoch({
      epoch,
      totalEpochs: tc.epochs,
      metrics: lastMetrics,
      valConfusionMatrix: val.confusionMatrix,
      learningRate: meta.learningRate,
      samplesPerSecond: totalSamplesPerSecond,
      rankSamplesPerSecond: agreed?.rankSamplesPerSecond,
      etaSeconds: ((tc.epochs - epoch) * stepsPerEpoch * tc.batchSize * (dp?.worldSize ?? 1)) / Math.max(totalSamplesPerSecond, 1e-6),
      progress: meta.globalStep / totalSteps,
      durationSeconds,
    });
    const earlyStop = tc.earlyStoppingPatience !== undefined && meta.best.epochsSince >= tc.earlyStoppingPatience;
    if (root && (epoch % tc.checkpointEvery === 0 || epoch === tc.epochs || earlyStop)) await checkpoint('epoch');
    if (earlyStop) return finish(true);
  }
  return finish(false);

  function release(): void {
    stepper.dispose();
    optimizer.dispose();
    model.dispose();
  }

  function finish(earlyStopped: boolean): TrainingOutcome {
    stepper.dispose();
    optimizer.dispose();
    // Saved with the model (model.json's userDefinedMetadata): what inference needs to turn a raw
    // CSV row into the model's inputs the way training did.
    model.setUserDefinedMetadata({ medfusion: preprocessingOf(data) });
    return {
      kind: 'completed',
      model,
      epochs: meta.epoch,
      earlyStopped,
      val: evaluate(tf, model, data.val, shape),
      test: evaluate(tf, model, data.test, shape),
    };
  }
}

/** The input preprocessing a trained model depends on, in JSON form. */
export interface ModelPreprocessing {
  [key: string]: string[] | number[] | string[][];
  clinicalColumns: string[];
  clinicalMean: number[];
  clinicalStd: number[];
  categoricalColumns: string[];
  categoricalVocabularies: string[][];
  classNames: string[];
}

function preprocessingOf(data: LoadedDataset): ModelPreprocessing {
  return {
    clinicalColumns: data.clinicalColumns,
    clinicalMean: data.clinicalMean,
    clinicalStd: data.clinicalStd,
    categoricalColumns: data.categoricalColumns ?? [],
    categoricalVocabularies: data.categoricalVocabularies ?? [],
    classNames: data.classNames,
  };
}

/** Drops undefined figures (an AUC of a one-class split is NaN); JSON and events carry numbers only. */
function finite(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}

/**
 * Input image shape (H, W, C), class count, and which inputs the model takes: a single-modality
 * baseline has only `image` or only `clinical` (TF.js drops inputs no output depends on).
 */
interface Shapes {
  /** H, W, C; V, H, W, C for a multi-view model. */
  image: number[];
  numClasses: number;
  inputs: string[];
  /** With an auxiliary loss: training targets are packed for it. */
  auxiliary?: AuxiliaryObjective;
}

const INPUT_NAMES = ['image', VIEW_IMAGES_INPUT, VIEW_MASK_INPUT, 'clinical', 'clinical_categorical'] as const;

function shapesOf(cfg: ModelConfig, model: LayersModel, auxiliary: AuxiliaryObjective | undefined): Shapes {
  const image = [cfg.imageSize, cfg.imageSize, cfg.imageChannels];
  return {
    image: cfg.views.count > 1 ? [cfg.views.count, ...image] : image,
    numClasses: cfg.numClasses,
    inputs: model.inputNames,
    auxiliary,
  };
}

/** `targets`: 'training' packs what an auxiliary loss needs into y; 'labels' is y alone. */
function batchTensors(tf: Tf, split: Split, idx: ArrayLike<number>, shape: Shapes, targets: 'training' | 'labels' = 'labels'): { x: Tensor[]; y: Tensor } {
  const pixels = split.images.length / split.count;
  const features = split.clinical.length / split.count;
  const columns = (split.categorical?.length ?? 0) / split.count;
  const cat = new Int32Array(idx.length * columns);
  const img = new Float32Array(idx.length * pixels);
  const clin = new Float32Array(idx.length * features * 2);
  const labels = new Int32Array(idx.length);
  for (let b = 0; b < idx.length; b++) {
    const i = idx[b]!;
    img.set(split.images.subarray(i * pixels, (i + 1) * pixels), b * pixels);
    // Values then their presence mask: the model sees which clinical values were missing.
    clin.set(split.clinical.subarray(i * features, (i + 1) * features), b * features * 2);
    clin.set(split.clinicalMask.subarray(i * features, (i + 1) * features), b * features * 2 + features);
    if (columns) cat.set(split.categorical.subarray(i * columns, (i + 1) * columns), b * columns);
    labels[b] = split.labels[i]!;
  }
  const tensorFor = (name: string): Tensor => {
    switch (name as (typeof INPUT_NAMES)[number]) {
      case 'image':
      case VIEW_IMAGES_INPUT:
        return tf.tensor(img, [idx.length, ...shape.image]);
      case VIEW_MASK_INPUT:
        return viewMaskBatch(tf, split, idx, shape.image[0]!);
      case 'clinical':
        return tf.tensor2d(clin, [idx.length, features * 2]);
      case 'clinical_categorical':
        return tf.tensor2d(cat, [idx.length, columns], 'int32');
      default:
        throw new Error(`the model has an input "${name}" the training loop does not know (it knows ${INPUT_NAMES.join(', ')})`);
    }
  };
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), shape.numClasses));
  if (targets === 'labels' || !shape.auxiliary) return { x: shape.inputs.map(tensorFor), y };
  const packed = shape.auxiliary.pack(tf, y as Tensor2D, split, idx);
  y.dispose();
  return { x: shape.inputs.map(tensorFor), y: packed };
}

/** B x V: which views of the batch's cases are present. */
function viewMaskBatch(tf: Tf, split: Split, idx: ArrayLike<number>, views: number): Tensor {
  if (!split.viewMask) throw new Error(`the model takes ${views} views per case but the data set was read without dataConfig.viewColumns`);
  const mask = new Float32Array(idx.length * views);
  for (let b = 0; b < idx.length; b++) mask.set(split.viewMask.subarray(idx[b]! * views, (idx[b]! + 1) * views), b * views);
  return tf.tensor2d(mask, [idx.length, views]);
}

/** Adds one batch's gradients to the current window; returns the batch's mean loss. */
function accumulate(tf: Tf, stepper: GradientStep, split: Split, idx: Uint32Array, shape: Shapes): number {
  const { x, y } = batchTensors(tf, split, idx, shape, 'training');
  try {
    return stepper.accumulate(x, y);
  } finally {
    tf.dispose([...x, y]);
  }
}

/** Probabilities for a whole split, in batches, then the metrics. */
function evaluate(tf: Tf, model: LayersModel, split: Split, shape: Shapes): ClassificationMetrics {
  const { numClasses } = shape;
  const probs = new Float32Array(split.count * numClasses);
  const batch = 256;
  for (let start = 0; start < split.count; start += batch) {
    const idx = Array.from({ length: Math.min(batch, split.count - start) }, (_, k) => start + k);
    const { x, y } = batchTensors(tf, split, idx, shape);
    const p = model.predict(x) as Tensor;
    probs.set(p.dataSync() as Float32Array, start * numClasses);
    tf.dispose([...x, y, p]);
  }
  return classificationMetrics(probs, split.labels, numClasses);
}

async function snapshot(model: LayersModel, optimizer: Optimizer, meta: CheckpointMeta): Promise<CheckpointContents<CheckpointMeta>> {
  const weights: StoredTensor[] = model.weights.map((w) => {
    const v = w.read();
    return { name: w.originalName, shape: v.shape, data: v.dataSync() as Float32Array };
  });
  const optimizer_: StoredTensor[] = (await optimizer.getWeights()).map((t) => ({
    name: toStableOptimizerName(model, t.name),
    shape: t.tensor.shape,
    data: Float32Array.from(t.tensor.dataSync()),
  }));
  const acc = adamAccBetas(optimizer);
  const saved = structuredClone(meta);
  if (acc) saved.adamAccBeta = [acc[0].dataSync()[0]!, acc[1].dataSync()[0]!];
  return { meta: saved, weights, optimizer: optimizer_ };
}

/** TF.js AdamOptimizer's accBeta1/accBeta2 variables (not part of its public API, hence the shape check). */
function adamAccBetas(optimizer: Optimizer): [Variable, Variable] | undefined {
  const o = optimizer as unknown as { getClassName(): string; accBeta1?: Variable; accBeta2?: Variable };
  if (o.getClassName() !== 'Adam' || !o.accBeta1 || !o.accBeta2) return undefined;
  return [o.accBeta1, o.accBeta2];
}

/**
 * Weights are matched by name when every name matches, so a checkpoint loads into a model that
 * lists its weights in another order (gradient checkpointing lists each block's weights together);
 * otherwise (layers TF.js named itself, numbered per process) in order, as checkpoints always were.
 * The optimizer's slots follow `trainables`, the order the step hands it gradients in.
 */
async function restore(tf: Tf, model: LayersModel, optimizer: Optimizer, c: CheckpointContents<CheckpointMeta>, trainables: readonly Variable[]): Promise<void> {
  if (c.weights.length !== model.weights.length) {
    throw new Error(`checkpoint has ${c.weights.length} weight tensors but the model has ${model.weights.length}; was the model config changed?`);
  }
  const byName = new Map(c.weights.map((w) => [w.name, w]));
  const named = byName.size === c.weights.length && model.weights.every((w) => byName.has(w.originalName));
  const stored = named ? model.weights.map((w) => byName.get(w.originalName)!) : c.weights;
  model.weights.forEach((w, i) => {
    const s = stored[i]!.shape;
    if (s.length !== w.shape.length || s.some((d, k) => d !== w.shape[k])) {
      throw new Error(`checkpoint weight ${stored[i]!.name} has shape [${s.join(', ')}] but the model's ${w.originalName} is [${w.shape.join(', ')}]; was the model config changed?`);
    }
  });
  model.setWeights(stored.map((w) => tf.tensor(w.data, w.shape)));
  if (c.optimizer.length) {
    const state = c.optimizer.map((t) => ({ name: toLiveOptimizerName(model, t.name), tensor: tf.tensor(t.data, t.shape) }));
    await optimizer.setWeights(inVariableOrder(state, trainables));
    const acc = adamAccBetas(optimizer);
    if (acc && c.meta.adamAccBeta) c.meta.adamAccBeta.forEach((value, i) => tf.tidy(() => acc[i]!.assign(tf.scalar(value))));
  }
}
