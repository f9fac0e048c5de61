import type { LayersModel, NamedTensorMap, Optimizer, Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import type { Tf } from './compute-backend.js';

export type LossFunction = (yTrue: Tensor, yPred: Tensor) => Tensor;

export interface StepOptions {
  /** Scale the (averaged) gradients so their global L2 norm is at most this. */
  clipNorm?: number;
  /** Clip every gradient element to [-clipValue, clipValue], before the norm clip. */
  clipValue?: number;
}

/**
 * One optimizer update made of one or more micro-batches, replacing `model.trainOnBatch` so that
 * gradients can be accumulated and clipped. Each micro-batch runs the model with training = true
 * (BatchNorm uses batch statistics and updates its moving averages, dropout is active) and adds
 * n_i x its mean-loss gradient; `apply` divides by N = sum n_i, which is exactly the gradient of
 * the mean loss over all N cases, clips it and hands it to the optimizer.
 */
export class GradientStep {
  private readonly variables: Variable[];
  private sum: NamedTensorMap | undefined;
  private cases = 0;
  private microBatches = 0;

  constructor(
    private readonly tf: Tf,
    private readonly model: LayersModel,
    private readonly optimizer: Optimizer,
    private readonly loss: LossFunction,
    private readonly options: StepOptions = {},
  ) {
    // LayerVariable.read() hands out the underlying tf.Variable, which is what gradients key on.
    this.variables = model.trainableWeights.map((w) => w.read() as Variable);
  }

  /** Micro-batches added since the last update. */
  get pending(): number {
    return this.microBatches;
  }

  /** Forward and backward pass of one micro-batch of `count` cases; returns its mean loss. */
  accumulate(x: Tensor[], y: Tensor): number {
    const { tf } = this;
    const count = y.shape[0]!;
    const { value, grads } = tf.variableGrads(() => this.loss(y, this.model.apply(x, { training: true }) as Tensor) as Scalar, this.variables);
    const loss = value.dataSync()[0]!;
    value.dispose();
    if (!this.sum) {
      // One micro-batch needs no scaling: keep its gradient as it is (exactly trainOnBatch's step).
      this.sum = grads;
    } else {
      const prev = this.sum;
      const first = this.microBatches === 1 ? this.cases : 1;
      this.sum = tf.tidy(() => Object.fromEntries(Object.keys(prev).map((k) => [k, tf.add(tf.mul(prev[k]!, first), tf.mul(grads[k]!, count))])));
      tf.dispose([...Object.values(prev), ...Object.values(grads)]);
    }
    this.cases += count;
    this.microBatches++;
    return loss;
  }

  /** Averages, clips and applies the accumulated gradient; returns its global norm before clipping. */
  apply(): number {
    if (!this.sum) throw new Error('GradientStep.apply called with no accumulated micro-batch');
    return this.applyMean(this.drain().grads!);
  }

  /**
   * The window's mean gradient (keyed by variable name; the caller owns it) and its case count, and
   * empties the window: the hook where data-parallel training all-reduces before `applyMean`.
   * A window with no micro-batch (a rank whose shard of a short last batch is empty) gives no
   * gradient and 0 cases.
   */
  drain(): { grads: NamedTensorMap | undefined; cases: number } {
    const { tf } = this;
    const sum = this.sum;
    const cases = this.cases;
    this.sum = undefined;
    this.cases = 0;
    if (!sum) return { grads: undefined, cases: 0 };
    const scale = this.microBatches === 1 ? 1 : 1 / cases;
    this.microBatches = 0;
    if (scale === 1) return { grads: sum, cases };
    const grads = tf.tidy(() => Object.fromEntries(Object.entries(sum).map(([k, g]) => [k, tf.mul(g, scale)])));
    tf.dispose(Object.values(sum));
    return { grads, cases };
  }

  /** Clips and applies a mean gradient (disposing it); returns its global norm before clipping. */
  applyMean(mean: NamedTensorMap): number {
    const { tf } = this;
    const { grads, norm } = tf.tidy(() => clipGradients(tf, Object.fromEntries(Object.entries(mean).map(([k, g]) => [k, g.clone()])), this.options));
    tf.dispose(Object.values(mean));
    this.optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return norm;
  }

  /** The trained variables, in the fixed order the model lists them (gradients are keyed by their names). */
  get trainables(): readonly Variable[] {
    return this.variables;
  }

  dispose(): void {
    if (this.sum) this.tf.dispose(Object.values(this.sum));
    this.sum = undefined;
  }
}

/** Global L2 norm over every gradient: sqrt(sum over tensors of sum(g^2)). */
export function globalNorm(tf: Tf, grads: NamedTensorMap): number {
  return tf.tidy(() => Math.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
}

/**
 * Element clipping to [-clipValue, clipValue], then global-norm clipping: when the norm N exceeds
 * clipNorm every gradient is multiplied by clipNorm / N, which keeps the update's direction.
 * Returns the new gradients (the caller disposes them) and the norm before any clipping.
 */
export function clipGradients(tf: Tf, grads: NamedTensorMap, o: StepOptions): { grads: NamedTensorMap; norm: number } {
  const norm = globalNorm(tf, grads);
  if (o.clipValue === undefined && o.clipNorm === undefined) return { grads, norm };
  let out = grads;
  if (o.clipValue !== undefined) {
    const v = o.clipValue;
    out = Object.fromEntries(Object.entries(out).map(([k, g]) => [k, tf.clipByValue(g, -v, v)]));
  }
  if (o.clipNorm !== undefined) {
    const n = o.clipValue === undefined ? norm : globalNorm(tf, out);
    if (n > o.clipNorm) {
      const factor = o.clipNorm / n;
      out = Object.fromEntries(Object.entries(out).map(([k, g]) => [k, tf.mul(g, factor)]));
    }
  }
  return { grads: out, norm };
}
