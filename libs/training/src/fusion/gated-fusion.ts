import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { dense, type FusionStrategy } from './fusion-context.js';

/**
 * out = sigmoid(a_v) * z * h_v + sigmoid(a_t) * (1 - z) * h_t, with learnable scalars a_v, a_t
 * (initially 0.3 and 0.7). Inputs: [z, h_v, h_t].
 */
export class GatedCombine extends tfjs.layers.Layer {
  static readonly className = 'MedFusionGatedCombine';
  private av?: LayerVariable;
  private at?: LayerVariable;

  override build(): void {
    this.av = this.addWeight('a_v', [], 'float32', tfjs.initializers.constant({ value: 0.3 }));
    this.at = this.addWeight('a_t', [], 'float32', tfjs.initializers.constant({ value: 0.7 }));
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const [z, hv, ht] = inputs as Tensor[];
    return tfjs.tidy(() => {
      const image = tfjs.sigmoid(this.av!.read()).mul(z!).mul(hv!);
      const clinical = tfjs.sigmoid(this.at!.read()).mul(tfjs.sub(1, z!)).mul(ht!);
      return image.add(clinical);
    });
  }

  override computeOutputShape(shapes: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return (shapes as tfjs.Shape[])[1]!;
  }
}
tfjs.serialization.registerClass(GatedCombine);

/**
 * `gated`: h_v = tanh(W_v v), h_t = tanh(W_t t), z = sigmoid(W_g [v; t]) per feature; the gate
 * decides, case by case, how much each modality contributes.
 */
export const gatedFusion: FusionStrategy = (ctx) => {
  const D = ctx.cfg.fusedSize;
  const hv = dense(ctx, D, 'fusion_image_proj', 'tanh').apply(ctx.v) as SymbolicTensor;
  const ht = dense(ctx, D, 'fusion_clinical_proj', 'tanh').apply(ctx.t) as SymbolicTensor;
  const joined = ctx.tf.layers.concatenate({ name: 'fusion_gate_input' }).apply([ctx.v, ctx.t]) as SymbolicTensor;
  const z = dense(ctx, D, 'fusion_gate', 'sigmoid').apply(joined) as SymbolicTensor;
  const out = new GatedCombine({ name: 'fusion_gated' }).apply([z, hv, ht]) as SymbolicTensor;
  return { kind: 'fused', output: out };
};
