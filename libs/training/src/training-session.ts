import type { LayersModel, Optimizer, Tensor } from '@tensorflow/tfjs';
import type { ModelConfig, TrainingConfig } from '@medfusion/contracts';
import type { LoadedDataset, Split } from '@medfusion/fusion';
import type { CheckpointContents, StoredTensor } from './checkpoint-codec.js';
import { classificationLoss, resolveClassWeights } from './classification-loss.js';
import { classificationMetrics, scalarMetrics, type ClassificationMetrics } from './classification-metrics.js';
import type { Tf } from './compute-backend.js';
import { epochOrder } from './epoch-order.js';
import { buildFusionModel } from './fusion-model.js';
import { loadInitialWeights } from './initial-weights.js';

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
  learningRate: number;
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
 * Trains one job: a seeded permutation per epoch, one optimizer step per batch, control requests
 * honoured between steps (checkpointing first), validation after every epoch, checkpoints at epoch
 * ends, test metrics at the end. Resuming from a checkpoint continues at the same epoch and step.
 */
export async function runTrainingSession(o: TrainingSessionOptions): Promise<TrainingOutcome> {
  const { tf, trainingConfig: tc, data } = o;
  if (data.numClasses > o.modelConfig.numClasses) {
    throw new Error(`the dataset has ${data.numClasses} classes but modelConfig.numClasses is ${o.modelConfig.numClasses}`);
  }
  const model = buildFusionModel(tf, o.modelConfig, { numClinical: data.clinicalColumns.length, seed: tc.seed });
  // User-supplied starting weights; a resumed run takes every weight from its checkpoint instead.
  if (o.modelConfig.weightsPath && !o.resume) await loadInitialWeights(tf, model, o.modelConfig.weightsPath);
  const shape = shapesOf(o.modelConfig, model);
  const optimizer: Optimizer = tc.optimizer === 'sgd' ? tf.train.momentum(tc.learningRate, tc.momentum) : tf.train.adam(tc.learningRate);
  const classWeights = resolveClassWeights(tc.loss, data.train.labels, o.modelConfig.numClasses);
  model.compile({ optimizer, loss: classificationLoss(tf, tc.loss, classWeights) });

  const meta: CheckpointMeta = o.resume?.meta ?? {
    epoch: 0,
    step: 0,
    globalStep: 0,
    seed: tc.seed,
    partial: { lossSum: 0, seen: 0 },
    best: { value: null, epochsSince: 0 },
    learningRate: tc.learningRate,
  };
  if (o.resume) await restore(tf, model, optimizer, o.resume);

  const n = data.train.count;
  const stepsPerEpoch = Math.ceil(n / tc.batchSize);
  const totalSteps = stepsPerEpoch * tc.epochs;
  const monitorSign = tc.monitorMode === 'max' ? 1 : -1;
  let lastMetrics: Record<string, number> = {};

  const checkpoint = async (reason: SavedCheckpointInfo['reason']) =>
    o.saveCheckpoint(await snapshot(model, optimizer, meta), { meta: structuredClone(meta), metrics: lastMetrics, reason });

  for (let epoch = meta.epoch + 1; epoch <= tc.epochs; epoch++) {
    setLearningRate(optimizer, (meta.learningRate = learningRateAt(tc, epoch)));
    const order = epochOrder(n, tc.seed, epoch);
    const epochStart = performance.now();
    let samplesThisRun = 0;
    for (let step = meta.step; step < stepsPerEpoch; step++) {
      const request = o.control();
      if (request !== 'none') {
        await checkpoint(request);
        model.dispose();
        return { kind: request, epoch: meta.epoch, step: meta.step };
      }
      const idx = order.subarray(step * tc.batchSize, Math.min(n, (step + 1) * tc.batchSize));
      const loss = await trainStep(tf, model, data.train, idx, shape);
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(epoch, step + 1, loss);
      meta.step = step + 1;
      meta.globalStep++;
      meta.partial.lossSum += loss * idx.length;
      meta.partial.seen += idx.length;
      samplesThisRun += idx.length;
      const elapsed = (performance.now() - epochStart) / 1000;
      o.onStep({
        epoch,
        step: step + 1,
        stepsPerEpoch,
        loss,
        samplesPerSecond: samplesThisRun / Math.max(elapsed, 1e-6),
        progress: meta.globalStep / totalSteps,
      });
    }

    const val = evaluate(tf, model, data.val, shape);
    const durationSeconds = (performance.now() - epochStart) / 1000;
    const samplesPerSecond = samplesThisRun / Math.max(durationSeconds, 1e-6);
    lastMetrics = { ...finite({ train_loss: meta.partial.lossSum / Math.max(meta.partial.seen, 1) }), ...scalarMetrics('val', val) };
    meta.epoch = epoch;
    meta.step = 0;
    meta.partial = { lossSum: 0, seen: 0 };
    const monitored = lastMetrics[tc.monitorMetric] ?? NaN;
    if (meta.best.value === null || monitorSign * (monitored - meta.best.value) > 0) meta.best = { value: monitored, epochsSince: 0 };
    else meta.best.epochsSince++;

    await o.onEpoch({
      epoch,
      totalEpochs: tc.epochs,
      metrics: lastMetrics,
      valConfusionMatrix: val.confusionMatrix,
      learningRate: meta.learningRate,
      samplesPerSecond,
      etaSeconds: ((tc.epochs - epoch) * stepsPerEpoch * tc.batchSize) / Math.max(samplesPerSecond, 1e-6),
      progress: meta.globalStep / totalSteps,
      durationSeconds,
    });
    const earlyStop = tc.earlyStoppingPatience !== undefined && meta.best.epochsSince >= tc.earlyStoppingPatience;
    if (epoch % tc.checkpointEvery === 0 || epoch === tc.epochs || earlyStop) await checkpoint('epoch');
    if (earlyStop) return finish(true);
  }
  return finish(false);

  function finish(earlyStopped: boolean): TrainingOutcome {
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

/** Drops undefined figures (an AUC of a one-class split is NaN); JSON and events carry numbers only. */
function finite(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => Number.isFinite(v)));
}

