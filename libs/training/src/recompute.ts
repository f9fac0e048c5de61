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

/**
 * TF.js layers that draw random numbers on every training call. A recomputed block runs twice per
 * step, and these cannot be made to draw the same numbers again, so the re-run would compute other
 * activations than the forward pass and the gradients would be wrong. SeededDropout replays.
 */
const UNREPLAYABLE_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout']);

interface RecomputeBlockArgs {
  /** The block's layers, each after the layers whose outputs it reads. */
  layers: Layer[];
  /**
   * Where each layer's inputs come from: -1 is the block's input, k the output of `layers[k]` (an
   * earlier layer); several indices give the layer a list (Add, Concatenate, Multiply). Unset: a
   * chain, each layer taking the previous one's output. The block's output is the last layer's.
   */
  inbound?: number[][];
  /** Add the block's input to the last layer's output (a residual block; shapes must match). */
  residual?: boolean;
  name?: string;
}

type Shapes = tfjs.Shape | tfjs.Shape[];

/**
 * A backbone block (a small graph of layers, optionally with its skip connection) trained with
 * recomputation: in training its activations are not kept but recomputed during the backward pass;
 * at inference it is the plain graph. The re-run leaves no trace: BatchNorm moving averages are
 * restored to their values after the forward pass, and seeded dropout layers replay the forward
 * pass's masks. Owns its layers' weights (same names as unwrapped), and saves and loads with them.
 */
export class RecomputeBlock extends tfjs.layers.Layer {
  static readonly className = 'MedFusionRecomputeBlock';
  readonly inner: Layer[];
  readonly inbound: number[][];
  readonly residual: boolean;

  constructor(args: RecomputeBlockArgs) {
    super({ name: args.name });
    this.inner = args.layers;
    this.inbound = args.inbound ?? args.layers.map((_, i) => [i - 1]);
    this.residual = args.residual ?? false;
    const where = `RecomputeBlock "${this.name}"`;
    if (this.inner.length === 0) throw new Error(`${where} has no layers`);
    if (this.inbound.length !== this.inner.length) throw new Error(`${where}: ${this.inbound.length} inbound lists for ${this.inner.length} layers`);
    this.inbound.forEach((from, i) => {
      if (from.length === 0 || from.some((j) => !Number.isInteger(j) || j < -1 || j >= i)) {
        throw new Error(`${where}: layer ${i} (${this.inner[i]!.name}) reads [${from.join(', ')}]; each input must be -1 (the block input) or an earlier layer`);
      }
    });
    for (const layer of this.inner) {
      if (UNREPLAYABLE_LAYERS.has(layer.getClassName())) {
        throw new Error(
          `${where} holds ${layer.getClassName()} layer "${layer.name}", which draws new random numbers when the backward pass recomputes the block, so its gradients would be wrong; use SeededDropout or keep the layer outside the block`,
        );
      }
    }
  }

  /**
   * Builds the inner layers by applying them to a symbolic input first (the block's, or one of a
   * concrete input's shape), outside this layer's name scope, so their weights keep the names they
   * have unwrapped (`conv1/kernel`, not `block/kernel`): checkpoints and weightsPath files match
   * either way. Layers that are built already (recomputeBlockOf's) are not applied again.
   */
  override apply(inputs: tfjs.SymbolicTensor | tfjs.SymbolicTensor[] | Tensor | Tensor[], kwargs?: tfjs.serialization.ConfigDict): tfjs.SymbolicTensor | tfjs.SymbolicTensor[] | Tensor | Tensor[] {
    if (!this.built && this.inner.some((l) => !l.built)) {
      const first = Array.isArray(inputs) ? inputs[0]! : inputs;
      const x = first instanceof tfjs.SymbolicTensor ? first : tfjs.input({ batchShape: [null, ...first.shape.slice(1)], dtype: first.dtype });
      this.run(x, (layer, ins) => layer.apply(ins) as tfjs.SymbolicTensor);
    }
    return super.apply(inputs, kwargs);
  }

