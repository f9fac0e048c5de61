import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Split } from '@medfusion/fusion';
import type { Tf } from '../compute-backend.js';
import { attentionSupervisionTerm } from './attention-losses.js';

type Supervision = NonNullable<ModelConfig['attentionSupervision']>;
export type ClassificationLossFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/**
 * A batch's targets for a supervised model, packed into the one target tensor the training step
 * passes to its loss: per row [one-hot label (K) | has-mask (1) | region mask (H W)]. The step knows
 * one target tensor per batch; packing keeps it that way, and `supervisedObjective` unpacks it.
 */
export function packSupervisionTargets(tf: Tf, yOneHot: Tensor2D, split: Split, idx: ArrayLike<number>, imageSize: number): Tensor2D {
  if (!split.regionMasks || !split.hasRegionMask) {
    throw new Error('attention supervision needs region masks: set dataConfig.maskColumn to the column of mask image paths');
  }
  const hw = imageSize * imageSize;
  const packed = new Float32Array(idx.length * (1 + hw));
  for (let b = 0; b < idx.length; b++) {
    const i = idx[b]!;
    packed[b * (1 + hw)] = split.hasRegionMask[i]!;
    packed.set(split.regionMasks.subarray(i * hw, (i + 1) * hw), b * (1 + hw) + 1);
  }
  // tf.oneHot gives int32; the masks are fractions, so the packed tensor is float32 throughout.
  return tf.tidy(() => tf.concat([tf.cast(yOneHot, 'float32'), tf.tensor2d(packed, [idx.length, 1 + hw])], 1) as Tensor2D);
}

/**
 * The training loss of a supervised model, whose outputs are [probabilities, map]: classification
 * loss on the probabilities + the attention term (attentionSupervisionTerm) over the rows that have
 * a mask. `targets` is packSupervisionTargets' tensor.
 */
export function supervisedObjective(tf: Tf, classification: ClassificationLossFn, supervision: Supervision, numClasses: number, imageSize: number) {
  return (targets: Tensor, outputs: Tensor | Tensor[]): Scalar =>
    tf.tidy(() => {
      if (!Array.isArray(outputs) || outputs.length !== 2) throw new Error('a supervised model has two outputs: probabilities and the supervised map');
      const [probs, map] = outputs as [Tensor2D, Tensor];
      const B = targets.shape[0]!;
      const y = tf.slice(targets, [0, 0], [B, numClasses]) as Tensor2D;
      const hasMask = tf.reshape(tf.slice(targets, [0, numClasses], [B, 1]), [B]) as Tensor1D;
      const masks = tf.reshape(tf.slice(targets, [0, numClasses + 1], [B, imageSize * imageSize]), [B, imageSize, imageSize, 1]) as Tensor4D;
      const attention = attentionSupervisionTerm(tf, supervision.type, supervision.weight, map, y, { masks, hasMask });
      return tf.add(classification(y, probs), attention) as Scalar;
    });
}
