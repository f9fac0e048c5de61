import type { Scalar, Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs';
import type { Split } from '@medfusion/fusion';
import type { Tf } from '../compute-backend.js';

/**
 * Cross-entropy of each present view's own prediction (B x V x K probabilities against the case's
 * one-hot label), averaged over the present views of the batch: sum m_bv CE_bv / max(1, sum m_bv).
 * A missing view adds nothing.
 */
export function perViewCrossEntropy(tf: Tf, viewProbs: Tensor3D, yOneHot: Tensor2D, mask: Tensor2D): Scalar {
  return tf.tidy(() => {
    const [B, , K] = viewProbs.shape;
    const p = tf.sum(tf.mul(tf.clipByValue(viewProbs, 1e-7, 1), tf.reshape(yOneHot, [B, 1, K])), 2);
    return tf.div(tf.sum(tf.mul(tf.neg(tf.log(p)), mask)), tf.maximum(tf.sum(mask), 1)) as Scalar;
  });
}

/**
 * A batch's targets for a model with per-view predictions, in the one target tensor the training
 * step passes to its loss: per row [one-hot label (K) | view mask (V)].
 */
export function packViewTargets(tf: Tf, yOneHot: Tensor2D, split: Split, idx: ArrayLike<number>, views: number): Tensor2D {
  if (!split.viewMask) throw new Error(`the model takes ${views} views per case but the data set was read without dataConfig.viewColumns`);
  const mask = new Float32Array(idx.length * views);
  for (let b = 0; b < idx.length; b++) mask.set(split.viewMask.subarray(idx[b]! * views, (idx[b]! + 1) * views), b * views);
  return tf.tidy(() => tf.concat([tf.cast(yOneHot, 'float32'), tf.tensor2d(mask, [idx.length, views])], 1) as Tensor2D);
}

/**
 * The training loss of a multi-view model whose outputs are [probabilities, per-view probabilities]:
 * classification loss + weight x perViewCrossEntropy (the reference framework's 0.1-weighted
 * cross-entropy per view, which keeps every view informative on its own).
 */
export function multiViewObjective(tf: Tf, classification: (yTrue: Tensor, yPred: Tensor) => Tensor, weight: number, numClasses: number, views: number) {
  return (targets: Tensor, outputs: Tensor | Tensor[]): Scalar =>
    tf.tidy(() => {
      if (!Array.isArray(outputs) || outputs.length !== 2) throw new Error('a multi-view training model has two outputs: probabilities and per-view probabilities');
      const [probs, viewProbs] = outputs as [Tensor2D, Tensor3D];
      const B = targets.shape[0]!;
      const y = tf.slice(targets, [0, 0], [B, numClasses]) as Tensor2D;
      const mask = tf.slice(targets, [0, numClasses], [B, views]) as Tensor2D;
      return tf.add(classification(y, probs), tf.mul(perViewCrossEntropy(tf, viewProbs, y, mask), weight)) as Scalar;
    });
}
