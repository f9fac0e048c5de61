import * as tfjs from '@tensorflow/tfjs';
import type { LayerVariable, Tensor, Tensor4D } from '@tensorflow/tfjs';

function first(inputs: Tensor | Tensor[]): Tensor4D {
  return (Array.isArray(inputs) ? inputs[0]! : inputs) as Tensor4D;
}

/**
 * CBAM's spatial attention (Woo et al. 2018): A = sigmoid(conv7x7([mean over channels(F); max over
 * channels(F)])), B x h x w x 1 in (0, 1), from a feature map F (B x h x w x C). The model multiplies
 * F by A before pooling, so A is the map of where the image branch looks; attention supervision
 * compares A with the region mask. A custom layer because TF.js has no channel-wise mean/max layer.
 */
export class CbamSpatialAttention extends tfjs.layers.Layer {
  static readonly className = 'MedFusionCbamSpatialAttention';
  private readonly kernelSize: number;
  private readonly seed: number;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: { kernelSize?: number; seed: number; name?: string }) {
    super({ name: args.name });
    this.kernelSize = args.kernelSize ?? 7;
    this.seed = args.seed;
  }

  override build(): void {
    const k = this.kernelSize;
    this.kernel = this.addWeight('kernel', [k, k, 2, 1], 'float32', tfjs.initializers.glorotUniform({ seed: this.seed }));
    this.bias = this.addWeight('bias', [1], 'float32', tfjs.initializers.zeros());
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = first(inputs);
    return tfjs.tidy(() => {
      const pooled = tfjs.concat([tfjs.mean(x, 3, true), tfjs.max(x, 3, true)], 3) as Tensor4D;
      return tfjs.sigmoid(tfjs.add(tfjs.conv2d(pooled, this.kernel!.read() as Tensor4D, 1, 'same'), this.bias!.read()));
    });
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = shape as tfjs.Shape;
    return [s[0]!, s[1]!, s[2]!, 1];
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), kernelSize: this.kernelSize, seed: this.seed };
  }
}
tfjs.serialization.registerClass(CbamSpatialAttention);

/**
 * Class activation maps (Zhou et al. 2016) of a linear classifier on globally pooled features:
 * M_k(i, j) = F(i, j) . W_k + b_k, B x h x w x K. Global average pooling of M gives exactly the
 * classifier's logits GAP(F) W + b, so M_k shows where the evidence for class k lies; the maps are an
 * output of the model, hence differentiable in both F and W.
 */
export class ClassActivationMap extends tfjs.layers.Layer {
  static readonly className = 'MedFusionClassActivationMap';
  private readonly classes: number;
  private readonly seed: number;
  private kernel?: LayerVariable;
  private bias?: LayerVariable;

  constructor(args: { classes: number; seed: number; name?: string }) {
    super({ name: args.name });
    this.classes = args.classes;
    this.seed = args.seed;
  }

  override build(shape: tfjs.Shape | tfjs.Shape[]): void {
    const C = (shape as tfjs.Shape)[3]!;
    this.kernel = this.addWeight('kernel', [C, this.classes], 'float32', tfjs.initializers.glorotUniform({ seed: this.seed }));
    this.bias = this.addWeight('bias', [this.classes], 'float32', tfjs.initializers.zeros());
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = first(inputs);
    return tfjs.tidy(() => {
      const [B, h, w, C] = x.shape;
      const maps = tfjs.matMul(tfjs.reshape(x, [B * h * w, C]), this.kernel!.read());
      return tfjs.reshape(tfjs.add(maps, this.bias!.read()), [B, h, w, this.classes]);
    });
  }

  override computeOutputShape(shape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
    const s = shape as tfjs.Shape;
    return [s[0]!, s[1]!, s[2]!, this.classes];
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { ...super.getConfig(), classes: this.classes, seed: this.seed };
  }
}
tfjs.serialization.registerClass(ClassActivationMap);
