import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, Tensor, Variable } from '@tensorflow/tfjs';

type Layer = tfjs.layers.Layer;
import type { Tf } from './compute-backend.js';
import { SeededDropout } from './seeded-dropout.js';

/** A block as a function of its input and its weights. */
export type RecomputableBlock = (x: Tensor, ...weights: Tensor[]) => Tensor;

/**
 * Called just before the backward pass runs the block again; returns what to call just after.
 * For blocks with side effects (BatchNorm moving averages, dropout steps) that the re-run must not
 * repeat.
 */
export type ReplayGuard = () => () => void;

/**
 * Gradient checkpointing for one block: the forward pass keeps only the block's input (its
 * intermediate activations are freed at once), and the backward pass runs the block again to get
 * them back. Peak memory drops to about one block's activations plus the block boundaries, for
 * about one more forward pass of compute. Gradients are those of the plain block (tested equal).
 *
 * The weights must be passed explicitly: tf.customGrad only routes gradients to its inputs, so a
 * weight it is not given looks unconnected to the loss and gets no gradient. The block may read
 * them itself (a layer reading its variables) as long as they are these same tensors.
 *
 * TF.js 4.22 does not support a gradient computation inside a gradient function: the inner
 * `tf.grads` replaces the engine's active tape and sets it to null when it ends, and the outer
 * backward pass then fails ("Cannot read properties of null (reading 'forEach')") while disposing
 * its tape. The recomputation therefore saves the outer tape and puts it back. That is engine
 * internals (`engine().state.activeTape`); check it when upgrading TF.js (the test fails if it breaks).
 */
export function recomputed(tf: Tf, block: RecomputableBlock, x: Tensor, weights: Variable[], guard?: ReplayGuard): Tensor {
  const run = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as (tensors: Tensor[]) => void;
    const input = args[0] as Tensor;
    save([input]);
    return {
      value: tf.tidy(() => block(input, ...weights)),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const engine = tf.engine() as unknown as { state: { activeTape: unknown } };
        const outerTape = engine.state.activeTape;
        const after = guard?.();
        try {
          return tf.grads((...xs: Tensor[]) => block(xs[0]!, ...xs.slice(1)))([saved[0]!, ...weights], dy as Tensor);
        } finally {
          after?.();
          engine.state.activeTape = outerTape;
        }
      },
    };
  });
  return run(x, ...weights);
}

interface RecomputeBlockArgs {
  /** A chain of layers, each taking the previous one's output. */
  layers: Layer[];
  /** Add the block's input to the chain's output (a residual block; shapes must match). */
  residual?: boolean;
  name?: string;
}

/**
 * A chain of layers (a backbone block, optionally with its skip connection) trained with recomputation: in training its activations
 * are not kept but recomputed during the backward pass; at inference it is the plain chain. The
 * re-run leaves no trace: BatchNorm moving averages are restored to their values after the
 * forward pass, and seeded dropout layers replay the forward pass's masks. Owns its layers'
 * weights (same names as unwrapped), and saves and loads with them.
 */
export class RecomputeBlock extends tfjs.layers.Layer {
  static readonly className = 'MedFusionRecomputeBlock';
  readonly inner: Layer[];
  readonly residual: boolean;

  constructor(args: RecomputeBlockArgs) {
    super({ name: args.name });
    this.inner = args.layers;
    this.residual = args.residual ?? false;
  }

  /**
   * Builds the inner layers by applying them to the symbolic input first, outside this layer's
   * name scope, so their weights keep the names they have unwrapped (`conv1/kernel`, not
   * `block/kernel`): checkpoints and weightsPath files match either way.
   */
  override apply(inputs: tfjs.SymbolicTensor | tfjs.SymbolicTensor[] | Tensor | Tensor[], kwargs?: tfjs.serialization.ConfigDict): tfjs.SymbolicTensor | tfjs.SymbolicTensor[] | Tensor | Tensor[] {
    if (!this.built && (inputs instanceof tfjs.SymbolicTensor || (Array.isArray(inputs) && inputs[0] instanceof tfjs.SymbolicTensor))) {
      this.inner.reduce<tfjs.SymbolicTensor | tfjs.SymbolicTensor[]>((t, layer) => layer.apply(t) as tfjs.SymbolicTensor, inputs as tfjs.SymbolicTensor);
    }
    return super.apply(inputs, kwargs);
  }

  override build(inputShape: tfjs.Shape | tfjs.Shape[]): void {
    let shape = inputShape;
    for (const layer of this.inner) {
      if (!layer.built) {
        layer.build(shape);
        layer.built = true;
      }
      shape = layer.computeOutputShape(shape);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape | tfjs.Shape[] {
    return this.inner.reduce((shape, layer) => layer.computeOutputShape(shape), inputShape);
  }

  override get trainableWeights(): LayerVariable[] {
    return this.trainable ? this.inner.flatMap((l) => l.trainableWeights) : [];
  }

  override set trainableWeights(_weights: LayerVariable[]) {
    // The weights belong to the inner layers; TF.js's constructor assigns an empty list here.
  }

  override get nonTrainableWeights(): LayerVariable[] {
    const frozen = this.inner.flatMap((l) => l.nonTrainableWeights);
    return this.trainable ? frozen : [...this.inner.flatMap((l) => l.trainableWeights), ...frozen];
  }

  override set nonTrainableWeights(_weights: LayerVariable[]) {
    // As above.
  }

  override call(inputs: Tensor | Tensor[], kwargs: { training?: boolean }): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const training = kwargs['training'] === true;
    const chain = (h: Tensor) => {
      const y = this.inner.reduce((t, layer) => layer.apply(t, { training }) as Tensor, h);
      return this.residual ? tfjs.add(h, y) : y;
    };
    if (!training) return chain(x);
    const dropouts = this.inner.filter((l): l is SeededDropout => l instanceof SeededDropout);
    const stepsBefore = dropouts.map((d) => d.currentStep);
    const guard: ReplayGuard = () => {
      const stats = this.inner.flatMap((l) => l.nonTrainableWeights);
      const kept = stats.map((w) => tfjs.clone(w.read()));
      const stepsAfter = dropouts.map((d) => d.currentStep);
      dropouts.forEach((d, i) => d.setStep(stepsBefore[i]!));
      return () => {
        stats.forEach((w, i) => w.write(kept[i]!));
        tfjs.dispose(kept);
        dropouts.forEach((d, i) => d.setStep(stepsAfter[i]!));
      };
    };
    const variables = this.trainableWeights.map((w) => w.read() as Variable);
    return recomputed(tfjs, (h) => chain(h), x, variables, guard);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), residual: this.residual, layers: this.inner.map((l) => ({ className: l.getClassName(), config: l.getConfig() })) };
  }

  static override fromConfig<T extends tfjs.serialization.Serializable>(cls: tfjs.serialization.SerializableConstructor<T>, config: tfjs.serialization.ConfigDict): T {
    const registry = tfjs.serialization.SerializationMap.getMap().classNameMap;
    const layers = (config['layers'] as Array<{ className: string; config: tfjs.serialization.ConfigDict }>).map(({ className, config: c }) => {
      const entry = registry[className];
      if (!entry) throw new Error(`MedFusionRecomputeBlock "${String(config['name'])}" holds an unknown layer class "${className}"`);
      return entry[1](entry[0], c) as unknown as Layer;
    });
    return new cls({ name: config['name'], residual: config['residual'] === true, layers });
  }
}

tfjs.serialization.registerClass(RecomputeBlock);
