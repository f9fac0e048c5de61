import * as tfjs from '@tensorflow/tfjs';
import type { Tensor } from '@tensorflow/tfjs';
import { mixSeed } from '@medfusion/fusion';

interface SeededDropoutArgs {
  rate: number;
  seed: number;
  name?: string;
}

/**
 * Dropout whose mask is a function of (seed, step). TF.js's own Dropout layer with a seed draws the
 * SAME mask on every call (its seed restarts the generator each time), and without a seed it is
 * not reproducible. The training loop sets the step before each micro-batch (setStep), so a run,
 * and a run resumed from a checkpoint, draws identical masks; the step also advances on every
 * training call for callers that do not set it. Inactive at inference.
 */
export class SeededDropout extends tfjs.layers.Layer {
  static readonly className = 'MedFusionSeededDropout';
  readonly rate: number;
  readonly seed: number;
  private step = 0;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  setStep(step: number): void {
    this.step = step;
  }

  /** The step the next training call will use. */
  get currentStep(): number {
    return this.step;
  }

  override call(inputs: Tensor | Tensor[], kwargs: { training?: boolean }): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (!kwargs['training'] || this.rate === 0) return tfjs.clone(x);
    const seed = mixSeed(this.seed, this.step++);
    return tfjs.dropout(x, this.rate, undefined, seed);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tfjs.serialization.registerClass(SeededDropout);

/**
 * Points every seeded dropout layer of a model at a step, so its masks depend on the step alone;
 * looks inside wrapper layers that hold their own (`inner`, as RecomputeBlock).
 */
export function setDropoutStep(model: { layers: unknown[] }, step: number): void {
  for (const layer of model.layers) {
    if (layer instanceof SeededDropout) layer.setStep(step);
    const inner = (layer as { inner?: unknown }).inner;
    if (Array.isArray(inner)) setDropoutStep({ layers: inner }, step);
  }
}