/** Cosine decays to 0 over the run; constant keeps the configured rate. */
export function learningRateAt(tc: TrainingConfig, epoch: number): number {
  if (tc.lrSchedule === 'cosine') return (tc.learningRate * (1 + Math.cos((Math.PI * (epoch - 1)) / tc.epochs))) / 2;
  return tc.learningRate;
}

function setLearningRate(optimizer: Optimizer, lr: number): void {
  // TF.js keeps the rate in a protected field and reads it on every step.
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

/**
 * Input image shape (H, W, C), class count, and which inputs the model takes: a single-modality
 * baseline has only `image` or only `clinical` (TF.js drops inputs no output depends on).
 */
interface Shapes {
  image: [number, number, number];
  numClasses: number;
  inputs: string[];
}

function shapesOf(cfg: ModelConfig, model: LayersModel): Shapes {
  return { image: [cfg.imageSize, cfg.imageSize, cfg.imageChannels], numClasses: cfg.numClasses, inputs: model.inputNames };
}

function batchTensors(tf: Tf, split: Split, idx: ArrayLike<number>, shape: Shapes): { x: Tensor[]; y: Tensor } {
  const pixels = split.images.length / split.count;
  const features = split.clinical.length / split.count;
  const img = new Float32Array(idx.length * pixels);
  const clin = new Float32Array(idx.length * features * 2);
  const labels = new Int32Array(idx.length);
  for (let b = 0; b < idx.length; b++) {
    const i = idx[b]!;
    img.set(split.images.subarray(i * pixels, (i + 1) * pixels), b * pixels);
    // Values then their presence mask: the model sees which clinical values were missing.
    clin.set(split.clinical.subarray(i * features, (i + 1) * features), b * features * 2);
    clin.set(split.clinicalMask.subarray(i * features, (i + 1) * features), b * features * 2 + features);
    labels[b] = split.labels[i]!;
  }
  return {
    x: shape.inputs.map((name) => (name === 'image' ? tf.tensor4d(img, [idx.length, ...shape.image]) : tf.tensor2d(clin, [idx.length, features * 2]))),
    y: tf.oneHot(tf.tensor1d(labels, 'int32'), shape.numClasses),
  };
}

async function trainStep(tf: Tf, model: LayersModel, split: Split, idx: Uint32Array, shape: Shapes): Promise<number> {
  const { x, y } = batchTensors(tf, split, idx, shape);
  try {
    return (await model.trainOnBatch(x, y)) as number;
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
    name: t.name,
    shape: t.tensor.shape,
    data: Float32Array.from(t.tensor.dataSync()),
  }));
  return { meta: structuredClone(meta), weights, optimizer: optimizer_ };
}

async function restore(tf: Tf, model: LayersModel, optimizer: Optimizer, c: CheckpointContents<CheckpointMeta>): Promise<void> {
  if (c.weights.length !== model.weights.length) {
    throw new Error(`checkpoint has ${c.weights.length} weight tensors but the model has ${model.weights.length}; was the model config changed?`);
  }
  model.setWeights(c.weights.map((w) => tf.tensor(w.data, w.shape)));
  if (c.optimizer.length) await optimizer.setWeights(c.optimizer.map((t) => ({ name: t.name, tensor: tf.tensor(t.data, t.shape) })));
}
