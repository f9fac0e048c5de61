import type { FusionType } from '@medfusion/contracts';
import { attentionFusion, crossAttentionFusion } from './attention-fusion.js';
import { bilinearFusion } from './bilinear-fusion.js';
import { concatenateFusion } from './concatenate-fusion.js';
import type { FusionStrategy } from './fusion-context.js';
import { gatedFusion } from './gated-fusion.js';
import { clinicalOnly, imageOnly, lateFusion } from './late-fusion.js';

export type { FusionContext, FusionResult, FusionStrategy } from './fusion-context.js';
export { ClsToken, MultiHeadAttention, SelectToken } from './attention-layers.js';
export { GatedCombine } from './gated-fusion.js';

/** One entry per fusion type the contract accepts: a type without a strategy does not compile. */
export const FUSION_STRATEGIES: Record<FusionType, FusionStrategy> = {
  concatenate: concatenateFusion,
  gated: gatedFusion,
  attention: attentionFusion,
  cross_attention: crossAttentionFusion,
  bilinear: bilinearFusion,
  late: lateFusion,
  image_only: imageOnly,
  clinical_only: clinicalOnly,
};
