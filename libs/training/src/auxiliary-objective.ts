import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { ModelConfig } from '@medfusion/contracts';
import type { Split } from '@medfusion/fusion';
import type { Tf } from './compute-backend.js';
import { packSupervisionTargets, supervisedObjective, type ClassificationLossFn } from './attention-supervision/supervised-objective.js';
import { hasAuxiliaryOutput } from './fusion-model.js';
import { multiViewObjective, packViewTargets } from './multiview/view-loss.js';

/** The training loss of a model with a second output, and how a batch's targets are packed for it. */
export interface AuxiliaryObjective {
  objective: (targets: Tensor, outputs: Tensor | Tensor[]) => Tensor;
  pack(tf: Tf, yOneHot: Tensor2D, split: Split, idx: ArrayLike<number>): Tensor;
}

/**
 * For the models buildFusionNetwork gives a second output (hasAuxiliaryOutput): attention
 * supervision (targets [label | has-mask | mask]) or per-view cross-entropy (targets [label | view
 * mask]). Undefined when the classification loss alone trains the model.
 */
export function auxiliaryObjective(tf: Tf, cfg: ModelConfig, classification: ClassificationLossFn): AuxiliaryObjective | undefined {
  if (!hasAuxiliaryOutput(cfg)) return undefined;
  if (cfg.attentionSupervision) {
    return {
      objective: supervisedObjective(tf, classification, cfg.attentionSupervision, cfg.numClasses, cfg.imageSize),
      pack: (t, y, split, idx) => packSupervisionTargets(t, y, split, idx, cfg.imageSize),
    };
  }
  return {
    objective: multiViewObjective(tf, classification, cfg.views.viewLossWeight, cfg.numClasses, cfg.views.count),
    pack: (t, y, split, idx) => packViewTargets(t, y, split, idx, cfg.views.count),
  };
}
