import type { SymbolicTensor } from '@tensorflow/tfjs';
import type { ViewAggregation } from '@medfusion/contracts';
import type { Tf } from '../compute-backend.js';
import { FoldViews, LearnedViewWeights, MaskedViewPooling, UnfoldViews, ViewAttentionPooling, ViewCrossAttentionPooling } from './view-layers.js';


/** Input names of a multi-view model (a single-view model keeps its `image` input). */
export const VIEW_IMAGES_INPUT = 'image_views';
export const VIEW_MASK_INPUT = 'view_mask';

export interface MultiViewBranchOptions {
  tf: Tf;
  views: number;
  aggregation: ViewAggregation;
  /** H, W, C of one view. */
  imageShape: [number, number, number];
  /** Builds the per-image embedding (backbone + projection) on a batch of single images. */
  embed(images: SymbolicTensor): SymbolicTensor;
  nextSeed(): number;
}

/**
 * Several images per case through one shared backbone: the B x V views are folded into one batch of
 * B V images, embedded by `embed` (one set of weights for every view), unfolded to B x V x F and
 * aggregated over the present views (view mask B x V) into one B x F image embedding v;
 * `perView` is the B x V x F embeddings before aggregation.
 */
export function buildMultiViewBranch(o: MultiViewBranchOptions): { inputs: [SymbolicTensor, SymbolicTensor]; v: SymbolicTensor; perView: SymbolicTensor } {
  const { tf } = o;
  const images = tf.input({ shape: [o.views, ...o.imageShape], name: VIEW_IMAGES_INPUT });
  const mask = tf.input({ shape: [o.views], name: VIEW_MASK_INPUT });
  const folded = new FoldViews({ name: 'views_fold' }).apply(images) as SymbolicTensor;
  const perView = new UnfoldViews({ views: o.views, name: 'views_unfold' }).apply(o.embed(folded)) as SymbolicTensor;
  const aggregate =
    o.aggregation === 'attention'
      ? new ViewAttentionPooling({ seed: o.nextSeed(), name: 'views_attention' })
      : o.aggregation === 'cross_attention'
        ? new ViewCrossAttentionPooling({ seed: o.nextSeed(), name: 'views_cross_attention' })
        : o.aggregation === 'learned_weight'
          ? new LearnedViewWeights({ name: 'views_learned_weight' })
          : new MaskedViewPooling({ mode: o.aggregation, name: `views_${o.aggregation}` });
  return { inputs: [images, mask], v: aggregate.apply([perView, mask]) as SymbolicTensor, perView };
}
