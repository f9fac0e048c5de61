import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs';
import { layerNorm, maskedMax, maskedMean, maskedSoftmax, weightedViewSum } from './view-math.js';

/**
 * Custom layers for multi-view inputs, registered for save and load. TF.js layers cannot move
 * the view axis into the batch axis (its Reshape keeps the batch), nor reduce with a mask, so these
 * are small custom layers.
 */

function first(inputs: Tensor | Tensor[]): Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

/**
 * B x V x H x W x C -> (B V) x H x W x C: every view becomes a row of one batch, so a single
 * backbone (one set of weights) sees all views in one pass.
 */
export class FoldViews extends tfjs.layers.Layer {
  static readonly className = 'MedFusionFoldViews';

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = first(inputs);
    return tfjs.tidy(() => tfjs.reshape(x, [-1, ...x.shape.slice(2)]));
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = shape as tfjs.Shape;
    return [null, ...s.slice(2)];
  }
}
tfjs.serialization.registerClass(FoldViews);

/** (B V) x F -> B x V x F, the inverse of FoldViews on the per-view features. */
export class UnfoldViews extends tfjs.layers.Layer {
  static readonly className = 'MedFusionUnfoldViews';
  private readonly views: number;

  constructor(args: { views: number; name?: string }) {
    super({ name: args.name });
    this.views = args.views;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = first(inputs);
    return tfjs.tidy(() => tfjs.reshape(x, [-1, this.views, ...x.shape.slice(1)]));
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = shape as tfjs.Shape;
    return [null, this.views, ...s.slice(1)];
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), views: this.views };
  }
}
tfjs.serialization.registerClass(UnfoldViews);

function viewsAndMask(inputs: Tensor | Tensor[]): [Tensor3D, Tensor2D] {
  if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('a view aggregation layer takes [view features (B x V x F), view mask (B x V)]');
  return [inputs[0] as Tensor3D, inputs[1] as Tensor2D];
}

function featureShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
  const s = (shapes as tfjs.Shape[])[0]!;
  return [s[0]!, s[2]!];
}

/** `mean` or `max` over the present views (the mask excludes missing ones); no weights. */
export class MaskedViewPooling extends tfjs.layers.Layer {
  static readonly className = 'MedFusionMaskedViewPooling';
  readonly mode: 'mean' | 'max';

  constructor(args: { mode: 'mean' | 'max'; name?: string }) {
    super({ name: args.name });
    this.mode = args.mode;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const [h, mask] = viewsAndMask(inputs);
    return this.mode === 'mean' ? maskedMean(tfjs, h, mask) : maskedMax(tfjs, h, mask);
  }

  override computeOutputShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return featureShape(shapes);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }
}
tfjs.serialization.registerClass(MaskedViewPooling);

/** `learned_weight`: one learnable score per view position, softmax renormalised over the present views. */
export class LearnedViewWeights extends tfjs.layers.Layer {
  static readonly className = 'MedFusionLearnedViewWeights';
  private scores?: LayerVariable;

  override build(shapes: tfjs.Shape | tfjs.Shape[]): void {
    const V = (shapes as tfjs.Shape[])[0]![1]!;
    // Zeros: every view starts with the same weight, i.e. the masked mean.
    this.scores = this.addWeight('view_scores', [V], 'float32', tfjs.initializers.zeros());
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const [h, mask] = viewsAndMask(inputs);
    return tfjs.tidy(() => {
      const scores = tfjs.mul(tfjs.onesLike(mask), this.scores!.read()) as Tensor2D;
      return weightedViewSum(tfjs, maskedSoftmax(tfjs, scores, mask), h);
    });
  }

  override computeOutputShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return featureShape(shapes);
  }
}
tfjs.serialization.registerClass(LearnedViewWeights);

/**
 * `attention`: a learned query q attends over the view features, keys k_v = W_k h_v and values
 * u_v = W_u h_v; weights a = softmax over present views of (k_v . q) / sqrt(F); out =
 * LayerNorm(sum_v a_v u_v). Missing views get weight exactly 0.
 */
export class ViewAttentionPooling extends tfjs.layers.Layer {
  static readonly className = 'MedFusionViewAttentionPooling';
  private readonly seed: number;
  private w?: { query: LayerVariable; key: LayerVariable; value: LayerVariable; gamma: LayerVariable; beta: LayerVariable };

  constructor(args: { seed: number; name?: string }) {
    super({ name: args.name });
    this.seed = args.seed;
  }

  override build(shapes: tfjs.Shape | tfjs.Shape[]): void {
    const F = (shapes as tfjs.Shape[])[0]![2]!;
    const glorot = (i: number) => tfjs.initializers.glorotUniform({ seed: this.seed + i });
    this.w = {
      query: this.addWeight('query', [F, 1], 'float32', glorot(0)),
      key: this.addWeight('key', [F, F], 'float32', glorot(1)),
      value: this.addWeight('value', [F, F], 'float32', glorot(2)),
      gamma: this.addWeight('gamma', [F], 'float32', tfjs.initializers.ones()),
      beta: this.addWeight('beta', [F], 'float32', tfjs.initializers.zeros()),
    };
    this.built = true;
  }