  /** Runs the graph on `x`: `step` applies one layer to its inputs (one tensor, or a list). */
  private run<T>(x: T, step: (layer: Layer, inputs: T | T[]) => T): T {
    const outputs: T[] = [];
    this.inner.forEach((layer, i) => {
      const ins = this.inbound[i]!.map((j) => (j < 0 ? x : outputs[j]!));
      outputs.push(step(layer, ins.length === 1 ? ins[0]! : ins));
    });
    return outputs[outputs.length - 1]!;
  }

  override build(inputShape: Shapes): void {
    this.run<Shapes>(inputShape, (layer, shapes) => {
      const shape = shapes as Shapes;
      if (!layer.built) {
        layer.build(shape);
        layer.built = true;
      }
      return layer.computeOutputShape(shape);
    });
    this.built = true;
  }

  override computeOutputShape(inputShape: Shapes): Shapes {
    return this.run<Shapes>(inputShape, (layer, shapes) => layer.computeOutputShape(shapes as Shapes));
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
    const graph = (h: Tensor) => {
      const y = this.run<Tensor>(h, (layer, ins) => layer.apply(ins, { training }) as Tensor);
      return this.residual ? tfjs.add(h, y) : y;
    };
    // At inference the block's intermediate tensors go as soon as it is done.
    if (!training) return tfjs.tidy(() => graph(x));
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
    return recomputed(tfjs, graph, x, variables, guard);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      residual: this.residual,
      inbound: this.inbound,
      layers: this.inner.map((l) => ({ className: l.getClassName(), config: l.getConfig() })),
    };
  }

  static override fromConfig<T extends tfjs.serialization.Serializable>(cls: tfjs.serialization.SerializableConstructor<T>, config: tfjs.serialization.ConfigDict): T {
    const registry = tfjs.serialization.SerializationMap.getMap().classNameMap;
    const layers = (config['layers'] as Array<{ className: string; config: tfjs.serialization.ConfigDict }>).map(({ className, config: c }) => {
      const entry = registry[className];
      if (!entry) throw new Error(`MedFusionRecomputeBlock "${String(config['name'])}" holds an unknown layer class "${className}"`);
      return entry[1](entry[0], c) as unknown as Layer;
    });
    // Blocks saved before the graph form were chains (no `inbound`).
    const inbound = config['inbound'] as number[][] | undefined;
    return new cls({ name: config['name'], residual: config['residual'] === true, inbound, layers });
  }
}

tfjs.serialization.registerClass(RecomputeBlock);

/**
 * Moves the layers between `input` and `output`, a block just built on `input` by the usual
 * functional calls, into a RecomputeBlock applied to `input`, and returns its output, to be used
 * instead of `output`. Building the layers there first gives them their own weight names and draws
 * their initial weights in the same order as without the block, so a model with and one without
 * recomputation start from the same weights. The layers' first call stays in TF.js's graph as a
 * node that nothing reads, as RecomputeBlock.apply's is. Throws if the block reads a tensor other
 * than `input` (it could not be recomputed from its input alone), calls a layer twice, or holds a
 * layer with several outputs.
 */
export function recomputeBlockOf(input: tfjs.SymbolicTensor, output: tfjs.SymbolicTensor, name: string): tfjs.SymbolicTensor {
  const layers: Layer[] = [];
  const inbound: number[][] = [];
  const index = new Map<number, number>([[input.id, -1]]);
  const visit = (t: tfjs.SymbolicTensor): number => {
    const known = index.get(t.id);
    if (known !== undefined) return known;
    const layer = t.sourceLayer;
    if (t.inputs.length === 0) throw new Error(`block ${name} reads ${t.name}, which is not its input ${input.name}`);
    if (t.outputTensorIndex !== undefined) throw new Error(`block ${name}: layer ${layer.name} has several outputs, which a RecomputeBlock does not route`);
    if (layers.includes(layer)) throw new Error(`block ${name} calls layer ${layer.name} twice`);
    const from = t.inputs.map(visit);
    layers.push(layer);
    inbound.push(from);
    index.set(t.id, layers.length - 1);
    return layers.length - 1;
  };
  visit(output);
  return new RecomputeBlock({ layers, inbound, name }).apply(input) as tfjs.SymbolicTensor;
}
