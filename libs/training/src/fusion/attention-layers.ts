import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, Tensor, Tensor3D } from '@tensorflow/tfjs';

interface MultiHeadAttentionArgs {
  heads: number;
  units: number;
  seed: number;
  name?: string;
}

/**
 * Multi-head scaled dot-product attention: inputs [queries (B x Nq x D), keysValues (B x Nk x D)],
 * or the queries alone for self-attention; output B x Nq x D. TF.js has no attention layer, so
 * this is a small custom one, registered for save and load.
 */
export class MultiHeadAttention extends tfjs.layers.Layer {
  static readonly className = 'MedFusionMultiHeadAttention';
  private readonly heads: number;
  private readonly units: number;
  private readonly seed: number;
  private w: Record<'q' | 'k' | 'v' | 'o', LayerVariable> | undefined;

  constructor(args: MultiHeadAttentionArgs) {
    super({ name: args.name });
    if (args.units % args.heads !== 0) throw new Error(`attention width ${args.units} is not divisible by ${args.heads} heads`);
    this.heads = args.heads;
    this.units = args.units;
    this.seed = args.seed;
  }

  override build(): void {
    const D = this.units;
    const make = (name: string, i: number) => this.addWeight(name, [D, D], 'float32', tfjs.initializers.glorotUniform({ seed: this.seed + i }));
    this.w = { q: make('query', 0), k: make('key', 1), v: make('value', 2), o: make('output', 3) };
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    // One input is self-attention. (Passing one symbolic tensor twice makes TF.js's graph executor
    // count it as two uses and dispose it before its other consumers run.)
    const list = (Array.isArray(inputs) ? inputs : [inputs]) as Tensor3D[];
    const queries = list[0]!;
    const keysValues = list[1] ?? queries;
    return tfjs.tidy(() => {
      const [B, Nq] = queries.shape;
      const Nk = keysValues.shape[1];
      const dh = this.units / this.heads;
      const split = (x: Tensor3D, w: LayerVariable, n: number) =>
        tfjs.transpose(tfjs.reshape(tfjs.matMul(tfjs.reshape(x, [-1, this.units]), w.read()), [B, n, this.heads, dh]), [0, 2, 1, 3]);
      const q = split(queries, this.w!.q, Nq);
      const k = split(keysValues, this.w!.k, Nk);
      const v = split(keysValues, this.w!.v, Nk);
      const weights = tfjs.softmax(tfjs.div(tfjs.matMul(q, k, false, true), Math.sqrt(dh)));
      const heads = tfjs.reshape(tfjs.transpose(tfjs.matMul(weights, v), [0, 2, 1, 3]), [-1, this.units]);
      return tfjs.reshape(tfjs.matMul(heads, this.w!.o.read()), [B, Nq, this.units]);
    });
  }

  override computeOutputShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return Array.isArray(shapes[0]) ? (shapes as tfjs.Shape[])[0]! : (shapes as tfjs.Shape);
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads, units: this.units, seed: this.seed };
  }
}
tfjs.serialization.registerClass(MultiHeadAttention);

/** Prepends a learnable CLS token to a token sequence: B x N x D -> B x (N + 1) x D. */
export class ClsToken extends tfjs.layers.Layer {
  static readonly className = 'MedFusionClsToken';
  private token?: LayerVariable;

  override build(shape: tfjs.Shape | tfjs.Shape[]): void {
    const D = (shape as tfjs.Shape)[2]!;
    this.token = this.addWeight('cls', [1, 1, D], 'float32', tfjs.initializers.truncatedNormal({ stddev: 0.02, seed: 17 }));
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as Tensor3D;
    return tfjs.tidy(() => tfjs.concat([tfjs.tile(this.token!.read(), [x.shape[0], 1, 1]), x], 1));
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = shape as tfjs.Shape;
    return [s[0]!, s[1] === null ? null : s[1]! + 1, s[2]!];
  }
}
tfjs.serialization.registerClass(ClsToken);

/** Takes token `index` of B x N x D as B x D (TF.js has no 1-D cropping layer). */
export class SelectToken extends tfjs.layers.Layer {
  static readonly className = 'MedFusionSelectToken';
  private readonly index: number;

  constructor(args: { index: number; name?: string }) {
    super({ name: args.name });
    this.index = args.index;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as Tensor3D;
    return tfjs.tidy(() => tfjs.squeeze(tfjs.slice(x, [0, this.index, 0], [-1, 1, -1]), [1]));
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = shape as tfjs.Shape;
    return [s[0]!, s[2]!];
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), index: this.index };
  }
}
tfjs.serialization.registerClass(SelectToken);
