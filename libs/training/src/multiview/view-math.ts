import type { Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs';
import type { Tf } from '../compute-backend.js';

/**
 * The masked reductions over views, as plain tensor functions so they can be checked on tiny
 * tensors by hand. `h` is B x V x F view features, `mask` B x V with 1 for a present view and 0 for a
 * missing one. A case with no view at all gets a zero vector: there is nothing to aggregate, and a
 * zero image embedding leaves the prediction to the clinical branch.
 */

/** Score given to missing views before a softmax: exp of it is exactly 0 in float32. */
const MISSING_SCORE = -1e9;

/** sum_v m_v h_v / max(1, sum_v m_v). */
export function maskedMean(tf: Tf, h: Tensor3D, mask: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    const count = tf.maximum(tf.sum(mask, 1, true), 1);
    return tf.div(tf.sum(tf.mul(h, m), 1), count) as Tensor2D;
  });
}

/** max over present views, per feature; 0 where no view is present. */
export function maskedMax(tf: Tf, h: Tensor3D, mask: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    // Missing views are pushed far below any feature value, so they never win the max (and get no gradient).
    const shifted = tf.add(tf.mul(h, m), tf.mul(tf.sub(1, m), MISSING_SCORE));
    const anyPresent = tf.minimum(tf.sum(mask, 1, true), 1);
    return tf.mul(tf.max(shifted, 1), anyPresent) as Tensor2D;
  });
}

/** softmax over the views of each case, restricted to present views (missing ones get weight 0). */
export function maskedSoftmax(tf: Tf, scores: Tensor2D, mask: Tensor2D): Tensor2D {
  return tf.tidy(() => {
    const weights = tf.softmax(tf.add(tf.mul(scores, mask), tf.mul(tf.sub(1, mask), MISSING_SCORE)));
    // With no view present the softmax is uniform over missing views: zero it instead.
    return tf.mul(weights, tf.minimum(tf.sum(mask, 1, true), 1)) as Tensor2D;
  });
}

/** sum_v a_v h_v: B x V weights times B x V x F features -> B x F. */
export function weightedViewSum(tf: Tf, weights: Tensor2D, h: Tensor3D): Tensor2D {
  return tf.tidy(() => tf.sum(tf.mul(h, tf.expandDims(weights, 2)), 1) as Tensor2D);
}

/** Layer normalisation over the last axis with gain and bias (epsilon 1e-5, PyTorch's default). */
export function layerNorm(tf: Tf, x: Tensor, gamma: Tensor, beta: Tensor, epsilon = 1e-5): Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon))), gamma), beta);
  });
}
