import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, Tensor } from '@tensorflow/tfjs';

/**
 * Adds a learnable position embedding (1 x N x D, truncated normal with stddev 0.02 as in ViT) to a
 * token sequence B x N x D. N comes from the input, so the embedding is sized for the image and
 * patch size the model was built with. TF.js has no such layer; registered for save and load.
 */
export class PositionEmbedding extends tfjs.layers.Layer {
  static readonly className = 'MedFusionPositionEmbedding';
  private readonly seed: number;
  private embedding?: LayerVariable;

  constructor(args: { seed: number; name?: string }) {
    super({ name: args.name });
    this.seed = args.seed;
  }

  override build(shape: tfjs.Shape | tfjs.Shape[]): void {
    const [, n, d] = shape as tfjs.Shape;
    if (typeof n !== 'number' || typeof d !== 'number') throw new Error(`${this.name}: position embedding needs a fixed token count and width, got [${String(shape)}]`);
    this.embedding = this.addWeight('embedding', [1, n, d], 'float32', tfjs.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed }));
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tfjs.tidy(() => tfjs.add(x, this.embedding!.read()));
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    return shape as tfjs.Shape;
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}
tfjs.serialization.registerClass(PositionEmbedding);
