import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, SymbolicTensor, Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Tf } from './compute-backend.js';
import { SeededDropout } from './seeded-dropout.js';

/**
 * Embedding width of a categorical column with `cardinality` indices (index 0 included): the
 * fastai rule of thumb 1.6 x cardinality^0.56, at most 16 for the small clinical tables we see.
 */
export function embeddingSizeFor(cardinality: number): number {
  return Math.max(1, Math.min(16, Math.ceil(1.6 * cardinality ** 0.56)));
}

interface ColumnEmbeddingsArgs {
  /** Per column, the number of indices (index 0 = missing or unseen, then the vocabulary). */
  cardinalities: number[];
  /** Per column, the embedding width. */
  sizes: number[];
  seed: number;
  name?: string;
}

/**
 * One learned embedding table per categorical column: input B x C category indices, output the
 * C embeddings side by side (B x sum of sizes). TF.js's Embedding layer takes one column; slicing
 * a symbolic input into columns needs a layer of its own anyway. An index outside the table (a
 * model fed by hand) is read as 0, the missing/unseen row.
 */
export class ColumnEmbeddings extends tfjs.layers.Layer {
  static readonly className = 'MedFusionColumnEmbeddings';
  readonly cardinalities: number[];
  readonly sizes: number[];
  readonly seed: number;
  private tables: LayerVariable[] = [];

  constructor(args: ColumnEmbeddingsArgs) {
    super({ name: args.name });
    if (args.cardinalities.length !== args.sizes.length) throw new Error(`${args.cardinalities.length} categorical columns but ${args.sizes.length} embedding sizes`);
    this.cardinalities = args.cardinalities;
    this.sizes = args.sizes;
    this.seed = args.seed;
  }

  override build(): void {
    // Keras's Embedding initialiser: uniform in [-0.05, 0.05], seeded per column.
    this.tables = this.cardinalities.map((card, c) =>
      this.addWeight(`embedding_${c}`, [card, this.sizes[c]!], 'float32', tfjs.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: this.seed + c })),
    );
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as Tensor2D;
    return tfjs.tidy(() => {
      const idx = tfjs.cast(x, 'int32');
      const parts = this.tables.map((table, c) => {
        const col = tfjs.reshape(tfjs.slice(idx, [0, c], [-1, 1]), [-1]);
        const inRange = tfjs.logicalAnd(tfjs.greaterEqual(col, 0), tfjs.less(col, this.cardinalities[c]!));
        return tfjs.gather(table.read(), tfjs.where(inRange, col, tfjs.zerosLike(col)));
      });
      return parts.length === 1 ? parts[0]! : tfjs.concat(parts, 1);
    });
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = (Array.isArray(shape[0]) ? shape[0] : shape) as tfjs.Shape;
    return [s[0]!, this.sizes.reduce((a, b) => a + b, 0)];
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), cardinalities: this.cardinalities, sizes: this.sizes, seed: this.seed };
  }
}

tfjs.serialization.registerClass(ColumnEmbeddings);

export interface ClinicalEncoderInputs {
  tf: Tf;
  cfg: ModelConfig;
  /** Standardised values and their presence mask, side by side (B x 2F). */
  numeric: SymbolicTensor;
  /** Category indices (B x C), when the data set has categorical columns. */
  categorical?: SymbolicTensor;
  /** Per categorical column, vocabulary size + 1 (index 0 = missing or unseen). */
  cardinalities: number[];
  init(): ReturnType<Tf['initializers']['glorotUniform']>;
  nextSeed(): number;
}

/**
 * The clinical branch: [values; mask; embeddings of the categorical columns] -> per width in
 * `clinicalLayers` (default: one block of `clinicalHiddenSize`) dense -> BatchNorm -> ReLU ->
 * dropout (`clinicalDropout`, default `dropout`). The last block's output is the embedding t.
 */
export function buildClinicalEncoder(e: ClinicalEncoderInputs): SymbolicTensor {
  const { tf, cfg } = e;
  let x = e.numeric;
  if (e.categorical && e.cardinalities.length > 0) {
    const sizes = e.cardinalities.map((c) => cfg.categoricalEmbeddingSize ?? embeddingSizeFor(c));
    const embedded = new ColumnEmbeddings({ cardinalities: e.cardinalities, sizes, seed: e.nextSeed(), name: 'clinical_embeddings' }).apply(e.categorical) as SymbolicTensor;
    x = tf.layers.concatenate({ name: 'clinical_concat' }).apply([x, embedded]) as SymbolicTensor;
  }
  const widths = cfg.clinicalLayers ?? [cfg.clinicalHiddenSize];
  const rate = cfg.clinicalDropout ?? cfg.dropout;
  widths.forEach((units, i) => {
    const name = widths.length === 1 ? 'clinical_features' : `clinical_block${i + 1}`;
    // No bias: the BatchNorm's shift that follows plays its part.
    x = tf.layers.dense({ units, useBias: false, kernelInitializer: e.init(), name }).apply(x) as SymbolicTensor;
    // Momentum 0.9, as the fusion heads: moving statistics must settle within a few hundred steps.
    x = tf.layers.batchNormalization({ momentum: 0.9, name: `${name}_bn` }).apply(x) as SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu', name: `${name}_relu` }).apply(x) as SymbolicTensor;
    if (rate > 0) x = new SeededDropout({ rate, seed: e.nextSeed(), name: `${name}_dropout` }).apply(x) as SymbolicTensor;
  });
  return x;
}