  /** The attention weights a (B x V) for given features and mask: exposed for inspection and tests. */
  viewWeights(h: Tensor3D, mask: Tensor2D): Tensor2D {
    return tfjs.tidy(() => {
      const [B, V, F] = h.shape;
      const keys = tfjs.matMul(tfjs.reshape(h, [B * V, F]), this.w!.key.read());
      const scores = tfjs.div(tfjs.reshape(tfjs.matMul(keys, this.w!.query.read()), [B, V]), Math.sqrt(F)) as Tensor2D;
      return maskedSoftmax(tfjs, scores, mask);
    });
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const [h, mask] = viewsAndMask(inputs);
    return tfjs.tidy(() => {
      const [B, V, F] = h.shape;
      const values = tfjs.reshape(tfjs.matMul(tfjs.reshape(h, [B * V, F]), this.w!.value.read()), [B, V, F]) as Tensor3D;
      return layerNorm(tfjs, weightedViewSum(tfjs, this.viewWeights(h, mask), values), this.w!.gamma.read(), this.w!.beta.read());
    });
  }

  override computeOutputShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return featureShape(shapes);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tfjs.serialization.registerClass(ViewAttentionPooling);

/**
 * `cross_attention`: a learnable CLS token attends over [CLS, h_1..h_V] with multi-head attention
 * (heads = 4, 2 or 1, the most that divide F; missing views masked out of the keys, the CLS token
 * always present), then residual + LayerNorm; the CLS token's result is v. Only the CLS row is
 * computed: it is the only output, and it depends on no other query.
 */
export class ViewCrossAttentionPooling extends tfjs.layers.Layer {
  static readonly className = 'MedFusionViewCrossAttentionPooling';
  private readonly seed: number;
  private w?: Record<'cls' | 'query' | 'key' | 'value' | 'output' | 'gamma' | 'beta', LayerVariable>;

  constructor(args: { seed: number; name?: string }) {
    super({ name: args.name });
    this.seed = args.seed;
  }

  override build(shapes: tfjs.Shape | tfjs.Shape[]): void {
    const F = (shapes as tfjs.Shape[])[0]![2]!;
    const glorot = (i: number) => tfjs.initializers.glorotUniform({ seed: this.seed + i });
    this.w = {
      cls: this.addWeight('cls', [1, F], 'float32', tfjs.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed })),
      query: this.addWeight('query', [F, F], 'float32', glorot(1)),
      key: this.addWeight('key', [F, F], 'float32', glorot(2)),
      value: this.addWeight('value', [F, F], 'float32', glorot(3)),
      output: this.addWeight('output', [F, F], 'float32', glorot(4)),
      gamma: this.addWeight('gamma', [F], 'float32', tfjs.initializers.ones()),
      beta: this.addWeight('beta', [F], 'float32', tfjs.initializers.zeros()),
    };
    this.built = true;
  }

  /** Attention weights of the CLS query over [CLS, views], B x heads x (V + 1); exposed for tests. */
  viewWeights(h: Tensor3D, mask: Tensor2D): Tensor {
    return tfjs.tidy(() => this.attend(h, mask).weights);
  }

  private attend(h: Tensor3D, mask: Tensor2D): { weights: Tensor; values: Tensor; heads: number } {
    const w = this.w!;
    const [B, V, F] = h.shape;
    const heads = [4, 2, 1].find((n) => F % n === 0)!;
    const dh = F / heads;
    const tokens = tfjs.concat([tfjs.tile(tfjs.reshape(w.cls.read(), [1, 1, F]), [B, 1, 1]), h], 1);
    const split = (x: Tensor, n: number) => tfjs.transpose(tfjs.reshape(x, [B, n, heads, dh]), [0, 2, 1, 3]);
    const flat = tfjs.reshape(tokens, [B * (V + 1), F]);
    const q = tfjs.reshape(tfjs.matMul(w.cls.read(), w.query.read()), [1, heads, 1, dh]);
    const k = split(tfjs.matMul(flat, w.key.read()), V + 1);
    const v = split(tfjs.matMul(flat, w.value.read()), V + 1);
    const scores = tfjs.reshape(tfjs.div(tfjs.matMul(tfjs.tile(q, [B, 1, 1, 1]), k, false, true), Math.sqrt(dh)), [B * heads, V + 1]) as Tensor2D;
    const keyMask = tfjs.reshape(tfjs.tile(tfjs.expandDims(tfjs.concat([tfjs.onesLike(tfjs.slice(mask, [0, 0], [-1, 1])), mask], 1), 1), [1, heads, 1]), [B * heads, V + 1]) as Tensor2D;
    const weights = tfjs.reshape(maskedSoftmax(tfjs, scores, keyMask), [B, heads, V + 1]);
    return { weights, values: v, heads };
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const [h, mask] = viewsAndMask(inputs);
    return tfjs.tidy(() => {
      const w = this.w!;
      const [B, , F] = h.shape;
      const { weights, values } = this.attend(h, mask);
      const attended = tfjs.reshape(tfjs.matMul(tfjs.expandDims(weights, 2), values), [B, F]);
      const cls = tfjs.add(tfjs.matMul(attended, w.output.read()), w.cls.read());
      return layerNorm(tfjs, cls, w.gamma.read(), w.beta.read());
    });
  }

  override computeOutputShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return featureShape(shapes);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tfjs.serialization.registerClass(ViewCrossAttentionPooling);
