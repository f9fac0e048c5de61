import * as tf from '@tensorflow/tfjs';
import { overrideGradient } from './gradient-override.js';

/**
 * TF.js's Tile gradient adds up one slice of dy per repetition (a JS loop of Slice and Add ops:
 * ~35,000 tiny ops per step in vit_tiny, hundreds per batch-norm layer). On onnx-cpu it becomes one
 * reshape and one native sum over the repetition axes: the same values up to summation order.
 */
export function installTileGradient(backendName: string): void {
  overrideGradient('Tile', backendName, (dy, [x], attrs) => {
    const reps = attrs.reps as number[];
    return {
      x: () => {
        // dy's axis i is reps[i] blocks of x.shape[i]: split it into [reps[i], x.shape[i]] and sum the block axes.
        const split = x!.shape.flatMap((d, i) => [reps[i]!, d]);
        return tf.sum(tf.reshape(dy, split), reps.map((_, i) => 2 * i));
      },
    };
  });
}

/**
 * TF.js's Mean gradient is div(mul(dy, ones(x.shape)), n): a JS-filled array of ones as large as
 * x, a broadcast multiply and a division over all of it (global average pooling's gradient, in
 * every backbone). On onnx-cpu it divides the small dy and broadcasts the result: the same values
 * bit for bit (dy * 1 is dy, and each element is the same dy / n).
 */
export function installMeanGradient(backendName: string): void {
  overrideGradient('Mean', backendName, (dy, [x], attrs) => {
    if (x!.dtype !== 'float32' || dy.dtype !== 'float32') return undefined;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x!.shape);
    const expanded = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const n = axes.reduce((p, a) => p * x!.shape[a]!, 1);
    return { x: () => tf.broadcastTo(tf.div(tf.reshape(dy, expanded), n), x!.shape) };
  });
}
