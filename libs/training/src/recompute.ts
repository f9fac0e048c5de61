import type { Tensor, Variable } from '@tensorflow/tfjs';
import type { Tf } from './compute-backend.js';

/** A block written as a pure function of its input and its weights (no layers, no hidden state). */
export type RecomputableBlock = (x: Tensor, ...weights: Tensor[]) => Tensor;

/**
 * Gradient checkpointing for one block: the forward pass keeps only the block's input (its
 * intermediate activations are freed at once), and the backward pass runs the block again to get
 * them back. Peak memory drops to about one block's activations plus the block boundaries, for
 * about one more forward pass of compute. Gradients are those of the plain block (tested equal).
 *
 * The weights must be passed explicitly: tf.customGrad only routes gradients to its inputs, so a
 * weight read from a closure would look unconnected to the loss and get no gradient.
 *
 * TF.js 4.22 does not support a gradient computation inside a gradient function: the inner
 * `tf.grads` replaces the engine's active tape and sets it to null when it ends, and the outer
 * backward pass then fails ("Cannot read properties of null (reading 'forEach')") while disposing
 * its tape. The recomputation therefore saves the outer tape and puts it back. That is engine
 * internals (`engine().state.activeTape`); check it when upgrading TF.js (the spec fails if it breaks).
 */
export function recomputed(tf: Tf, block: RecomputableBlock, x: Tensor, weights: Variable[]): Tensor {
  const run = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as (tensors: Tensor[]) => void;
    const input = args[0] as Tensor;
    save([input]);
    return {
      value: tf.tidy(() => block(input, ...weights)),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const engine = tf.engine() as unknown as { state: { activeTape: unknown } };
        const outerTape = engine.state.activeTape;
        try {
          return tf.grads((...xs: Tensor[]) => block(xs[0]!, ...xs.slice(1)))([saved[0]!, ...weights], dy as Tensor);
        } finally {
          engine.state.activeTape = outerTape;
        }
      },
    };
  });
  return run(x, ...weights);
}
