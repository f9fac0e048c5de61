import * as tf from '@tensorflow/tfjs';
import type { NamedAttrMap, Tensor } from '@tensorflow/tfjs';

/**
 * TF.js's Tile gradient adds up one slice of dy per repetition (a JS loop of Slice and Add ops:
 * ~35,000 tiny ops per step in vit_tiny, hundreds per batch-norm layer). On onnx-cpu it becomes one
 * reshape and one native sum over the repetition axes: the same values up to summation order.
 * Gradients are registered globally in TF.js, so every other backend keeps the original function.
 */
export function installTileGradient(backendName: string): void {
  const original = tf.getGradient('Tile');
  if (!original || (original as { medfusionFast?: boolean }).medfusionFast) return;
  const config = {
    kernelName: 'Tile',
    inputsToSave: ['x'],
    medfusionFast: true,
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      if (tf.getBackend() !== backendName) return original.gradFunc(dy, saved, attrs);
      const [x] = saved as [Tensor];
      const reps = attrs.reps as number[];
      const g = dy as Tensor;
      return {
        x: () => {
          // dy's axis i is reps[i] blocks of x.shape[i]: split it into [reps[i], x.shape[i]] and sum the block axes.
          const split = x.shape.flatMap((d, i) => [reps[i]!, d]);
          return tf.sum(tf.reshape(g, split), reps.map((_, i) => 2 * i));
        },
      };
    },
  };
  // Replacing a registered gradient makes TF.js print a one-time "Overriding the gradient" warning.
  tf.registerGradient(config);
}
