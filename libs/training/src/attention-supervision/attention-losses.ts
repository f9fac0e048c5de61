import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { AttentionSupervisionType } from '@medfusion/contracts';
import type { Tf } from '../compute-backend.js';

/** What attention supervision compares the model's map with, per batch. */
export interface RegionTargets {
  /** B x H x W x 1 region masks in 0..1 at the image size (zeros where a row has none). */
  masks: Tensor4D;
  /** B: 1 where the row has a mask, 0 where it has none (its row adds nothing to the loss). */
  hasMask: Tensor1D;
}

/** Probabilities are kept this far from 0 and 1 inside the logarithms, so BCE stays finite. */
const BCE_EPSILON = 1e-6;
/** Added to a CAM's range, so a flat CAM normalises to 0 instead of 0 / 0. */
const CAM_EPSILON = 1e-6;
/**
 * Weight of the cross-entropy of the CAM head's own prediction (GAP of its maps) in `cam` mode: the
 * reference framework's weight for its auxiliary single-modality heads. Without it the CAM head's
 * weights would only learn to paint masks, and the maps would not be class activation maps.
 */
export const CAM_HEAD_LOSS_WEIGHT = 0.3;

/**
 * Region masks at the map's size h x w: the mean of each cell's pixels (average pooling) when the
 * image size is a multiple of the map size, else bilinear resampling. A target, so not differentiated.
 */
export function resizeMasks(tf: Tf, masks: Tensor4D, h: number, w: number): Tensor4D {
  const [, H, W] = masks.shape;
  if (H === h && W === w) return masks.clone();
  if (H % h === 0 && W % w === 0) return tf.avgPool(masks, [H / h, W / w], [H / h, W / w], 'valid');
  return tf.image.resizeBilinear(masks, [h, w]);
}

/** sum_b hasMask_b x rowLoss_b / max(1, sum_b hasMask_b): the mean over the rows that have a mask. */
function meanOverMaskedRows(tf: Tf, rowLoss: Tensor1D, hasMask: Tensor1D): Scalar {
  return tf.div(tf.sum(tf.mul(rowLoss, hasMask)), tf.maximum(tf.sum(hasMask), 1)) as Scalar;
}

/**
 * `mask`: binary cross-entropy between the spatial attention map A (B x h x w x 1, in (0, 1)) and
 * the region mask resized to h x w, averaged over the pixels of a row, then over the rows that have
 * a mask: -mean(m log A + (1 - m) log(1 - A)).
 */
export function maskAttentionLoss(tf: Tf, attention: Tensor4D, targets: RegionTargets): Scalar {
  return tf.tidy(() => {
    const [, h, w] = attention.shape;
    const m = resizeMasks(tf, targets.masks, h, w);
    const p = tf.clipByValue(attention, BCE_EPSILON, 1 - BCE_EPSILON);
    const bce = tf.neg(tf.add(tf.mul(m, tf.log(p)), tf.mul(tf.sub(1, m), tf.log(tf.sub(1, p)))));
    return meanOverMaskedRows(tf, tf.mean(bce, [1, 2, 3]) as Tensor1D, targets.hasMask);
  });
}

/**
 * The true class's CAM of each row, min-max normalised to 0..1 per row: (M_y - min) / (max - min +
 * epsilon), B x h x w. Min-max rather than ReLU-then-max, so a CAM that is negative everywhere
 * still gets a gradient.
 */
export function normalisedTrueClassCam(tf: Tf, cams: Tensor4D, yOneHot: Tensor2D): Tensor3D {
  return tf.tidy(() => {
    const [B, , , K] = cams.shape;
    const cam = tf.sum(tf.mul(cams, tf.reshape(yOneHot, [B, 1, 1, K])), 3) as Tensor3D;
    const min = tf.min(cam, [1, 2], true);
    const max = tf.max(cam, [1, 2], true);
    return tf.div(tf.sub(cam, min), tf.add(tf.sub(max, min), CAM_EPSILON)) as Tensor3D;
  });
}

/**
 * `cam`: mean squared error between the true class's normalised CAM and the region mask resized to
 * the CAM's size, averaged over pixels, then over the rows that have a mask with some region in it.
 * An all-background mask is left out: a min-max normalised map always spans 0..1, so it cannot
 * match an empty mask, and pushing it to would only teach the head to put a peak anywhere.
 */
export function camAttentionLoss(tf: Tf, cams: Tensor4D, yOneHot: Tensor2D, targets: RegionTargets): Scalar {
  return tf.tidy(() => {
    const [, h, w] = cams.shape;
    const m = tf.squeeze(resizeMasks(tf, targets.masks, h, w), [3]);
    const err = tf.square(tf.sub(normalisedTrueClassCam(tf, cams, yOneHot), m));
    const hasRegion = tf.mul(targets.hasMask, tf.cast(tf.greater(tf.max(m, [1, 2]), 0), 'float32')) as Tensor1D;
    return meanOverMaskedRows(tf, tf.mean(err, [1, 2]) as Tensor1D, hasRegion);
  });
}

/** Cross-entropy of the CAM head's own prediction, whose logits are the spatial mean of its maps. */
export function camHeadCrossEntropy(tf: Tf, cams: Tensor4D, yOneHot: Tensor2D): Scalar {
  return tf.tidy(() => tf.losses.softmaxCrossEntropy(yOneHot, tf.mean(cams, [1, 2])) as Scalar);
}

/**
 * The attention term added to the classification loss: `mask` = weight x BCE(A, mask); `cam` =
 * 0.3 x CE(CAM head) + weight x MSE(normalised CAM, mask). `map` is the model's second training
 * output: the spatial attention map A (`mask`) or the class activation maps (`cam`).
 */
export function attentionSupervisionTerm(tf: Tf, type: AttentionSupervisionType, weight: number, map: Tensor, yOneHot: Tensor2D, targets: RegionTargets): Scalar {
  return tf.tidy(() => {
    if (type === 'mask') return tf.mul(maskAttentionLoss(tf, map as Tensor4D, targets), weight) as Scalar;
    const cams = map as Tensor4D;
    return tf.add(tf.mul(camHeadCrossEntropy(tf, cams, yOneHot), CAM_HEAD_LOSS_WEIGHT), tf.mul(camAttentionLoss(tf, cams, yOneHot, targets), weight)) as Scalar;
  });
}
