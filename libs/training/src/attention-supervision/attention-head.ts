import type { SymbolicTensor } from '@tensorflow/tfjs';
import type { Tf } from '../compute-backend.js';
import { CbamSpatialAttention, ClassActivationMap } from './attention-layers.js';
import type { AttentionSupervisionType } from '@medfusion/contracts';

/** Layer names, stable so saved models and `weightsPath` files match. */
export const SPATIAL_ATTENTION_LAYER = 'image_spatial_attention';
export const CLASS_ACTIVATION_MAP_LAYER = 'image_cam';

/**
 * The image-branch part of attention supervision, as a backbone `featureMapHook`:
 * - `mask`: CBAM spatial attention A on the last feature map F, and the backbone pools F x A (so
 *   A decides which places contribute to the image embedding); `map()` is A (B x h x w x 1).
 * - `cam`: a linear CAM head on F (class activation maps M, B x h x w x K), F pooled unchanged;
 *   `map()` is M. The head is trained by its own cross-entropy (see attentionSupervisionTerm).
 */
export function attentionSupervisionHead(tf: Tf, type: AttentionSupervisionType, numClasses: number, nextSeed: () => number) {
  let map: SymbolicTensor | undefined;
  const hook = (featureMap: SymbolicTensor): SymbolicTensor => {
    if (type === 'cam') {
      map = new ClassActivationMap({ classes: numClasses, seed: nextSeed(), name: CLASS_ACTIVATION_MAP_LAYER }).apply(featureMap) as SymbolicTensor;
      return featureMap;
    }
    map = new CbamSpatialAttention({ seed: nextSeed(), name: SPATIAL_ATTENTION_LAYER }).apply(featureMap) as SymbolicTensor;
    return tf.layers.multiply({ name: 'image_attended' }).apply([featureMap, map]) as SymbolicTensor;
  };
  return {
    hook,
    /** The supervised map, once the backbone has been built with `hook`. */
    map(): SymbolicTensor {
      if (!map) throw new Error('attention supervision: the backbone was built without calling its feature-map hook');
      return map;
    },
  };
}
