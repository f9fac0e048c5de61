import type { Tensor } from '@tensorflow/tfjs';
import type { TrainingConfig } from '@medfusion/contracts';
import type { Tf } from './compute-backend.js';

export type LossConfig = TrainingConfig['loss'];

/**
 * Per-class weights for a loss config: the given list, or `balanced` = N / (K * n_k) from the
 * training labels (a class absent from training gets weight 1). Undefined means unweighted.
 */
export function resolveClassWeights(cfg: LossConfig, trainLabels: Int32Array, numClasses: number): number[] | undefined {
  if (!cfg.classWeights) return undefined;
  if (cfg.classWeights !== 'balanced') {
    if (cfg.classWeights.length !== numClasses) {
      throw new Error(`trainingConfig.loss.classWeights has ${cfg.classWeights.length} weights but the model has ${numClasses} classes`);
    }
    return cfg.classWeights;
  }
  const counts = new Array<number>(numClasses).fill(0);
  trainLabels.forEach((y) => counts[y]!++);
  return counts.map((c) => (c ? trainLabels.length / (numClasses * c) : 1));
}

/**
 * Mean over the batch of w[y] * (1 - p_y)^gamma * -log(p_y) on softmax outputs and one-hot
 * targets; gamma 0 (cross-entropy) without weights is plain categorical cross-entropy.
 */
export function classificationLoss(tf: Tf, cfg: LossConfig, classWeights: number[] | undefined): (yTrue: Tensor, yPred: Tensor) => Tensor {
  const gamma = cfg.type === 'focal' ? cfg.gamma : 0;
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const p = tf.sum(tf.mul(yTrue, tf.clipByValue(yPred, 1e-7, 1)), -1);
      let perCase = tf.neg(tf.log(p));
      if (gamma > 0) perCase = tf.mul(perCase, tf.pow(tf.sub(1, p), gamma));
      if (classWeights) perCase = tf.mul(perCase, tf.sum(tf.mul(yTrue, tf.tensor1d(classWeights)), -1));
      return tf.mean(perCase);
    });
}
