import type { Optimizer } from '@tensorflow/tfjs';
import type { TrainingConfig } from '@medfusion/contracts';
import type { Tf } from '../compute-backend.js';
import { AdamWOptimizer } from './adamw-optimizer.js';

/** The optimizer a training config names, at the configured learning rate. */
export function createOptimizer(tf: Tf, tc: Pick<TrainingConfig, 'optimizer' | 'learningRate' | 'momentum' | 'nesterov' | 'weightDecay'>): Optimizer {
  switch (tc.optimizer) {
    case 'adam':
      return tf.train.adam(tc.learningRate);
    case 'adamw':
      return new AdamWOptimizer({ learningRate: tc.learningRate, weightDecay: tc.weightDecay });
    case 'sgd':
      return tf.train.momentum(tc.learningRate, tc.momentum, tc.nesterov);
  }
}

/**
 * Changes the rate of a live optimizer. TF.js's optimizers keep it in a field they read on every
 * update and offer no setter; our AdamW keeps it in a public field of the same name.
 */
export function setLearningRate(optimizer: Optimizer, lr: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}
